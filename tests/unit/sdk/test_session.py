"""The client's session: TLS trust is loaded only when an HTTPS peer needs it, and a bad CA bundle says so."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from score.domain import errors as e
from score.domain.ranges import ByteRange
from score.sdk.config import load_client_settings
from score.sdk.session import Session


def _session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server_url: str, bundle: bytes) -> Session:
    for name in ("ACCESSTOKEN", "STORAGE_URL", "METADATA_URL", "SCORE_CA_BUNDLE", "SCORE_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "client.toml").write_text("")
    ca = tmp_path / "ca.pem"
    ca.write_bytes(bundle)
    settings = load_client_settings(
        config=tmp_path / "client.toml",
        server_url=server_url,
        parallel=None,
        memory_mib=None,
        metadata_url=server_url,
        ca_bundle=ca,
    )
    return Session(settings)


def test_plain_http_never_loads_the_ca_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session = _session(tmp_path, monkeypatch, "http://127.0.0.1:5431", b"not a certificate")
    api, meta, data = session.server(), session.metadata(), session.data_plane()
    try:
        assert "tls" not in session.__dict__  # the (bad) bundle was never read
    finally:
        api.close()
        meta.close()
        data.close()
        session.close()


def test_https_loads_it_and_a_bad_bundle_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session = _session(tmp_path, monkeypatch, "https://score.example.org", b"not a certificate")
    with pytest.raises(e.ConfigError, match=r"ca\.pem holds no usable PEM certificate.*--ca-bundle"):
        session.server()
    session.close()


def test_a_data_plane_loads_trust_on_its_first_https_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = _session(tmp_path, monkeypatch, "http://127.0.0.1:5431", b"not a certificate")
    data = session.data_plane()
    try:
        with pytest.raises(e.ConfigError, match="holds no usable PEM certificate"):
            data.get_range(
                "https://store.example.org/bucket/key?X-Amz-Signature=x",
                ByteRange(0, 1),
                lambda view, offset: None,
                threading.Event(),
            )
    finally:
        data.close()
        session.close()
