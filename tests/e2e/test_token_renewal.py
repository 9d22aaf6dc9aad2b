"""Transfers that outlive their access token, with short-lived tokens from a real OIDC provider:
client credentials, and ``score-client login`` (device flow) with refresh tokens."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kit.files import MIB, md5_of, random_file
from tests.kit.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider, available
from tests.kit.proxy import FaultProxy
from tests.kit.servers import PYTHON, ServerProcess, free_port

pytestmark = pytest.mark.e2e
ACCESS_TTL = 3  # seconds: every transfer below takes longer


@pytest.fixture(scope="module")
def oidc() -> Iterator[OidcProvider]:
    if not available():
        pytest.fail("the OIDC provider's npm packages are missing: run scripts/setup (scripts/test does)")
    provider = OidcProvider().start("k1", access_ttl=ACCESS_TTL)
    yield provider
    provider.stop()


@pytest.fixture
def slow_server(oidc: OidcProvider, tmp_path: Path) -> Iterator[tuple[ServerProcess, Path]]:
    """score-server trusting the provider (no leeway), behind a proxy that slows every store request."""
    port = free_port()
    proxy = FaultProxy(port, store_delay=0.7).start()
    audit = tmp_path / "audit.jsonl"
    srv = ServerProcess(
        tmp_path / "data",
        port,
        env={
            "SCORE_AUTH__OIDC_ISSUER": oidc.issuer,
            "SCORE_AUTH__AUDIENCE": "score",
            "SCORE_AUTH__LEEWAY": "0",
            "SCORE_AUTH__ALGORITHMS": '["RS256"]',
            "SCORE_AUDIT_LOG": str(audit),
            "SCORE_PUBLIC_URL": proxy.url,
            "SCORE_STORAGE__MIN_PART_SIZE_BYTES": str(MIB),
            "SCORE_DOWNLOAD_URL_TTL": "2",
        },
    ).start()
    yield srv, audit
    srv.stop()
    proxy.stop()


def _client(args: list[str], srv: ServerProcess, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("ACCESSTOKEN", "SCORE_ACCESS_TOKEN")}
    full.update(STORAGE_URL=srv.url, XDG_CONFIG_HOME=str(home), **env)
    return subprocess.run(
        [PYTHON, "-m", "score.cli.client_main", *args, "--parallel", "2"],
        capture_output=True,
        text=True,
        env=full,
        timeout=300,
    )


def _tokens_used(audit: Path, action: str, object_id: str) -> set[str]:
    lines = [json.loads(x) for x in audit.read_text().splitlines()]
    return {
        x["token"]
        for x in lines
        if x.get("action") == action and x.get("object_id") == object_id and x.get("decision") == "allow"
    }


def _round_trip(srv: ServerProcess, audit: Path, home: Path, tmp: Path, **env: str) -> None:
    # 17 parts, two at a time, 0.7 s each at the store: about 6 s each way, so whatever token a run
    # starts with (at most 3 s of life), its last requests need a renewed one
    src = random_file(tmp / "src.bin", 16 * MIB + 5)
    oid = "7f0e7a52-6b7e-5a50-9d1c-3d9a4bb1c001"
    up = _client(["upload", "--object-id", oid, "--file", str(src)], srv, home, **env)
    assert up.returncode == 0, up.stderr
    assert len(_tokens_used(audit, "upload", oid)) >= 2, "the upload never needed a renewed token"
    down = _client(["download", "--object-id", oid, "--output-dir", str(tmp / "out")], srv, home, **env)
    assert down.returncode == 0, down.stderr
    assert md5_of(tmp / "out" / oid) == md5_of(src)
    assert len(_tokens_used(audit, "download", oid)) >= 2, "the download never needed a renewed token"
    assert "Traceback" not in up.stderr + down.stderr


def test_client_credentials_renew_during_a_transfer(
    oidc: OidcProvider, slow_server: tuple[ServerProcess, Path], tmp_path: Path
) -> None:
    srv, audit = slow_server
    env = {
        "SCORE_OIDC_ISSUER": oidc.issuer,
        "SCORE_CLIENT_ID": CLIENT_ID,
        "SCORE_CLIENT_SECRET": CLIENT_SECRET,
        "SCORE_OIDC_SCOPE": "score.READ score.WRITE",
    }
    _round_trip(srv, audit, tmp_path / "home", tmp_path, **env)
    # a wrong secret is refused with a clear message and the auth exit code, never a traceback or the secret
    bad = _client(
        ["download", "--object-id", "7f0e7a52-6b7e-5a50-9d1c-3d9a4bb1c001", "--output-dir", str(tmp_path / "o2")],
        srv,
        tmp_path / "other-home",
        **{**env, "SCORE_CLIENT_SECRET": "wrong"},
    )
    assert bad.returncode == 3 and "invalid_client" in bad.stderr and "wrong" not in bad.stderr + bad.stdout


def test_device_login_then_transfers_renew_with_the_refresh_token(
    oidc: OidcProvider, slow_server: tuple[ServerProcess, Path], tmp_path: Path
) -> None:
    srv, audit = slow_server
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("ACCESSTOKEN", "SCORE_ACCESS_TOKEN")}
    env.update(STORAGE_URL=srv.url, XDG_CONFIG_HOME=str(home))
    proc = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "score.cli.client_main",
            "login",
            "--issuer",
            oidc.issuer,
            "--client-id",
            "cli",
            "--scope",
            "openid offline_access score.READ score.WRITE",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    uri = ""
    deadline = time.monotonic() + 30
    while not uri and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if "or open " in line:
            uri = line.split("or open ", 1)[1].strip()
    assert uri, "login printed no verification URL"
    assert "success" in oidc.approve_device(uri).lower()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    token_file = home / "score" / "tokens" / "default.json"
    saved = json.loads(token_file.read_text())
    assert saved["refresh_token"] and stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert saved["access_token"] not in err  # the token itself is never printed
    # no token and no secret configured: the saved login is used, and renewed by its refresh token
    _round_trip(srv, audit, home, tmp_path)
    assert json.loads(token_file.read_text())["refresh_token"]
    out = _client(["logout"], srv, home)
    assert out.returncode == 0 and not token_file.exists() and out.stdout == f"signed out: {token_file} removed\n"
    again = _client(["logout"], srv, home)  # said "removed" for a file that was not there
    assert again.returncode == 0 and again.stdout == f"not signed in: there was no {token_file}\n"
    denied = _client(
        ["download", "--object-id", "7f0e7a52-6b7e-5a50-9d1c-3d9a4bb1c001", "--output-dir", str(tmp_path / "o3")],
        srv,
        home,
    )
    assert denied.returncode == 3 and "Traceback" not in denied.stderr
