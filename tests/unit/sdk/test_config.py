"""Client settings with Score 5.x's ways in (issue 22): its profiles, ``application.properties``, its environment
names and units; precedence: Score's profile < Score's properties < TOML < TOML profile < environment < flags."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from score.domain.errors import ConfigError
from score.sdk.config import GIB, MIB, load_client_settings
from score.sdk.score5_settings import ENV_PROPERTIES

COLLAB = "https://storage.cancercollaboratory.org"


def _load(**kwargs: Any) -> Any:
    args: dict[str, Any] = {"config": None, "server_url": None, "parallel": None, "memory_mib": None} | kwargs
    return load_client_settings(**args)


@pytest.fixture
def props(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "conf" / "application.properties"
    path.parent.mkdir()
    monkeypatch.setenv(ENV_PROPERTIES, str(path))
    return path


def test_scores_profile_collab_sets_collaboratorys_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    """``score-client --profile collab`` reaches Collaboratory's Score and Song, as Score's collab profile does."""
    s = _load(profile="collab")
    assert (s.server_url, s.metadata_url, s.profile) == (COLLAB, "https://song.cancercollaboratory.org", "collab")
    monkeypatch.setenv("STORAGE_PROFILE", "aws")
    assert _load().server_url == "https://virginia.cloud.icgc.org"
    monkeypatch.setenv("SCORE_PROFILE", "azure")  # ours first: STORAGE_PROFILE=default is often exported
    assert _load().server_url == "https://score.azure.icgc.overture.bio"
    monkeypatch.delenv("SCORE_PROFILE")
    monkeypatch.setenv("STORAGE_PROFILE", "default")  # what Score's launcher passes: no URLs of its own
    assert _load().server_url == "http://127.0.0.1:5431"


def test_unknown_and_refused_profiles() -> None:
    with pytest.raises(ConfigError, match="no profile 'nope'.*Score's profiles: default, collab"):
        _load(profile="nope")
    with pytest.raises(ConfigError, match="Kids First"):
        _load(profile="kf")


def test_debug_profile_is_accepted_with_a_warning() -> None:
    s = _load(profile="debug")
    assert any("'debug' profile" in w for w in s.warnings)


def test_precedence_of_every_layer(tmp_path: Path, props: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "client.toml"
    props.write_text("storage.url=https://props\nmetadata.url=https://props-song\naccessToken=ptok\n")
    assert _load(profile="collab").server_url == "https://props"  # Score's conf file beats its packaged profile
    assert _load(profile="collab").metadata_url == "https://props-song"
    assert _load().token == "ptok"
    toml.write_text('server_url = "https://toml"\n[profiles.collab]\nserver_url = "https://toml-collab"\n')
    assert _load(config=toml).server_url == "https://toml"
    assert _load(config=toml, profile="collab").server_url == "https://toml-collab"
    monkeypatch.setenv("STORAGE_URL", "https://env")
    assert _load(config=toml, profile="collab").server_url == "https://env"
    assert _load(config=toml, profile="collab", server_url="https://flag").server_url == "https://flag"


def test_profile_properties_file_makes_a_profile(props: Path) -> None:
    props.write_text("storage.url=https://base\n")
    (props.parent / "application-site.properties").write_text("storage.url=https://site\n")
    assert _load(profile="site").server_url == "https://site"
    assert _load().server_url == "https://base"


def test_transport_memory_is_in_gigabytes_as_score_reads_it(
    tmp_path: Path, props: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Score multiplies transport.memory by 1024^3: TRANSPORT_MEMORY=1 is 1 GiB (it was 1 MiB here)."""
    props.write_text("transport.memory=2\n")
    assert _load().memory_bytes == 2 * GIB
    toml = tmp_path / "client.toml"
    toml.write_text("memory_mib = 64\n")
    assert _load(config=toml).memory_bytes == 64 * MIB  # the TOML file beats the properties, in its own unit
    monkeypatch.setenv("SCORE_MEMORY", "32")
    assert _load(config=toml).memory_bytes == 32 * MIB
    monkeypatch.setenv("TRANSPORT_MEMORY", "1")
    assert _load(config=toml).memory_bytes == GIB
    assert _load(config=toml, memory_mib=16).memory_bytes == 16 * MIB
    monkeypatch.setenv("TRANSPORT_MEMORY", "lots")
    with pytest.raises(ConfigError, match="invalid number"):
        _load()


def test_upload_state_dir_token_quiet_and_timeouts(props: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    props.write_text(
        "client.uploadStateDir=/scratch/state\nclient.accessToken=secret-tok\nclient.quiet=true\n"
        "client.readTimeoutSeconds=120\nportal.url=https://portal.example\n"
    )
    s = _load()
    assert s.upload_state_dir == Path("/scratch/state") and s.token == "secret-tok" and s.quiet and not s.silent
    assert s.timeout_seconds == 120.0 and s.portal_url == "https://portal.example"
    assert "secret-tok" not in repr(s)
    monkeypatch.setenv("CLIENT_UPLOADSTATEDIR", "/other")
    monkeypatch.setenv("CLIENT_ACCESSTOKEN", "env-tok")
    monkeypatch.setenv("CLIENT_SILENT", "true")
    s = _load()
    assert (s.upload_state_dir, s.token, s.silent) == (Path("/other"), "env-tok", True)
    monkeypatch.setenv("ACCESSTOKEN", "first")  # Score's own alias comes first
    assert _load().token == "first"


def test_unsupported_score_settings_become_warnings(props: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    props.write_text("transport.fileFrom=remote\nclient.ssl.custom=true\n")
    monkeypatch.setenv("STORAGE_RETRYNUMBER", "3")
    warnings = _load().warnings
    assert len(warnings) == 3
    assert all(w.startswith("warning: Score setting ") for w in warnings)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://[::1", "is not a valid URL (Invalid IPv6 URL)"),
        ("http://127.0.0.1:99999", "is not a valid URL (Port out of range 0-65535)"),
        ("http://127.0.0.1:port", "is not a valid URL"),
        ("http://", "has no host"),
        ("https://:8443", "has no host"),
        ("ftp://score.example.org", "must start with http:// or https://"),
    ],
)
def test_a_malformed_server_url_is_a_config_error(url: str, message: str) -> None:
    """New-user trial: ``--server-url 'http://[::1'`` ended in an httpx traceback (InvalidURL), and port 99999
    was "connection refused"."""
    with pytest.raises(ConfigError, match=re.escape(f"server URL {url!r} {message}")):
        load_client_settings(config=None, server_url=url, parallel=None, memory_mib=None)
    assert (
        load_client_settings(config=None, server_url="http://[::1]:5431", parallel=None, memory_mib=None).server_url
        == "http://[::1]:5431"
    )
