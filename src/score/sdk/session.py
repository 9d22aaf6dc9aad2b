"""What every command's requests share, built once from the settings: the TLS trust, the token
source (fixed, or renewing itself) and the clients of the server, the metadata service and the
data plane.

Cheap to import and to build: httpx, ssl and the HTTP clients are imported when first used, so
``score-client version`` and ``--help`` never pay for them (issue 23; tests/unit/cli/test_client_startup.py).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from score.domain.errors import ConfigError
from score.sdk.config import ClientSettings

if TYPE_CHECKING:
    import ssl

    import httpx

    from score.client.http.metadata_api import MetadataApi
    from score.client.http.server_api import ServerApi
    from score.client.http.server_health import ServerHealth
    from score.client.http.tokens import TokenCache, TokenSource
    from score.client.transfer.data_plane import DataPlane


def ssl_context(settings: ClientSettings) -> ssl.SSLContext:
    """The system's CAs (``SSL_CERT_FILE`` included), or the configured CA bundle instead."""
    import ssl

    if settings.ca_bundle is not None:
        try:
            return ssl.create_default_context(cafile=str(settings.ca_bundle))
        except ssl.SSLError as exc:
            raise ConfigError(
                f"CA bundle {settings.ca_bundle} holds no usable PEM certificate ({exc.reason}); "
                "give a PEM file of CA certificates with --ca-bundle or SCORE_CA_BUNDLE"
            ) from None
    return ssl.create_default_context()


class Session:
    """Built once per command; :meth:`close` releases the connections it opened."""

    def __init__(self, settings: ClientSettings) -> None:
        """Nothing is contacted yet. A renewing token source (client credentials, or a saved login) is
        built now, as its settings are checked now; a fixed token's source when first used.
        """
        self.settings = settings
        self._idp: httpx.Client | None = None
        if self._renewing():
            self.tokens = self._token_source()

    @cached_property
    def tokens(self) -> TokenSource:
        """The token source: built by ``__init__`` when it renews itself, else on first use."""
        return self._token_source()

    @cached_property
    def tls(self) -> ssl.SSLContext:
        """The CAs to trust, loaded on first use (a CA bundle takes ~20 ms that plain HTTP need not pay)."""
        return ssl_context(self.settings)

    def _verify(self, url: str) -> ssl.SSLContext:
        """The TLS context for a client of *url*: the real one for HTTPS; for plain HTTP one that trusts
        nothing, so a redirect or proxy that turns to TLS fails closed instead of costing the load.
        """
        if url.lower().startswith("https:"):
            return self.tls
        return self._no_trust

    @cached_property
    def _no_trust(self) -> ssl.SSLContext:
        """A TLS context that trusts nothing (one per session: each costs OpenSSL 3 a few ms)."""
        import ssl

        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)

    def identity_http(self) -> httpx.Client:
        """The HTTP client for the identity provider (created on first use)."""
        if self._idp is None:
            import httpx

            self._idp = httpx.Client(verify=self.tls, timeout=self.settings.timeout_seconds)
        return self._idp

    def token_cache(self) -> TokenCache | None:
        """The profile's token file."""
        from score.client.http.tokens import TokenCache

        return TokenCache(self.settings.token_file) if self.settings.token_file else None

    def _saved_login(self) -> dict[str, object]:
        """The profile's saved tokens, read without importing the HTTP stack (as TokenCache.load: {} if
        none or unreadable).
        """
        if self.settings.token_file is None:
            return {}
        try:
            text = self.settings.token_file.read_text(encoding="utf-8")
        except (OSError, ValueError):
            return {}
        import json

        try:
            data = json.loads(text)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _renewing(self) -> bool:
        """Whether the token source renews itself (as :meth:`_token_source` decides)."""
        s = self.settings
        saved = self._saved_login() if not s.client_id or not s.client_secret else {}
        client_id = s.client_id or saved.get("client_id")
        return bool(client_id and (s.client_secret or saved.get("refresh_token")))

    def _token_source(self) -> TokenSource:
        from score.client.http.tokens import OAuthTokens, StaticToken

        s = self.settings
        cache = self.token_cache()
        saved = cache.load() if cache else {}
        client_id = s.client_id or saved.get("client_id")
        if client_id and (s.client_secret or saved.get("refresh_token")):
            return OAuthTokens(
                self.identity_http(),
                issuer=s.oidc_issuer or saved.get("issuer"),
                token_url=s.token_url or saved.get("token_url"),
                client_id=str(client_id),
                client_secret=s.client_secret,
                scope=s.scope,
                cache=cache,
                initial=s.token,
            )
        return StaticToken(s.token)

    def server(self) -> ServerApi:
        """The Score API."""
        from score.client.http.server_api import ServerApi

        return ServerApi(
            self.settings.server_url,
            self.tokens,
            timeout=self.settings.timeout_seconds,
            verify=self._verify(self.settings.server_url),
        )

    def metadata(self) -> MetadataApi:
        """Song, or score-server's registry: the server itself unless a metadata URL of its own is set, and
        its errors say which.
        """
        from score.client.http.metadata_api import MetadataApi
        from score.client.http.server_api import METADATA_SETTING, SERVER_SETTING

        s = self.settings
        own = s.metadata_url.rstrip("/") != s.server_url.rstrip("/")
        return MetadataApi(
            s.metadata_url,
            self.tokens,
            timeout=s.timeout_seconds,
            verify=self._verify(s.metadata_url),
            service="the metadata service" if own else "the server",
            setting=METADATA_SETTING if own else SERVER_SETTING,
        )

    def server_health(self, timeout_cap: float) -> ServerHealth:
        """The server's ``/health``, asked once as the other clients ask (TLS trust, proxies), within
        *timeout_cap* seconds per phase at most.
        """
        from score.client.http.server_health import probe_health

        return probe_health(
            self.settings.server_url,
            timeout=min(self.settings.timeout_seconds, timeout_cap),
            verify=lambda: self._verify(self.settings.server_url),  # only when asked over TLS or by httpx
        )

    def verify_connection(self) -> None:
        """Score's ``--verify-connection``: the server's ``/download/ping`` and the URL it returns, each asked
        once (:mod:`score.client.http.connection_check`).
        """
        from score.attempts import RetryPolicy
        from score.client.http.connection_check import verify_connection
        from score.client.http.server_api import ServerApi

        api = ServerApi(
            self.settings.server_url,
            self.tokens,
            timeout=self.settings.timeout_seconds,
            retry=RetryPolicy(attempts=1),  # Score's ping is not retried either
            verify=self._verify(self.settings.server_url),
        )
        try:
            verify_connection(api, self._verify)
        finally:
            api.close()

    def data_plane(self) -> DataPlane:
        """Transfers over pre-signed URLs (no token)."""
        from score.client.transfer.data_plane import DataPlane

        return DataPlane(timeout=self.settings.timeout_seconds, ssl_context=lambda: self.tls)

    def close(self) -> None:
        """Close the identity provider's connections."""
        if self._idp is not None:
            self._idp.close()
