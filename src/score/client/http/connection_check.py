"""Score's ``--verify-connection``: prove, before a transfer, that the server and its object store answer.

As the Java client's ``StorageService.ping``: ``GET /download/ping`` (no token needed) returns a pre-signed URL
of the store's sentinel object, which is then fetched with short timeouts (5 s, the Java client's ping template).
A failure stops the command, as it does in the Java client (its upload and view mean to go on after printing
the error, but the exception they catch is never the one its ping throws).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from score.client.http.server_api import ServerApi, transport_error
from score.client.http.signed_urls import classify_store_refusal
from score.domain import errors as e

PING_TIMEOUT_SECONDS = 5.0  # the Java client's connect and read timeouts for the sentinel object
_BODY_LIMIT = 64 * 1024  # the sentinel is one line; an error body is read this far at most
SKIP_HINT = "--verify-connection false skips this check"


def _fetch_sentinel(url: str, verify: Callable[[str], ssl.SSLContext], transport: httpx.BaseTransport | None) -> None:
    where = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"  # never the query: it holds the signature
    try:
        with (
            httpx.Client(timeout=PING_TIMEOUT_SECONDS, verify=verify(url), transport=transport) as http,
            http.stream("GET", url) as response,
        ):
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) >= _BODY_LIMIT:
                    break
            status = response.status_code
    except httpx.HTTPError as exc:
        raise transport_error(exc, "the object store", where) from None
    if status >= 400:
        raise classify_store_refusal(status, body[:_BODY_LIMIT], url)


def verify_connection(
    api: ServerApi, verify: Callable[[str], ssl.SSLContext], *, transport: httpx.BaseTransport | None = None
) -> None:
    """Ask *api* for the sentinel object's URL and fetch it (no token: it is a pre-signed URL); *verify* gives
    the TLS context for a URL, *transport* replaces the network for the fetch (tests).

    Raises:
        ScoreError: of the class the server's or the store's answer calls for (unreachable:
            UpstreamUnavailableError), not retryable, its message saying which check failed and how to skip it.
    """
    try:
        url = api.ping().strip()
        if not url.startswith(("http://", "https://")):
            raise e.UpstreamUnavailableError(
                "the server's answer to GET /download/ping is not a URL; is the server URL that of a Score server?"
            )
        _fetch_sentinel(url, verify, transport)
    except e.ScoreError as exc:
        raise type(exc)(
            f"could not verify the connection to the repository: {exc.message} ({SKIP_HINT})",
            retryable=False,
            reason=exc.reason,
        ) from exc
