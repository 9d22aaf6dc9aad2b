"""The refusals name the scopes that would allow the action (issue 24), without an existence oracle (issue 20,
defect 7): the object's study is named only to a caller holding that study's other scope."""

from __future__ import annotations

import pytest

from score.domain.access import ScopePolicy, authorize_download, authorize_upload
from score.domain.errors import ForbiddenError, ScoreError, UnauthenticatedError
from score.domain.model import Access, ObjectRecord, Principal

POLICY = ScopePolicy()
THEIRS = ObjectRecord("o1", "ORC", Access.CONTROLLED)
GENERIC_READ = "'score.READ', or 'PROGRAMDATA-<study>.READ' for the object's study"
GENERIC_WRITE = "'score.WRITE', or 'PROGRAMDATA-<study>.WRITE' for the object's study"


def _refusal(rule: object, principal: Principal, record: ObjectRecord | None) -> ScoreError:
    with pytest.raises((ForbiddenError, UnauthenticatedError)) as refused:
        rule(principal, record, POLICY)  # type: ignore[operator]
    return refused.value


@pytest.mark.parametrize("record", [THEIRS, None], ids=["another study's object", "unknown id"])
def test_another_studys_token_is_told_the_scopes_alike_for_known_and_unknown_ids(record: ObjectRecord | None) -> None:
    other = Principal("u", frozenset({"PROGRAMDATA-ELSE.READ", "PROGRAMDATA-ELSE.WRITE"}))
    down = _refusal(authorize_download, other, record)
    assert (type(down), down.message) == (
        ForbiddenError,
        f"the token lacks the scope needed for a download: {GENERIC_READ}",
    )
    up = _refusal(authorize_upload, other, record)
    assert up.message == f"the token lacks the scope needed for an upload: {GENERIC_WRITE}"
    anonymous = _refusal(authorize_download, Principal(""), record)
    assert (type(anonymous), anonymous.message) == (
        UnauthenticatedError,
        f"a bearer token is required: a download needs the scope {GENERIC_READ}",
    )


def test_the_studys_scope_is_named_to_who_holds_its_other_scope() -> None:
    """A holder of PROGRAMDATA-ORC.WRITE can already tell ORC's ids from unknown ones (its uploads get past the
    policy), so naming the study tells it nothing new."""
    writer = Principal("u", frozenset({"PROGRAMDATA-ORC.WRITE"}))
    refused = _refusal(authorize_download, writer, THEIRS)
    assert refused.message == "the token lacks the scope needed for a download: 'score.READ' or 'PROGRAMDATA-ORC.READ'"
    reader = Principal("u", frozenset({"PROGRAMDATA-ORC.READ"}))
    refused = _refusal(authorize_upload, reader, THEIRS)
    assert refused.message == "the token lacks the scope needed for an upload: 'score.WRITE' or 'PROGRAMDATA-ORC.WRITE'"
    assert _refusal(authorize_download, writer, None).message.endswith(GENERIC_READ)  # unknown: not named
