"""Headers the error renderer adds by status: Retry-After on every 503, WWW-Authenticate on every 401."""

from __future__ import annotations

import pytest

from score.domain import errors as e
from score.server.errors import error_response

PATHS = ["/download/x", "/ga4gh/htsget/v1/reads/x", "/ga4gh/drs/v1/objects/x"]  # Score's, htsget's, DRS's shapes


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("retryable", [True, False])
def test_every_503_carries_retry_after(path: str, retryable: bool) -> None:
    """Issue 20, defect 9: 503s carried no Retry-After."""
    r = error_response(
        e.UpstreamUnavailableError("the metadata service (Song) is unreachable", retryable=retryable), path
    )
    assert r.status_code == 503
    assert r.headers["retry-after"] == "5"
    assert "www-authenticate" not in r.headers


@pytest.mark.parametrize("path", PATHS)
def test_401_keeps_its_challenge_and_other_errors_get_no_retry_after(path: str) -> None:
    r = error_response(e.UnauthenticatedError("no token"), path)
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")
    assert "retry-after" not in r.headers
    for exc in (e.NotFoundError("x"), e.InternalError("x"), e.ConflictError("x")):
        assert "retry-after" not in error_response(exc, path).headers
