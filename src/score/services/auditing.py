"""Authorization with an audit record of every decision, and records of every URL handed out.

The rules themselves live in ``domain/access.py``; this module only makes sure that nothing is
allowed or refused, and no URL leaves the server, without a line in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from score.domain import ids
from score.domain.access import ScopePolicy, authorize_download, authorize_upload
from score.domain.errors import ForbiddenError, NotFoundError, UnauthenticatedError
from score.domain.model import AuditEvent, ObjectRecord, Principal
from score.domain.ranges import ByteRange
from score.services.context import ServiceContext


def _event(
    principal: Principal, action: str, object_id: str, record: ObjectRecord | None, decision: str, **extra: str | None
) -> AuditEvent:
    return AuditEvent(
        action=action,
        object_id=object_id,
        decision=decision,
        subject=principal.subject,
        token_hash=principal.token_hash,
        study=record.study_id if record is not None else None,
        reason=extra.get("reason") or "",
        byte_range=extra.get("byte_range"),
    )


def _checked(
    ctx: ServiceContext,
    rule: Callable[[Principal, ObjectRecord | None, ScopePolicy], None],
    action: str,
    principal: Principal,
    object_id: str,
    record: ObjectRecord | None,
) -> None:
    try:
        rule(principal, record, ctx.policy)
    except (ForbiddenError, UnauthenticatedError) as exc:
        ctx.auditor.record(_event(principal, action, object_id, record, "deny", reason=exc.message))
        raise
    ctx.auditor.record(_event(principal, action, object_id, record, "allow"))


def check_upload(
    ctx: ServiceContext, principal: Principal, object_id: str, record: ObjectRecord | None, verb: str = "an upload"
) -> None:
    """Apply the upload policy (also that of registering and publishing: *verb* names it in a refusal) and audit
    the decision.

    Raises:
        UnauthenticatedError / ForbiddenError: as the policy decides.
    """
    _checked(ctx, partial(authorize_upload, verb=verb), "upload", principal, object_id, record)


def check_download(ctx: ServiceContext, principal: Principal, object_id: str, record: ObjectRecord | None) -> None:
    """Apply the download policy and audit the decision.

    Raises:
        UnauthenticatedError / ForbiddenError: as the policy decides.
    """
    _checked(ctx, authorize_download, "download", principal, object_id, record)


async def authorized_record(
    ctx: ServiceContext, principal: Principal, object_id: str, *, upload: bool
) -> ObjectRecord | None:
    """Validate *object_id*, look up its record and apply the upload or download policy (audited).

    No existence oracle: an upload needs a token before anything is looked up, and an id the
    metadata service does not know is refused exactly as an object the caller may not read,
    unless the caller holds the system scope (who may act on any object learns that it is unknown).

    Raises:
        InvalidRequestError: a malformed id.
        UnauthenticatedError / ForbiddenError: not allowed (unknown ids included, see above).
        NotFoundError: unknown id, for a caller with the system scope.
    """
    ids.validate_object_id(object_id)
    rule = authorize_upload if upload else authorize_download
    action = "upload" if upload else "download"
    if upload and principal.is_anonymous:
        _checked(ctx, rule, action, principal, object_id, None)  # raises: an upload needs a token
    try:
        record = await ctx.metadata.get(object_id)
    except NotFoundError:
        _checked(ctx, rule, action, principal, object_id, None)  # refused unless a system scope allows any id
        raise
    _checked(ctx, rule, action, principal, object_id, record)
    return record


def url_issued(
    ctx: ServiceContext,
    principal: Principal,
    action: str,
    object_id: str,
    record: ObjectRecord | None,
    byte_range: ByteRange | None = None,
) -> None:
    """Record one signed URL handed to *principal* (never the URL itself)."""
    rng = byte_range.header() if byte_range is not None and byte_range.length else None
    ctx.auditor.record(_event(principal, action, object_id, record, "issued", byte_range=rng))
