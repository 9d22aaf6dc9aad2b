"""Settings: defaults < TOML file < environment < flags, with clear errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from score.config.settings import load_server_settings
from score.domain.errors import ConfigError
from score.sdk.config import DEFAULT_SERVER_URL, load_client_settings


def test_server_defaults_are_scores() -> None:
    s = load_server_settings()
    assert (s.host, s.port, s.data_dir) == ("127.0.0.1", 5431, Path("score-data"))
    assert s.upload_url_ttl == timedelta(minutes=15)
    assert s.storage.min_part_size_bytes == 20 * 1024 * 1024
    assert s.auth.embedded
    assert s.base_url == "http://127.0.0.1:5431"


def test_server_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "score.toml"
    cfg.write_text('port = 7000\nlog_level = "debug"\ndownload_url_ttl = 60\n[storage]\nmax_parts = 50\n')
    s = load_server_settings(cfg)
    assert (s.port, s.log_level, s.storage.max_parts) == (7000, "DEBUG", 50)
    assert s.download_url_ttl == timedelta(seconds=60)
    monkeypatch.setenv("SCORE_PORT", "7001")
    monkeypatch.setenv("SCORE_STORAGE__MAX_PARTS", "60")
    s = load_server_settings(cfg)
    assert (s.port, s.storage.max_parts) == (7001, 60)
    s = load_server_settings(cfg, port=7002, host=None)
    assert (s.port, s.host) == (7002, "127.0.0.1")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("port = 70000", "port"),
        ('log_level = "loud"', "log_level"),
        ("upload_url_ttl = 0", "lifetimes"),
        ("unknown_option = 1", "unknown_option"),
        ("port = ", "not valid TOML"),
        ('[auth]\njwks_url = "http://x"\npublic_key_file = "/k.pem"', "at most one"),
    ],
)
def test_server_bad_config_is_a_config_error(tmp_path: Path, content: str, match: str) -> None:
    cfg = tmp_path / "score.toml"
    cfg.write_text(content)
    with pytest.raises(ConfigError, match=match):
        load_server_settings(cfg)


def test_server_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_server_settings(tmp_path / "nope.toml")


def test_client_uses_scores_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_client_settings(config=None, server_url=None, parallel=None, memory_mib=None)
    assert (s.server_url, s.token) == (DEFAULT_SERVER_URL, None)
    monkeypatch.setenv("ACCESSTOKEN", "tok-secret-value")
    monkeypatch.setenv("STORAGE_URL", "http://127.0.0.1:1234")
    monkeypatch.setenv("TRANSPORT_PARALLEL", "9")
    s = load_client_settings(config=None, server_url=None, parallel=None, memory_mib=None)
    assert (s.server_url, s.token, s.parallel) == ("http://127.0.0.1:1234", "tok-secret-value", 9)
    assert "tok-secret-value" not in repr(s)
    s = load_client_settings(config=None, server_url="https://flag", parallel=2, memory_mib=None)
    assert (s.server_url, s.parallel) == ("https://flag", 2)


def test_client_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "client.toml"
    cfg.write_text('server_url = "http://file:1"\naccess_token = "t"\nparallel = 3\nmemory_mib = 64\n')
    s = load_client_settings(config=cfg, server_url=None, parallel=None, memory_mib=None)
    assert (s.server_url, s.token, s.parallel, s.memory_bytes) == ("http://file:1", "t", 3, 64 * 1024 * 1024)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"server_url": "ftp://x"}, "http"),
        ({"parallel": 65}, "between 1 and 64"),
    ],
)
def test_client_bad_values(kwargs: dict, match: str) -> None:
    args = {"config": None, "server_url": None, "parallel": None, "memory_mib": None} | kwargs
    with pytest.raises(ConfigError, match=match):
        load_client_settings(**args)


def test_client_explicit_missing_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_client_settings(config=tmp_path / "nope.toml", server_url=None, parallel=None, memory_mib=None)


def test_study_scope_names_are_configurable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from score.domain.access import authorize_download
    from score.domain.errors import ForbiddenError
    from score.domain.model import Access, ObjectRecord, Principal
    from score.server.app import build_components

    monkeypatch.setenv("SCORE_AUTH__STUDY_PREFIX", "STUDY.")
    monkeypatch.setenv("SCORE_AUTH__STUDY_READ_SUFFIX", ".download")
    policy = build_components(load_server_settings(data_dir=tmp_path)).ctx.policy
    record = ObjectRecord("o", "ABC", Access.CONTROLLED)
    authorize_download(Principal("u", frozenset({"STUDY.ABC.download"})), record, policy)
    with pytest.raises(ForbiddenError):
        authorize_download(Principal("u", frozenset({"PROGRAMDATA-ABC.READ"})), record, policy)


def test_client_profiles_memory_env_and_unknown_profile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "client.toml"
    cfg.write_text('server_url = "http://a:1"\nparallel = 3\n[profiles.collab]\nserver_url = "https://collab:443"\n')
    base = load_client_settings(config=cfg, server_url=None, parallel=None, memory_mib=None)
    assert (base.server_url, base.parallel, base.profile) == ("http://a:1", 3, None)
    collab = load_client_settings(config=cfg, server_url=None, parallel=None, memory_mib=None, profile="collab")
    assert (collab.server_url, collab.parallel, collab.profile) == ("https://collab:443", 3, "collab")
    monkeypatch.setenv("SCORE_PROFILE", "collab")
    monkeypatch.setenv("TRANSPORT_MEMORY", "2")  # GiB, as Score reads it (issue 22)
    env = load_client_settings(config=cfg, server_url=None, parallel=None, memory_mib=None)
    assert env.server_url == "https://collab:443" and env.memory_bytes == 2 * 1024**3
    with pytest.raises(ConfigError, match="no profile 'nope'.*collab"):
        load_client_settings(config=cfg, server_url=None, parallel=None, memory_mib=None, profile="nope")


def test_max_header_bytes_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_server_settings(None).max_header_bytes == 64 * 1024
    monkeypatch.setenv("SCORE_MAX_HEADER_BYTES", "16384")
    assert load_server_settings(None).max_header_bytes == 16384
    for bad in ("100", str(64 * 1024 * 1024)):
        monkeypatch.setenv("SCORE_MAX_HEADER_BYTES", bad)
        with pytest.raises(ConfigError, match="max_header_bytes"):
            load_server_settings(None)
