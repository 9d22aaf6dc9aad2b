"""Authorization policy and scope extraction (every denial path)."""

from __future__ import annotations

import pytest

from score.domain.access import ScopePolicy, authorize_download, authorize_upload, may_list
from score.domain.errors import ForbiddenError, UnauthenticatedError
from score.domain.model import ANONYMOUS, Access, ObjectRecord, Principal
from score.domain.principal import scopes_from_claims

POLICY = ScopePolicy()
OPEN = ObjectRecord("o1", "ABC", Access.OPEN)
CONTROLLED = ObjectRecord("o2", "ABC", Access.CONTROLLED)


def who(*scopes: str) -> Principal:
    return Principal(subject="alice", scopes=frozenset(scopes))


def test_system_scopes_allow_everything() -> None:
    authorize_upload(who("score.WRITE"), None, POLICY)
    authorize_download(who("score.READ"), CONTROLLED, POLICY)
    authorize_download(who("SCORE.read"), None, POLICY)  # case-insensitive as Score


def test_study_scopes_apply_to_their_study_only() -> None:
    authorize_upload(who("PROGRAMDATA-ABC.WRITE"), CONTROLLED, POLICY)
    authorize_download(who("PROGRAMDATA-ABC.READ"), CONTROLLED, POLICY)
    with pytest.raises(ForbiddenError):
        authorize_download(who("PROGRAMDATA-XYZ.READ"), CONTROLLED, POLICY)
    with pytest.raises(ForbiddenError):
        authorize_upload(who("PROGRAMDATA-XYZ.WRITE"), CONTROLLED, POLICY)
    with pytest.raises(ForbiddenError):
        authorize_upload(who("PROGRAMDATA-ABC.WRITE"), None, POLICY)  # unregistered: no study to match


def test_read_does_not_imply_write_and_vice_versa() -> None:
    with pytest.raises(ForbiddenError, match="score.WRITE"):
        authorize_upload(who("score.READ"), None, POLICY)
    with pytest.raises(ForbiddenError, match="score.READ"):
        authorize_download(who("score.WRITE"), None, POLICY)


def test_anonymous_callers() -> None:
    authorize_download(ANONYMOUS, OPEN, POLICY)
    with pytest.raises(UnauthenticatedError):
        authorize_download(ANONYMOUS, CONTROLLED, POLICY)
    with pytest.raises(UnauthenticatedError):
        authorize_download(ANONYMOUS, None, POLICY)
    with pytest.raises(UnauthenticatedError):
        authorize_upload(ANONYMOUS, OPEN, POLICY)


def test_listing_shows_only_readable_objects() -> None:
    assert may_list(ANONYMOUS, OPEN, POLICY)
    assert not may_list(ANONYMOUS, CONTROLLED, POLICY)
    assert not may_list(who("PROGRAMDATA-XYZ.READ"), CONTROLLED, POLICY)
    assert may_list(who("PROGRAMDATA-ABC.READ"), CONTROLLED, POLICY)


def test_configured_scope_names() -> None:
    custom = ScopePolicy(read_scope="storage.read", study_prefix="study:", read_suffix=":read")
    authorize_download(who("storage.read"), None, custom)
    authorize_download(who("study:ABC:read"), CONTROLLED, custom)
    with pytest.raises(ForbiddenError):
        authorize_download(who("score.READ"), None, custom)


def test_scopes_from_every_claim_shape() -> None:
    claims = {"scope": "score.READ openid", "scp": ["a.b"], "context": {"scope": ["PROGRAMDATA-X.READ"]}}
    assert scopes_from_claims(claims) == {"score.READ", "openid", "a.b", "PROGRAMDATA-X.READ"}
    assert scopes_from_claims({"scp": "x y"}) == {"x", "y"}
    assert scopes_from_claims({"scope": 5, "context": "nope"}) == frozenset()
