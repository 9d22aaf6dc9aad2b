"""Authorization policy: the one place that decides who may upload or download what.

Backends never decide; they only fail. The Authorization issue extends this with study
scopes and Song's publish rules; the shape (principal, record, action) stays.
"""

from __future__ import annotations

from dataclasses import dataclass

from score.domain.errors import (
    MISSING_SCOPE,
    AnalysisStateError,
    ForbiddenError,
    InvalidRequestError,
    UnauthenticatedError,
)
from score.domain.model import Access, AnalysisState, ObjectRecord, Principal


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


def _deny(principal: Principal, verb: str, system: str, study: str | None, pattern: str) -> None:
    """Refuse, naming the scopes that would allow it: the system scope, and the study's scope (*study*) only
    where naming it tells nothing new, else the study scope's *pattern*.

    No existence oracle: which study an object is in is named only to a caller holding the study's other
    scope (its read scope for an upload, its write scope for a download), who can already tell its ids
    from unknown ones. Anyone else is answered the same for an unknown id and for another study's object.
    """
    needed = f"{system!r} or {study!r}" if study else f"{system!r}, or {pattern!r} for the object's study"
    if principal.is_anonymous:
        raise UnauthenticatedError(f"a bearer token is required: {verb} needs the scope {needed}", reason="no_token")
    raise ForbiddenError(f"the token lacks the scope needed for {verb}: {needed}", reason=MISSING_SCOPE)


def authorize_upload(
    principal: Principal, record: ObjectRecord | None, policy: ScopePolicy, verb: str = "an upload"
) -> None:
    """Allow an upload or raise.

    Raises:
        UnauthenticatedError: anonymous caller.
        ForbiddenError: the token lacks the system or study write scope.
    """
    if principal.has_scope(policy.write_scope):
        return
    if record is not None and principal.has_scope(policy.study_write(record.study_id)):
        return
    own = record is not None and principal.has_scope(policy.study_read(record.study_id))
    study = policy.study_write(record.study_id) if own and record is not None else None
    _deny(principal, verb, policy.write_scope, study, policy.study_write("<study>"))


def authorize_download(principal: Principal, record: ObjectRecord | None, policy: ScopePolicy) -> None:
    """Allow a download or raise.

    Open-access objects of a published analysis (or with no analysis state) are readable by
    anyone, anonymous included; an unpublished open-access object needs a scope like a
    controlled one, so that callers without one cannot tell it from an unknown id.

    Raises:
        UnauthenticatedError: anonymous caller for a controlled object.
        ForbiddenError: the token lacks the system or study read scope.
    """
    if principal.has_scope(policy.read_scope):
        return
    if record is not None:
        if record.access is Access.OPEN and record.analysis_state in (None, AnalysisState.PUBLISHED):
            return
        if principal.has_scope(policy.study_read(record.study_id)):
            return
    own = record is not None and principal.has_scope(policy.study_write(record.study_id))
    study = policy.study_read(record.study_id) if own and record is not None else None
    _deny(principal, "a download", policy.read_scope, study, policy.study_read("<study>"))


def may_list(principal: Principal, record: ObjectRecord | None, policy: ScopePolicy) -> bool:
    """True when *principal* may see the object in a listing (i.e. may download it: scope and publish state)."""
    try:
        authorize_download(principal, record, policy)
        check_download_state(record, exclude_urls=False)
    except (ForbiddenError, UnauthenticatedError, AnalysisStateError):
        return False
    return True


def check_upload_state(record: ObjectRecord | None, file_size: int, md5: str | None) -> None:
    """Song's rules for an upload: an UNPUBLISHED analysis, and the registered size and MD5.

    Raises:
        AnalysisStateError: the analysis is published or suppressed.
        InvalidRequestError: the size or the declared MD5 differs from the registered one.
    """
    if record is None:
        return
    state = record.analysis_state
    if state is not None and state is not AnalysisState.UNPUBLISHED:
        raise AnalysisStateError(
            f"analysis {record.analysis_id} is {state.value}; files can be uploaded only while it is UNPUBLISHED"
        )
    if record.file_size is not None and file_size != record.file_size:
        raise InvalidRequestError(f"fileSize {file_size} differs from the registered size {record.file_size}")
    if md5 and record.file_md5 and md5.lower() != record.file_md5.lower():
        raise InvalidRequestError(f"md5 {md5} differs from the registered MD5 {record.file_md5}")


def check_download_state(record: ObjectRecord | None, exclude_urls: bool) -> None:
    """Song's rule for a download: URLs only for a PUBLISHED analysis (metadata-only reads always).

    Raises:
        AnalysisStateError: the analysis is not published.
    """
    if record is None or exclude_urls:
        return
    state = record.analysis_state
    if state is not None and state is not AnalysisState.PUBLISHED:
        raise AnalysisStateError(
            f"analysis {record.analysis_id} is {state.value}; its files can be downloaded once it is PUBLISHED"
        )
