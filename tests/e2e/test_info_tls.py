"""``score-client info`` asks the server's health as every other command talks to it: with the CA
bundle (``--ca-bundle``) and through the proxies of the environment (issue 21, item 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from score import __version__
from tests.kit.forward_proxy import ForwardProxy
from tests.kit.servers import run_client
from tests.kit.tls import make_certificates

pytestmark = pytest.mark.e2e
NO_PROXY_VARS = {"NO_PROXY": "", "no_proxy": "", "SCORE_CA_BUNDLE": "", "REQUESTS_CA_BUNDLE": ""}


def _info(url: str, *extra: str, env: dict[str, str] | None = None) -> str:
    r = run_client(["info", *extra], server=url, token=None, env={**NO_PROXY_VARS, **(env or {})})
    assert r.returncode == 0, f"rc={r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "Traceback" not in r.stderr
    return str(r.stdout)


def test_info_honours_the_ca_bundle_and_the_proxy(server_factory: Any, tmp_path: Path) -> None:
    """Issue 21, item 3: ``info`` asked ``/health`` with httpx's defaults, so a server whose certificate
    comes from the CA given with ``--ca-bundle`` showed as "unreachable (ConnectError)"."""
    ca, cert, key = make_certificates(tmp_path / "pki")
    srv = server_factory(SCORE_TLS_CERT=str(cert), SCORE_TLS_KEY=str(key))
    assert srv.url.startswith("https://")
    assert "server:        unreachable (ConnectError)" in _info(srv.url)  # the CA is not trusted
    trusted = _info(srv.url, "--ca-bundle", str(ca))
    assert f"server:        UP, version {__version__}" in trusted and "unreachable" not in trusted
    proxy = ForwardProxy().start()
    try:
        through = _info(srv.url, env={"HTTPS_PROXY": proxy.url, "SCORE_CA_BUNDLE": str(ca)})
        assert "server:        UP" in through
        assert proxy.tunnels == [f"127.0.0.1:{srv.port}"]
    finally:
        proxy.stop()
