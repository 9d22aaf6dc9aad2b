"""Score 5.x's client settings read as its Java client reads them (issue 22): ``.properties`` files, Spring's
relaxed names, its built-in profiles, and a warning for every setting we do not support."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from score.domain.errors import ConfigError
from score.sdk import score5_settings as score5


def test_properties_syntax_as_java_reads_it() -> None:
    text = (
        "# comment\n! also a comment\n\n"
        "storage.url=https://score.example\n"
        "metadata.url : https://song.example\n"
        "accessToken   abc\n"
        "client.uploadStateDir = /scratch/state \\\n"
        "    dir\n"
        "key\\=with\\:escapes = tab\\there \\u0041\n"
        "empty=\n"
    )
    props = score5.parse_properties(text)
    assert props == {
        "storage.url": "https://score.example",
        "metadata.url": "https://song.example",
        "accessToken": "abc",
        "client.uploadStateDir": "/scratch/state dir",
        "key=with:escapes": "tab\there A",
        "empty": "",
    }


@pytest.mark.parametrize(
    "key", ["client.uploadStateDir", "client.upload-state-dir", "client.upload_state_dir", "CLIENT.UPLOADSTATEDIR"]
)
def test_relaxed_names(key: str) -> None:
    values, warnings = score5.translate({key: "/d"}, "f")
    assert values == {"upload_state_dir": "/d"} and warnings == []


def test_translation_of_supported_keys() -> None:
    values, warnings = score5.translate(
        {
            "storage.url": "https://s",
            "metadata.url": "https://m",
            "accessToken": "t",
            "transport.parallel": "6",
            "transport.memory": "2",
            "client.connectTimeoutSeconds": "10",
            "client.readTimeoutSeconds": "90",
            "client.quiet": "true",
            "portal.url": "https://portal",
        },
        "f",
    )
    assert warnings == []
    assert values == {
        "server_url": "https://s",
        "metadata_url": "https://m",
        "access_token": "t",
        "parallel": "6",
        "memory_gib": "2",
        "timeout_seconds": 90.0,  # one timeout here: the longer of Score's two
        "quiet": "true",
        "portal_url": "https://portal",
    }


def test_unsupported_keys_are_named_with_a_replacement_and_never_their_value() -> None:
    _, warnings = score5.translate(
        {
            "client.ssl.custom": "true",
            "client.ssl.trustStorePassword": "hunter2",
            "transport.fileFrom": "remote",
            "logging.level.root": "DEBUG",
            "no.such.key": "1",
        },
        "conf/application.properties",
    )
    text = "\n".join(warnings)
    assert len(warnings) == 5
    assert "hunter2" not in text
    assert "client.ssl.custom (conf/application.properties) is not supported" in text and "--ca-bundle" in text
    assert "transport.fileFrom" in text and "logging.level.root" in text and "not a setting of Score's client" in text


def test_values_that_mean_what_we_do_are_not_warned() -> None:
    props = {"client.ssl.custom": "false", "metadata.ssl.enabled": "true", "transport.fileFrom": "memory"}
    assert score5.translate(props, "f") == ({}, [])


def test_environment_warnings() -> None:
    env = {
        "CLIENT_SSL_TRUSTSTOREPASSWORD": "hunter2",
        "TRANSPORT_FILEFROM": "memory",  # what we do: no warning
        "STORAGE_RETRYNUMBER": "3",
        "SPRING_PROFILES_ACTIVE": "collab",
        "QUIET": "true",  # too generic a name to be taken for Score's
    }
    warnings = score5.environment_warnings(env)
    text = "\n".join(warnings)
    assert len(warnings) == 3 and "hunter2" not in text
    assert "CLIENT_SSL_TRUSTSTOREPASSWORD (environment)" in text and "STORAGE_RETRYNUMBER" in text
    assert "SPRING_PROFILES_ACTIVE" in text and "STORAGE_PROFILE" in text


def test_spring_profiles() -> None:
    assert score5.spring_profile("collab") == {
        "server_url": "https://storage.cancercollaboratory.org",
        "metadata_url": "https://song.cancercollaboratory.org",
    }
    assert score5.spring_profile("default") == {}
    assert score5.spring_profile("mine") is None
    with pytest.raises(ConfigError, match="Kids First"):
        score5.spring_profile("kf")


def test_properties_file_from_the_environment_and_its_profile_file(tmp_path: Path) -> None:
    base = tmp_path / "application.properties"
    base.write_text("storage.url=https://base\ntransport.parallel=3\n")
    (tmp_path / "application-site.properties").write_text("storage.url=https://site\n")
    (tmp_path / "application.yml").write_text("storage:\n  url: x\n")
    got = score5.read_score_files("site", {score5.ENV_PROPERTIES: str(base)})
    assert got.values == {"server_url": "https://site", "parallel": "3"} and got.profile_read
    assert any("application.yml is not read (YAML)" in w for w in got.warnings)
    with pytest.raises(ConfigError, match="no such file"):
        score5.read_score_files(None, {score5.ENV_PROPERTIES: str(tmp_path / "nope")})


def test_conf_in_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert score5.read_score_files(None, {}).read == []
    conf = tmp_path / "conf"
    conf.mkdir()
    props = conf / "application.properties"
    props.write_text("storage.url=https://cwd\n")
    props.chmod(0o644)
    got = score5.read_score_files(None, {})
    assert got.values == {"server_url": "https://cwd"}
    assert any(w.startswith("note: reading Score's settings from") for w in got.warnings)
    if os.name == "posix":
        props.chmod(0o664)  # others may write it: it could send the token elsewhere
        got = score5.read_score_files(None, {})
        assert got.values == {} and any("others may write to it" in w for w in got.warnings)
