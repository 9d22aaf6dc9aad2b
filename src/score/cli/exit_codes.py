"""THE map from domain errors to process exit codes (documented in the README)."""

from __future__ import annotations

from score.domain import errors as e

OK = 0
FAILURE = 1
USAGE = 2
AUTH = 3
NOT_FOUND = 4
INTEGRITY = 5
UPSTREAM = 6
CONFLICT = 7
DISK_SPACE = 8
INTERRUPTED = 130

_CODES: list[tuple[type[e.ScoreError], int]] = [
    (e.UnauthenticatedError, AUTH),
    (e.ForbiddenError, AUTH),
    (e.NotFoundError, NOT_FOUND),
    (e.IntegrityError, INTEGRITY),
    (e.UpstreamUnavailableError, UPSTREAM),
    (e.ConflictError, CONFLICT),
    (e.DiskSpaceError, DISK_SPACE),
    (e.InvalidRequestError, USAGE),
    (e.ConfigError, USAGE),
]

HINTS: dict[int, str] = {
    AUTH: "check the access token (env ACCESSTOKEN) and its scopes",
    NOT_FOUND: "check the object id",
    INTEGRITY: "the data did not verify; nothing incomplete was kept under the final name",
    DISK_SPACE: "free some space or choose another --output-dir; nothing was lost, re-run to resume",
    UPSTREAM: "the server or object store is unreachable; re-run the same command to resume",
}


def exit_code_for(exc: e.ScoreError) -> int:
    """Exit code of a domain error (the first matching class in the table)."""
    for cls, code in _CODES:
        if isinstance(exc, cls):
            return code
    return FAILURE
