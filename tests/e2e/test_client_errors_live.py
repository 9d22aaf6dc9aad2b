"""Errors against a live score-server (issue 24): a wrong path in the server URL, ``https://`` to the plain HTTP
server, a port nobody listens on; each message exactly, with its exit code."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.kit.servers import free_port, run_client

pytestmark = pytest.mark.e2e


def test_wrong_server_urls_say_to_check_the_url(server_factory: Any) -> None:
    srv = server_factory()
    oid = str(uuid.uuid4())
    token = srv.token("score.READ")
    argv = ["url", "--object-id", oid]
    r = run_client(argv, server=f"{srv.url}/score", token=token)
    assert r.returncode == 2, r.stderr
    assert r.stderr == (
        f"score-client: error: no such endpoint: GET {srv.url}/score/download/{oid} answered 404 Not Found; "
        "check --server-url / STORAGE_URL\n"
    )
    r = run_client(argv, server=srv.url, token=None)
    assert (r.returncode, r.stderr) == (
        3,
        "score-client: error: no access token: set ACCESSTOKEN or run score-client login\n",
    )
    tls = srv.url.replace("http://", "https://")
    r = run_client(argv, server=tls, token=token)
    assert r.returncode == 6, r.stderr
    assert r.stderr.startswith(
        f"score-client: error: cannot reach the server at {tls}: check --server-url / STORAGE_URL ([SSL"
    ), r.stderr
    nobody = f"http://127.0.0.1:{free_port()}"
    r = run_client(argv, server=nobody, token=token)
    assert r.returncode == 6, r.stderr
    assert r.stderr == (
        f"score-client: error: cannot reach the server at {nobody}: check --server-url / STORAGE_URL "
        "([Errno 111] Connection refused) (if the URL is right, it is down or restarting; re-run the same "
        "command to resume)\n"
    )
