"""Headers the error renderer adds by status: Retry-After on every 503, WWW-Authenticate on every 401."""

from __future__ import annotations

import pytest

from score.domain import errors as e
from score.server.errors import DRS_FORMAT, HTSGET_FORMAT, SCORE_FORMAT, ErrorFormat

FORMATS = [SCORE_FORMAT, HTSGET_FORMAT, DRS_FORMAT]  # Score's, htsget's, DRS's shapes


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("retryable", [True, False])
def test_every_503_carries_retry_after(fmt: ErrorFormat, retryable: bool) -> None:
    """Issue 20, defect 9: 503s carried no Retry-After."""
    r = fmt.render(e.UpstreamUnavailableError("the metadata service (Song) is unreachable", retryable=retryable))
    assert r.status_code == 503
    assert r.headers["retry-after"] == "5"
    assert "www-authenticate" not in r.headers


@pytest.mark.parametrize("fmt", FORMATS)
def test_401_keeps_its_challenge_and_other_errors_get_no_retry_after(fmt: ErrorFormat) -> None:
    r = fmt.render(e.UnauthenticatedError("no token"))
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")
    assert "retry-after" not in r.headers
    for exc in (e.NotFoundError("x"), e.InternalError("x"), e.ConflictError("x")):
        assert "retry-after" not in fmt.render(exc).headers
