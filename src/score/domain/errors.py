"""The one error vocabulary shared by server, client and CLI.

ScoreError                        base; ``code`` (wire name) and ``retryable``
├── InvalidRequestError           malformed id, bad parameters, size mismatch        -> 400
│   └── UnsupportedFormatError    htsget: a format the object is not stored in       -> 400
├── RangeNotSatisfiableError      offset/length outside the object                   -> 416
├── UnauthenticatedError          missing, invalid or expired token                  -> 401
├── ForbiddenError                valid token without the needed scope               -> 403
├── SignatureError                a pre-signed URL that is tampered, expired or misused -> 403
│   └── UrlExpiredError           the URL's lifetime is over: ask the server again
├── NotFoundError                 unknown object id or upload id                     -> 404
├── ConflictError                 object exists and overwrite=false                  -> 409
│   └── AnalysisStateError        the analysis's state forbids it (Score's 400)      -> 400
├── IntegrityError                MD5 / ETag / size mismatch                         -> 422
├── UpstreamUnavailableError      store / metadata / identity provider down          -> 503 (retryable)
├── ResumeStateError              client side: resume state unusable
├── DiskSpaceError                not enough free space (client: for a download; server: its store) -> 507
└── ConfigError                   startup only; never reaches HTTP

This module knows nothing about HTTP statuses or exit codes: ``server/errors.py`` and
``cli/exit_codes.py`` own those maps.
"""

from __future__ import annotations


class ScoreError(Exception):
    """Base of every error this project raises on purpose."""

    code: str = "error"
    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason  # a short machine-readable cause (metrics), e.g. "expired_token"
        if retryable is not None:
            self.retryable = retryable


class InvalidRequestError(ScoreError):
    """The caller sent something malformed or inconsistent."""

    code = "invalid_request"


class UnsupportedFormatError(InvalidRequestError):
    """A file format the request cannot be served in (htsget: no conversion between formats)."""

    code = "unsupported_format"


class RangeNotSatisfiableError(InvalidRequestError):
    """A byte range lies outside the object."""

    code = "range_not_satisfiable"


class UnauthenticatedError(ScoreError):
    """No usable credentials were presented."""

    code = "unauthenticated"


class ForbiddenError(ScoreError):
    """The credentials are valid but do not allow this action."""

    code = "forbidden"


class SignatureError(ForbiddenError):
    """A pre-signed URL was refused (bad signature, wrong method or key)."""

    code = "signature_mismatch"


class UrlExpiredError(SignatureError):
    """A pre-signed URL has expired; fresh URLs must be requested from the server."""

    code = "url_expired"


class NotFoundError(ScoreError):
    """The object, upload or part does not exist."""

    code = "not_found"


class ConflictError(ScoreError):
    """The request conflicts with the current state (object exists, overwrite=false)."""

    code = "conflict"


class AlreadyUploadedError(ConflictError):
    """The object exists with the very size and MD5 an upload declares: there is nothing to send (409, as any
    existing object; a client may take it as done once its file has that MD5).
    """

    code = "already_uploaded"


class AnalysisStateError(ConflictError):
    """The analysis's state forbids the action: an upload once it is published, a download before.

    A conflict with the analysis's state, but final: Score answers 400 here, and its Java client fails
    at once only on 400, 401, 403, 404 and 500; it retries any other status for about 50 seconds.
    """

    code = "analysis_state"


class IntegrityError(ScoreError):
    """Checksums or sizes disagree."""

    code = "integrity"


class UpstreamUnavailableError(ScoreError):
    """A dependency (store, metadata service, identity provider) failed; try again later."""

    code = "upstream_unavailable"
    retryable = True


class ResumeStateError(ScoreError):
    """Local resume state is corrupt or belongs to something else."""

    code = "resume_state"


class DiskSpaceError(ScoreError):
    """A file system is too full: the client's output directory, or the server's local store (507)."""

    code = "disk_space"


SERVER_STORE_FULL = "server_store_full"  # the reason of a DiskSpaceError the server answered (its store, not ours)
EXPIRED_TOKEN = "expired_token"  # noqa: S105  the reason of an UnauthenticatedError for a token past its expiry
MISSING_SCOPE = "missing_scope"  # the reason of a ForbiddenError whose message names the scopes that would allow it
ANALYSIS_NOT_FOUND = "analysis_not_found"  # the reason of a NotFoundError for an analysis (or its study)
STUDY_NOT_FOUND = "study_not_found"  # the reason of a NotFoundError for a study
MALFORMED_TOKEN = "malformed_token"  # noqa: S105  the reason of an UnauthenticatedError for a token no header can carry
OBJECT_EXISTS = "object_exists"  # the reason of a ConflictError for an object already stored
NO_INDEX = "no_index"  # the reason of an error for regions of an alignment file without an index


class ConfigError(ScoreError):
    """Settings are invalid; raised at start-up only."""

    code = "config"


class InternalError(ScoreError):
    """A bug: something that should not happen did."""

    code = "internal"


ALL_ERRORS: tuple[type[ScoreError], ...] = (
    InvalidRequestError,
    RangeNotSatisfiableError,
    UnauthenticatedError,
    ForbiddenError,
    SignatureError,
    UrlExpiredError,
    NotFoundError,
    ConflictError,
    AlreadyUploadedError,
    AnalysisStateError,
    IntegrityError,
    UpstreamUnavailableError,
    ResumeStateError,
    DiskSpaceError,
    ConfigError,
    InternalError,
)


def error_class_for_code(code: str) -> type[ScoreError]:
    """Return the error class whose wire ``code`` is *code* (ScoreError if unknown)."""
    for cls in ALL_ERRORS:
        if cls.code == code:
            return cls
    return ScoreError
