"""``score-client info``: the effective settings (never the token) and the server's health."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from score import __version__
from score.cli import exit_codes as ec
from score.cli.client_config import ClientSettings
from score.cli.client_session import Session

HEALTH_TIMEOUT = 5.0  # seconds: info is a quick look, not a transfer


def _renewal(settings: ClientSettings) -> str:
    from score.client.http.tokens import TokenCache

    saved = TokenCache(settings.token_file).load() if settings.token_file else {}
    if settings.client_id and settings.client_secret:
        return f"client credentials of {settings.client_id} (never shown)"
    if saved.get("refresh_token"):
        return f"login of client {saved.get('client_id')} at {saved.get('issuer')}, saved in {settings.token_file}"
    return "none (set client_id and client_secret, or run score-client login)"


def run(session: Session, say: Callable[[str], None]) -> int:
    """Print the settings, then ask the server's ``/health`` with the client's TLS trust and proxies."""
    settings = session.settings
    token = "not set"  # noqa: S105  a name, not a secret
    if settings.token:
        token = f"set (sha256 {hashlib.sha256(settings.token.encode()).hexdigest()[:12]}; never shown)"
    lines = [
        f"score-client {__version__}",
        f"server URL:    {settings.server_url}",
        f"metadata URL:  {settings.metadata_url}",
        f"config file:   {settings.config_path}"
        + ("" if settings.config_path and settings.config_path.exists() else " (absent)"),
        f"profile:       {settings.profile or '(none)'}",
        f"access token:  {token}",
        f"renewal:       {_renewal(settings)}",
        f"parallel:      {settings.parallel} parts, {settings.memory_bytes // (1024 * 1024)} MiB of upload buffers",
    ]
    health = session.server_health(HEALTH_TIMEOUT)
    if health.unreachable is not None:
        lines.append(f"server:        unreachable ({health.unreachable})")
    else:
        lines.append(f"server:        {health.status}, version {health.version}")
    for line in lines:
        say(line)
    return ec.OK
