"""Part PUTs and ranged GETs on pre-signed URLs with the standard library's ``http.client``.

Bulk bytes go straight between the socket and one buffer: ``readinto`` into a reusable
per-thread buffer on GET, ``send`` of memoryview slices on PUT, so a part costs a few system
calls per MiB and no copies (httpx's per-chunk event parsing and copies halved throughput, see
bench/README.md). Connections are kept alive per thread and per origin. No token is ever sent.
Proxies come from the environment as for the REST client; HTTPS goes through a CONNECT tunnel.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import ssl
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import httpx

from score.attempts import Cancelled
from score.client.http.server_api import error_from_response, untrusted_certificate
from score.client.http.url_expiry import has_expired
from score.domain import errors as e
from score.domain.integrity import hex_to_b64, normalize_etag, normalize_md5
from score.domain.ranges import ByteRange
from score.wire.store_errors import StoreErrorBody, parse_error_body

BUFFER_BYTES = 4 * 1024 * 1024
SEND_BYTES = 1024 * 1024
_ERROR_BODY_LIMIT = 64 * 1024


def classify_store_refusal(status: int, body: bytes, url: str | None = None) -> e.ScoreError:
    """Classify an object store's refusal (our JSON, or S3/Azure XML) of a request on *url*."""
    refusal = parse_error_body(body)
    if status == 403 and ((refusal is not None and _says_expired(refusal)) or (url is not None and has_expired(url))):
        return e.UrlExpiredError("the pre-signed URL has expired")
    if status == 400 and refusal is not None and refusal.code == "BadDigest":
        return e.IntegrityError("the store refused the part: its Content-MD5 does not match")
    err = error_from_response(httpx.Response(status, content=body))
    if isinstance(err, e.InvalidRequestError) and not isinstance(err, e.RangeNotSatisfiableError):
        err.retryable = True  # e.g. S3 RequestTimeout / a truncated body
    return err


def _says_expired(refusal: StoreErrorBody) -> bool:
    """S3's and GCS's ``ExpiredToken``, S3's "Request has expired", Azure's ``AuthenticationFailed`` (expired SAS)."""
    return (
        refusal.code == "ExpiredToken"
        or "Request has expired" in refusal.message
        or (refusal.code == "AuthenticationFailed" and refusal.mentions("expired"))
    )


def _describe(url: str) -> str:
    """Scheme, host and path of a signed URL: never its query, which holds the signature."""
    u = urlsplit(url)
    return f"{u.scheme}://{u.netloc}{u.path}"


@dataclass(frozen=True)
class Proxy:
    """An HTTP proxy: where it listens and the headers it wants (``Proxy-Authorization``)."""

    netloc: str
    headers: dict[str, str]


def proxy_for(scheme: str, netloc: str) -> Proxy | None:
    """The proxy the environment names for *scheme* (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``),
    unless ``NO_PROXY`` exempts the host: the same rules as the REST client (httpx) and curl.

    Raises:
        ConfigError: a proxy URL that is not ``http://``.
    """
    proxies = urllib.request.getproxies_environment()
    url = proxies.get(scheme) or proxies.get("all")
    if not url or urllib.request.proxy_bypass(netloc.rsplit("@", 1)[-1]):
        return None
    p = urlsplit(url if "://" in url else f"http://{url}")
    if p.scheme != "http" or not p.hostname:
        raise e.ConfigError(f"only http:// proxies are supported for transfers, not {p.scheme}://{p.hostname}")
    headers = {}
    if p.username:
        creds = f"{unquote(p.username)}:{unquote(p.password or '')}".encode()
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(creds).decode()
    return Proxy(f"{p.hostname}:{p.port or 80}", headers)


class _ProxiedHTTPConnection(http.client.HTTPConnection):
    """A connection to an HTTP proxy that forwards plain-HTTP requests (with *proxy*'s headers)."""

    def __init__(self, proxy: Proxy, timeout: float) -> None:
        super().__init__(proxy.netloc, timeout=timeout)
        self.proxy_headers = proxy.headers


# the CAs to trust: a context, or a function that makes it when first needed
TlsTrust = ssl.SSLContext | Callable[[], ssl.SSLContext]


class SignedUrlHttp:
    """PUTs parts and fetches byte ranges; safe to share between threads (each has its own connections)."""

    def __init__(self, timeout: float, ssl_context: TlsTrust | None = None) -> None:
        """Use *timeout* seconds for connect and for each read; *ssl_context*, or a function that makes it
        on the first HTTPS connection (loading a CA bundle takes ~20 ms that plain HTTP need not pay).
        """
        self._timeout = timeout
        self._trust: TlsTrust = ssl_context or ssl.create_default_context
        self._ssl: ssl.SSLContext | None = None
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _buffer(self) -> memoryview:
        view: memoryview | None = getattr(self._local, "buffer", None)
        if view is None:
            view = self._local.buffer = memoryview(bytearray(BUFFER_BYTES))
        return view

    def _tls(self) -> ssl.SSLContext:
        with self._lock:
            if self._ssl is None:
                self._ssl = self._trust if isinstance(self._trust, ssl.SSLContext) else self._trust()
            return self._ssl

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        conns: dict[tuple[str, str], http.client.HTTPConnection] = self._local.__dict__.setdefault("conns", {})
        conn = conns.get((scheme, netloc))
        if conn is None:
            if scheme not in ("http", "https"):
                raise e.InvalidRequestError(f"unsupported URL scheme {scheme!r} from the server")
            proxy = proxy_for(scheme, netloc)
            if proxy is None and scheme == "https":
                conn = http.client.HTTPSConnection(netloc, timeout=self._timeout, context=self._tls())
            elif proxy is None:
                conn = http.client.HTTPConnection(netloc, timeout=self._timeout)
            elif scheme == "https":  # a CONNECT tunnel: TLS end to end, the proxy sees only host and port
                conn = http.client.HTTPSConnection(proxy.netloc, timeout=self._timeout, context=self._tls())
                conn.set_tunnel(netloc, headers=proxy.headers)
            else:  # plain HTTP through the proxy: absolute-form request targets
                conn = _ProxiedHTTPConnection(proxy, self._timeout)
            conns[(scheme, netloc)] = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _drop(self, scheme: str, netloc: str) -> None:
        conns: dict[tuple[str, str], http.client.HTTPConnection] = self._local.__dict__.get("conns", {})
        conn = conns.pop((scheme, netloc), None)
        if conn is not None:
            conn.close()
            with self._lock:
                if conn in self._all:
                    self._all.remove(conn)

    def close(self) -> None:
        """Close every connection of every thread."""
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()

    def _open(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: memoryview | None = None,
        cancel: threading.Event | None = None,
    ) -> tuple[http.client.HTTPResponse, str, str]:
        u = urlsplit(url)
        target = u.path + (f"?{u.query}" if u.query else "")
        for fresh in (False, True):
            conn = self._connection(u.scheme, u.netloc)
            try:
                if isinstance(conn, _ProxiedHTTPConnection):
                    conn.putrequest(method, f"http://{u.netloc}{target}", skip_accept_encoding=True)
                    for name, value in conn.proxy_headers.items():
                        conn.putheader(name, value)
                else:
                    conn.putrequest(method, target, skip_accept_encoding=True)
                for name, value in headers.items():
                    conn.putheader(name, value)
                conn.endheaders()
                if body is not None:
                    for i in range(0, len(body), SEND_BYTES):
                        if cancel is not None and cancel.is_set():
                            self._drop(u.scheme, u.netloc)
                            raise Cancelled
                        conn.send(body[i : i + SEND_BYTES])
                return conn.getresponse(), u.scheme, u.netloc
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self._drop(u.scheme, u.netloc)  # a kept-alive connection the server had closed
                if fresh:
                    raise e.UpstreamUnavailableError(f"{method} {_describe(url)}: {type(exc).__name__}") from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop(u.scheme, u.netloc)
                untrusted = untrusted_certificate(exc, f"{u.scheme}://{u.netloc}")
                if untrusted is not None:
                    raise untrusted from None
                raise e.UpstreamUnavailableError(f"{method} {_describe(url)}: {type(exc).__name__}: {exc}") from None
        raise AssertionError("unreachable")

    def get(
        self,
        url: str,
        rng: ByteRange,
        sink: Callable[[memoryview, int], None],
        cancel: threading.Event,
        *,
        hash_bytes: bool = True,
    ) -> str:
        """GET *rng* of *url*, handing each chunk to ``sink(view, offset_within_range)``.

        The view is only valid during the call: the buffer is reused for the next chunk.

        Returns:
            The range's MD5, or "" when *hash_bytes* is false (the caller verifies otherwise).

        Raises:
            IntegrityError: the store sent more or fewer bytes than asked for.
            UrlExpiredError / SignatureError: the URL was refused.
            UpstreamUnavailableError: network failure (retryable).
        """
        headers = {"Range": rng.header()} if rng.length else {}
        response, scheme, netloc = self._open("GET", url, headers)
        ok = False
        try:
            if response.status >= 400:
                raise classify_store_refusal(response.status, response.read(_ERROR_BODY_LIMIT), url)
            if rng.length and rng.start and response.status != 206:
                raise e.IntegrityError(
                    f"the store answered {response.status} instead of 206 to a ranged GET "
                    "(it ignored the Range header)",
                    retryable=True,
                )
            declared = response.getheader("Content-Length")
            if declared is not None and int(declared) != rng.length:
                raise e.IntegrityError(
                    f"the store offers {declared} bytes for a {rng.length}-byte range", retryable=True
                )
            md5 = hashlib.md5()  # noqa: S324 - the wire checksum
            buf = self._buffer()
            got = 0
            while got < rng.length:
                if cancel.is_set():
                    raise Cancelled
                n = response.readinto(buf[: min(len(buf), rng.length - got)])
                if not n:
                    break
                chunk = buf[:n]
                if hash_bytes:
                    md5.update(chunk)
                sink(chunk, got)
                got += n
            if got != rng.length:
                raise e.IntegrityError(f"the store sent {got} bytes for a {rng.length}-byte range", retryable=True)
            ok = response.read(1) == b"" and not response.will_close
            return md5.hexdigest() if hash_bytes else ""
        except (OSError, http.client.HTTPException) as exc:
            raise e.UpstreamUnavailableError(f"GET {_describe(url)}: {type(exc).__name__}") from None
        finally:
            if not ok:
                self._drop(scheme, netloc)

    def put(self, url: str, data: memoryview, md5_hex: str, cancel: threading.Event) -> str:
        """PUT *data* with its Content-MD5; return the ETag the store answers (normalised).

        Azure's Put Block answers with no ETag: there the tag is the ``Content-MD5`` it echoes,
        or, when it echoes none (Azurite), the one we sent, which the store checked before its 2xx.
        """
        headers = {
            "Content-Length": str(len(data)),
            "Content-MD5": hex_to_b64(md5_hex),
            "Content-Type": "application/octet-stream",
        }
        response, scheme, netloc = self._open("PUT", url, headers, data, cancel)
        ok = False
        try:
            body = response.read(_ERROR_BODY_LIMIT)
            if response.status >= 400:
                raise classify_store_refusal(response.status, body, url)
            ok = not response.will_close and response.read(1) == b""
            return _stored_tag(response, md5_hex)
        except (OSError, http.client.HTTPException) as exc:
            raise e.UpstreamUnavailableError(f"PUT {_describe(url)}: {type(exc).__name__}") from None
        finally:
            if not ok:
                self._drop(scheme, netloc)


def _stored_tag(response: http.client.HTTPResponse, sent_md5: str) -> str:
    """The part's ETag; without one, the MD5 the store echoes or else the one it accepted (hex)."""
    etag = response.getheader("ETag")
    if etag:
        return normalize_etag(etag)
    echoed = response.getheader("Content-MD5")
    if echoed:
        try:
            return normalize_md5(echoed)
        except e.InvalidRequestError:
            return ""
    return sent_md5
