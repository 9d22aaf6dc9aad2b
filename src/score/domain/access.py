"""Authorization policy: the one place that decides who may upload or download what.

Backends never decide; they only fail. The Authorization issue extends this with study
scopes and Song's publish rules; the shape (principal, record, action) stays.
"""

from __future__ import annotations

from dataclasses import dataclass

from score.domain.errors import ForbiddenError, UnauthenticatedError
from score.domain.model import Access, ObjectRecord, Principal


@dataclass(frozen=True, slots=True)
class ScopePolicy:
    """Scope names (configurable, defaults as Score)."""

    read_scope: str = "score.READ"
    write_scope: str = "score.WRITE"
    study_prefix: str = "PROGRAMDATA-"
    read_suffix: str = ".READ"
    write_suffix: str = ".WRITE"

    def study_read(self, study_id: str) -> str:
        """The study-level download scope."""
        return f"{self.study_prefix}{study_id}{self.read_suffix}"

    def study_write(self, study_id: str) -> str:
        """The study-level upload scope."""
        return f"{self.study_prefix}{study_id}{self.write_suffix}"


def _deny(principal: Principal, message: str) -> None:
    if principal.is_anonymous:
        raise UnauthenticatedError("a bearer token is required: " + message)
    raise ForbiddenError(message)


def authorize_upload(principal: Principal, record: ObjectRecord | None, policy: ScopePolicy) -> None:
    """Allow an upload or raise.

    Raises:
        UnauthenticatedError: anonymous caller.
        ForbiddenError: the token lacks the system or study write scope.
    """
    if principal.has_scope(policy.write_scope):
        return
    if record is not None and principal.has_scope(policy.study_write(record.study_id)):
        return
    _deny(principal, f"the token lacks the scope {policy.write_scope!r} needed to upload")


def authorize_download(principal: Principal, record: ObjectRecord | None, policy: ScopePolicy) -> None:
    """Allow a download or raise.

    Open-access objects are readable by anyone, anonymous included.

    Raises:
        UnauthenticatedError: anonymous caller for a controlled object.
        ForbiddenError: the token lacks the system or study read scope.
    """
    if principal.has_scope(policy.read_scope):
        return
    if record is not None:
        if record.access is Access.OPEN:
            return
        if principal.has_scope(policy.study_read(record.study_id)):
            return
    _deny(principal, f"the token lacks the scope {policy.read_scope!r} needed to download")


def may_list(principal: Principal, record: ObjectRecord | None, policy: ScopePolicy) -> bool:
    """True when *principal* may see the object in a listing (i.e. may download it)."""
    try:
        authorize_download(principal, record, policy)
    except (ForbiddenError, UnauthenticatedError):
        return False
    return True
