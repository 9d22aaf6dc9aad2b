"""Verified tokens are remembered by their SHA-256 until they expire (issue 23): a repeated token skips the
signature check, a changed or expired one never uses the entry of another."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from score.auth.embedded import EmbeddedIssuer
from score.auth.jwt import JwtVerifier
from score.auth.token_cache import VerifiedTokens, token_digest
from score.domain.errors import UnauthenticatedError
from score.domain.model import Principal


def verifier(issuer: EmbeddedIssuer, cache: VerifiedTokens) -> JwtVerifier:
    return JwtVerifier(public_key=issuer.public_key, issuer="t", audience=None, algorithms=["ES256"], verified=cache)


def test_a_verified_token_is_not_verified_again_until_it_expires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    issuer = EmbeddedIssuer(tmp_path)
    clock = [datetime.now(UTC).timestamp()]
    cache = VerifiedTokens(now=lambda: clock[0])
    v = verifier(issuer, cache)
    token = issuer.mint(issuer="t", audience=None, scopes=["score.READ"], ttl=timedelta(seconds=60))
    first = v.verify_sync(token)
    assert first.scopes == {"score.READ"}
    calls = []
    real = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert v.verify_sync(token) is first
    assert calls == []
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    with pytest.raises(UnauthenticatedError):
        v.verify_sync(tampered)
    assert calls == [1]
    clock[0] += 61  # past exp: the entry is gone and the token is checked again
    assert cache.get(token_digest(token)) is None


def test_entries_are_bounded_capped_in_age_and_need_an_expiry() -> None:
    now = [1000.0]
    cache = VerifiedTokens(limit=2, max_age=10, now=lambda: now[0])
    exp = datetime.fromtimestamp(5000, UTC)
    p = Principal("s", frozenset(), "h", exp)
    cache.put(b"a", p)
    cache.put(b"b", p)
    cache.put(b"c", p)
    assert cache.get(b"a") is None and cache.get(b"c") is p
    now[0] += 11  # max_age, although exp is far
    assert cache.get(b"c") is None
    cache.put(b"d", Principal("s", frozenset(), "h", None))
    assert cache.get(b"d") is None
