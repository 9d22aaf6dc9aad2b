"""Issue 20, defect 9 ("smaller ones") against a real score-server process: ids with a trailing
newline, oversized request heads, forwarded headers from untrusted peers, 503s and unhandled errors."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.kit.servers import ServerProcess

pytestmark = pytest.mark.integration


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("POST", "/upload/{oid}%0A/uploads", {"fileSize": 1}),
        ("GET", "/download/{oid}%0A", {}),
        ("POST", "/upload/{oid}", {"uploadId": "2~abc\n"}),
        ("GET", "/upload/{oid}/parts/url", {"uploadId": "2~abc\n", "partNumber": 1, "md5": "0" * 32}),
    ],
)
def test_ids_with_a_trailing_newline_are_400(
    server: ServerProcess, rw_token: str, method: str, path: str, params: dict[str, object]
) -> None:
    """Issue 20, defect 9: '$' matched before a final newline, so "<uuid>\\n" passed as an id."""
    r = httpx.request(method, server.url + path.format(oid=uuid.uuid4()), params=params, headers=_auth(rw_token))
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid_request"


def test_drs_ids_with_a_trailing_newline_are_400(server: ServerProcess, rw_token: str) -> None:
    r = httpx.get(f"{server.url}/ga4gh/drs/v1/objects/abc%0A", headers=_auth(rw_token))
    assert r.status_code == 400, r.text
    assert r.json() == {"msg": "a DRS id is 1 to 128 letters, digits or . _ ~ -", "status_code": 400}
