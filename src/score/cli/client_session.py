"""What every command's requests share, built once from the settings: the TLS trust, the token
source (fixed, or renewing itself) and the clients of the server, the metadata service and the
data plane."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

import httpx

from score.cli.client_config import ClientSettings
from score.client.tokens import OAuthTokens, StaticToken, TokenCache, TokenSource

if TYPE_CHECKING:
    from score.client.api import ServerApi
    from score.client.dataplane import DataPlane
    from score.client.metadata import MetadataApi


def ssl_context(settings: ClientSettings) -> ssl.SSLContext:
    """The system's CAs (``SSL_CERT_FILE`` included), or the configured CA bundle instead."""
    if settings.ca_bundle is not None:
        return ssl.create_default_context(cafile=str(settings.ca_bundle))
    return ssl.create_default_context()


class Session:
    """Built once per command; :meth:`close` releases the connections it opened."""

    def __init__(self, settings: ClientSettings) -> None:
        """Nothing is contacted yet."""
        self.settings = settings
        self.ssl = ssl_context(settings)
        self._idp: httpx.Client | None = None
        self.tokens = self._token_source()

    def identity_http(self) -> httpx.Client:
        """The HTTP client for the identity provider (created on first use)."""
        if self._idp is None:
            self._idp = httpx.Client(verify=self.ssl, timeout=self.settings.timeout_seconds)
        return self._idp

    def token_cache(self) -> TokenCache | None:
        """The profile's token file."""
        return TokenCache(self.settings.token_file) if self.settings.token_file else None

    def _token_source(self) -> TokenSource:
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
        from score.client.api import ServerApi

        return ServerApi(self.settings.server_url, self.tokens, timeout=self.settings.timeout_seconds, verify=self.ssl)

    def metadata(self) -> MetadataApi:
        """Song, or score-server's registry."""
        from score.client.metadata import MetadataApi

        return MetadataApi(self.settings.metadata_url, self.tokens, timeout=self.settings.timeout_seconds,
                           verify=self.ssl)

    def data_plane(self) -> DataPlane:
        """Transfers over pre-signed URLs (no token)."""
        from score.client.dataplane import DataPlane

        return DataPlane(timeout=self.settings.timeout_seconds, ssl_context=self.ssl)

    def close(self) -> None:
        """Close the identity provider's connections."""
        if self._idp is not None:
            self._idp.close()
