"""The client behind HTTP proxies (from the environment, as curl and httpx read them) and against
a server whose certificate comes from a private CA (--ca-bundle)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.kit.checks import ok
from tests.kit.files import MIB, md5_of, random_file
from tests.kit.forward_proxy import ForwardProxy
from tests.kit.servers import run_client
from tests.kit.tls import make_certificates

pytestmark = pytest.mark.e2e
OID = "0b5a1bd2-9a55-5a4b-8a47-2e51c0d4e001"
NO_PROXY_VARS = {"NO_PROXY": "", "no_proxy": ""}


def test_plain_http_through_a_proxy_with_credentials(server_factory: Any, tmp_path: Path) -> None:
    srv = server_factory(SCORE_STORAGE__MIN_PART_SIZE_BYTES=str(MIB))
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "f.bin", 3 * MIB + 1)
    proxy = ForwardProxy().start()
    try:
        env = {**NO_PROXY_VARS, "HTTP_PROXY": f"http://user:p%40ss@127.0.0.1:{proxy.port}"}
        ok(run_client(["upload", "--object-id", OID, "--file", str(src)], server=srv.url, token=token, env=env))
        ok(
            run_client(
                ["download", "--object-id", OID, "--output-dir", str(tmp_path / "o")],
                server=srv.url,
                token=token,
                env=env,
            )
        )
        assert md5_of(tmp_path / "o" / OID) == md5_of(src)
        methods_paths = set(proxy.requests)
        assert ("POST", f"/upload/{OID}/uploads") in methods_paths  # the REST client went through it
        assert ("GET", f"/download/{OID}") in methods_paths
        store = [m for m, p in proxy.requests if p.startswith("/_store/")]
        assert store.count("PUT") == 4 and store.count("GET") == 4  # and so did every part, both ways
        assert set(proxy.auth_headers) == {"Basic dXNlcjpwQHNz"}  # user:p@ss, percent-decoded
        # NO_PROXY exempts the host: nothing more goes through the proxy
        before = len(proxy.requests)
        env_bypass = {**env, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
        ok(
            run_client(
                ["download", "--object-id", OID, "--output-dir", str(tmp_path / "o2")],
                server=srv.url,
                token=token,
                env=env_bypass,
            )
        )
        assert len(proxy.requests) == before
    finally:
        proxy.stop()


def test_https_with_a_private_ca_and_through_a_connect_tunnel(server_factory: Any, tmp_path: Path) -> None:
    ca, cert, key = make_certificates(tmp_path / "pki")
    srv = server_factory(SCORE_TLS_CERT=str(cert), SCORE_TLS_KEY=str(key), SCORE_STORAGE__MIN_PART_SIZE_BYTES=str(MIB))
    assert srv.url.startswith("https://")
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "f.bin", 2 * MIB + 3)
    # the CA is not trusted: a clear error at once, no retries, no traceback
    untrusted = run_client(
        ["upload", "--object-id", OID, "--file", str(src)], server=srv.url, token=token, env=NO_PROXY_VARS
    )
    assert untrusted.returncode == 2, untrusted.stderr
    assert "not trusted" in untrusted.stderr and "--ca-bundle" in untrusted.stderr
    assert "Traceback" not in untrusted.stderr
    ok(
        run_client(
            ["upload", "--object-id", OID, "--file", str(src), "--ca-bundle", str(ca)],
            server=srv.url,
            token=token,
            env=NO_PROXY_VARS,
        )
    )
    proxy = ForwardProxy().start()
    try:
        env = {**NO_PROXY_VARS, "HTTPS_PROXY": proxy.url, "SCORE_CA_BUNDLE": str(ca)}
        ok(
            run_client(
                ["download", "--object-id", OID, "--output-dir", str(tmp_path / "o")],
                server=srv.url,
                token=token,
                env=env,
            )
        )
        assert md5_of(tmp_path / "o" / OID) == md5_of(src)
        # TLS end to end: the proxy saw only CONNECT targets (REST client and data plane), never a request
        assert proxy.tunnels and set(proxy.tunnels) == {f"127.0.0.1:{srv.port}"} and not proxy.requests
        assert len(proxy.tunnels) >= 2
    finally:
        proxy.stop()
