"""THE map from domain errors to process exit codes (documented in docs/errors.md)."""

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
    UPSTREAM: "the server, the object store or the metadata service is unavailable; re-run the same command to resume",
}
# A full disk on the server's side (HTTP 507): no local space or --output-dir can help.
SERVER_DISK_SPACE_HINT = (
    "the server's store is full, not this machine's disk; the parts it confirmed are kept: "
    "re-run the same command once its operator has freed space"
)


# Errors whose message already says what to do (the reasons score.client.http.server_api gives them):
# no token was sent, an expired token ("get a new one"), a token without the scope (the message names the
# scopes that would allow it), a path the server does not serve (the URL is wrong).
SELF_EXPLAINED = frozenset({"no_token", e.EXPIRED_TOKEN, e.MALFORMED_TOKEN, e.MISSING_SCOPE, "no_endpoint"})
# What a 404 means when it was not an object that was not found (score.client.http.metadata_api's reasons).
# Regions of an alignment file without an index: the command line has a way round it.
NO_INDEX_HINT = "or use --header-only for the header alone"
NOT_FOUND_HINTS = {
    e.ANALYSIS_NOT_FOUND: "check the study id and the analysis id",
    e.STUDY_NOT_FOUND: "check the study id",
}
# No connection at all: the message names the setting to check; a server that was reachable a moment ago
# (it died or restarts mid-transfer) is also worth asking again, and the work done so far is kept.
UNREACHABLE_HINT = "if the URL is right, it is down or restarting; re-run the same command to resume"
NO_ENDPOINT = "no_endpoint"  # exit 2: the server URL is wrong, not the object id


def hint_for(exc: e.ScoreError) -> str | None:
    """What to do about *exc*, printed after its message (None: nothing to add)."""
    if isinstance(exc, e.DiskSpaceError) and exc.reason == e.SERVER_STORE_FULL:
        return SERVER_DISK_SPACE_HINT
    if exc.reason in SELF_EXPLAINED:
        return None
    if exc.reason == "unreachable":
        return UNREACHABLE_HINT
    if exc.reason == e.NO_INDEX:
        return NO_INDEX_HINT
    if isinstance(exc, e.NotFoundError) and exc.reason in NOT_FOUND_HINTS:
        return NOT_FOUND_HINTS[exc.reason]
    return HINTS.get(exit_code_for(exc))


def interrupted_message(forced: bool) -> str:
    """What Ctrl-C prints: re-running resumes, but not with ``--force``, which starts over."""
    if forced:
        return "interrupted; re-run the command without --force to resume (with --force it starts over)"
    return "interrupted; re-run the same command to resume"


def exit_code_for(exc: e.ScoreError) -> int:
    """Exit code of a domain error (the first matching class in the table; a wrong server URL is usage)."""
    if isinstance(exc, e.NotFoundError) and exc.reason == NO_ENDPOINT:
        return USAGE
    for cls, code in _CODES:
        if isinstance(exc, cls):
            return code
    return FAILURE
