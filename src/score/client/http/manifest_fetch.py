"""A manifest given as a URL (``--manifest https://...`` or a portal manifest id), fetched as Score's
client fetches it: one plain GET without a token (the URL may be anyone's), here with the TLS trust,
proxies, timeouts and User-Agent of every other request of the client.
"""

from __future__ import annotations

import ssl

import httpx

from score import __version__
from score.domain import errors as e

MAX_MANIFEST_BYTES = 64 * 1024 * 1024  # a portal manifest of 100,000 files is ~20 MB
MAX_REDIRECTS = 5
_SERVER_ERROR = 500


def fetch_manifest(
    url: str,
    *,
    shown: str,
    timeout: float,
    verify: ssl.SSLContext | bool = True,
    transport: httpx.BaseTransport | None = None,
) -> bytes:
    """GET *url* once and return its body; redirects are followed, never from https to http.

    Args:
        url: the manifest's http(s) URL.
        shown: *url* as messages may show it (without its query, which may hold a signature).
        timeout: seconds for each phase of the request.
        verify: the TLS trust (the client's CA bundle, or the system's CAs).
        transport: instead of the network (tests).

    Returns:
        The body.

    Raises:
        InvalidRequestError: a 4xx answer, a redirect to plain http, too many redirects, or a body
            over 64 MiB (each message shows *shown*).
        UpstreamUnavailableError: no answer, or a 5xx one.
    """
    with httpx.Client(
        headers={"User-Agent": f"score-client/{__version__}"},
        timeout=timeout,
        verify=verify,
        transport=transport,
        follow_redirects=False,
    ) as http:
        current = httpx.URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            try:
                with http.stream("GET", current) as r:
                    if r.is_redirect and r.next_request is not None:
                        target = r.next_request.url
                        if current.scheme == "https" and target.scheme != "https":
                            raise e.InvalidRequestError(
                                f"manifest {shown}: the server redirects to a plain http URL ({target.host}); "
                                "give that URL yourself if you trust it"
                            )
                        current = target
                        continue
                    return _body(r, shown)
            except httpx.HTTPError as exc:
                raise e.UpstreamUnavailableError(
                    f"manifest {shown}: no answer ({type(exc).__name__}); check the URL, or try again later"
                ) from exc
    raise e.InvalidRequestError(f"manifest {shown}: more than {MAX_REDIRECTS} redirects")


def _body(r: httpx.Response, shown: str) -> bytes:
    if r.status_code >= _SERVER_ERROR:
        raise e.UpstreamUnavailableError(f"manifest {shown}: the server answered {r.status_code}; try again later")
    if r.status_code >= 400 or r.status_code < 200 or r.is_redirect:
        raise e.InvalidRequestError(
            f"manifest {shown}: the server answered {r.status_code} {r.reason_phrase}".rstrip()
            + "; check the URL or manifest id"
        )
    data = bytearray()
    for chunk in r.iter_bytes():
        data += chunk
        if len(data) > MAX_MANIFEST_BYTES:
            raise e.InvalidRequestError(f"manifest {shown} is larger than {MAX_MANIFEST_BYTES // (1024 * 1024)} MiB")
    return bytes(data)
