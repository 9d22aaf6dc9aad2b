"""Local-store URL signatures: what a signature binds, and every way a URL is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from score.domain.errors import SignatureError, UrlExpiredError
from score.storage.urlsign import EXPIRES_PARAM, SIGNATURE_PARAM, UrlSigner, encode_query

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
KEY = "data/5b6f2c52-2f1d-4a4e-9a56-0d1f1c6e9a01"
PARAMS = {"uploadId": "u1", "partNumber": "3", "offset": "41943040", "size": "20971520", "contentMd5": "abc="}


@pytest.fixture
def signer() -> UrlSigner:
    return UrlSigner(b"k" * 32)


def _signed(signer: UrlSigner, method: str = "PUT", ttl: timedelta = timedelta(minutes=5)) -> dict[str, str]:
    return signer.sign(method, KEY, PARAMS, NOW + ttl)


def test_a_fresh_signature_verifies(signer: UrlSigner) -> None:
    q = _signed(signer)
    assert q[EXPIRES_PARAM] == str(int((NOW + timedelta(minutes=5)).timestamp()))
    assert len(q[SIGNATURE_PARAM]) == 64
    signer.verify("PUT", KEY, q, NOW)
    signer.verify("put", KEY, q, NOW + timedelta(minutes=5))  # method is case-insensitive; expiry inclusive


def test_empty_parameters_are_left_out_of_the_url(signer: UrlSigner) -> None:
    q = signer.sign("GET", KEY, {"range": ""}, NOW + timedelta(minutes=1))
    assert "range" not in q
    signer.verify("GET", KEY, q, NOW)


def test_other_method_is_refused(signer: UrlSigner) -> None:
    q = _signed(signer, "GET")
    with pytest.raises(SignatureError) as info:
        signer.verify("PUT", KEY, q, NOW)
    assert not isinstance(info.value, UrlExpiredError)


def test_other_key_is_refused(signer: UrlSigner) -> None:
    q = _signed(signer)
    with pytest.raises(SignatureError):
        signer.verify("PUT", KEY.replace("5b6f", "5b6e"), q, NOW)


@pytest.mark.parametrize("param", ["uploadId", "partNumber", "offset", "size", "contentMd5"])
def test_every_signed_parameter_is_bound(signer: UrlSigner, param: str) -> None:
    q = _signed(signer)
    q[param] = q[param] + "0"
    with pytest.raises(SignatureError):
        signer.verify("PUT", KEY, q, NOW)


def test_adding_a_range_to_an_unranged_url_is_refused(signer: UrlSigner) -> None:
    q = signer.sign("GET", KEY, {}, NOW + timedelta(minutes=1))
    q["range"] = "0-9"
    with pytest.raises(SignatureError):
        signer.verify("GET", KEY, q, NOW)


def test_extending_the_expiry_breaks_the_signature(signer: UrlSigner) -> None:
    q = _signed(signer)
    q[EXPIRES_PARAM] = str(int(q[EXPIRES_PARAM]) + 3600)
    with pytest.raises(SignatureError):
        signer.verify("PUT", KEY, q, NOW)


def test_tampered_signature_is_refused(signer: UrlSigner) -> None:
    q = _signed(signer)
    sig = q[SIGNATURE_PARAM]
    q[SIGNATURE_PARAM] = ("0" if sig[0] != "0" else "1") + sig[1:]
    with pytest.raises(SignatureError, match="does not match"):
        signer.verify("PUT", KEY, q, NOW)


@pytest.mark.parametrize("drop", [SIGNATURE_PARAM, EXPIRES_PARAM])
def test_unsigned_urls_are_refused(signer: UrlSigner, drop: str) -> None:
    q = _signed(signer)
    del q[drop]
    with pytest.raises(SignatureError, match="not signed"):
        signer.verify("PUT", KEY, q, NOW)


def test_non_numeric_expiry_is_refused(signer: UrlSigner) -> None:
    q = _signed(signer)
    q[EXPIRES_PARAM] = "soon"
    with pytest.raises(SignatureError):
        signer.verify("PUT", KEY, q, NOW)


def test_expired_url_is_refused_as_expired(signer: UrlSigner) -> None:
    q = _signed(signer, ttl=timedelta(seconds=10))
    with pytest.raises(UrlExpiredError, match="expired"):
        signer.verify("PUT", KEY, q, NOW + timedelta(seconds=11))


def test_another_secret_does_not_verify(signer: UrlSigner) -> None:
    q = _signed(signer)
    with pytest.raises(SignatureError):
        UrlSigner(b"x" * 32).verify("PUT", KEY, q, NOW)


def test_head_is_admitted_by_a_get_or_head_signature_only(signer: UrlSigner) -> None:
    """htsjdk sends HEAD on the GET URL it was given (issue 22): same signature and expiry checks as the GET."""
    get = signer.sign("GET", KEY, {"range": "0-99"}, NOW + timedelta(minutes=5))
    signer.verify_head(KEY, get, NOW)
    signer.verify_head(KEY, signer.sign("HEAD", KEY, {}, NOW + timedelta(minutes=5)), NOW)
    with pytest.raises(UrlExpiredError):
        signer.verify_head(KEY, get, NOW + timedelta(minutes=6))
    with pytest.raises(UrlExpiredError):
        signer.verify_head(KEY, signer.sign("HEAD", KEY, {}, NOW - timedelta(minutes=1)), NOW)
    with pytest.raises(SignatureError) as put:
        signer.verify_head(KEY, _signed(signer, "PUT"), NOW)  # a part's PUT URL reveals nothing
    assert not isinstance(put.value, UrlExpiredError)
    with pytest.raises(SignatureError):
        signer.verify_head(KEY + "x", get, NOW)  # another key
    with pytest.raises(SignatureError):
        signer.verify_head(KEY, {**get, "range": "0-199"}, NOW)  # another range


@pytest.mark.parametrize(
    "query",
    [
        {"range": "0-65535", "expires": "1764561600", "signature": "ab" * 32},
        {"uploadId": "a+b/c=d", "partNumber": "3", "contentMd5": "1B2M2Y8AsgTpgAmY7PhCfg==", "x y": "é ~"},
        {},
    ],
)
def test_encode_query_is_urlencode(query: dict[str, str]) -> None:
    assert encode_query(query) == urlencode(query)
