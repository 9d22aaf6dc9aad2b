"""``score-client info`` and ``version``: the effective settings (never the token), where each came
from (``info --verbose``, as Score's "Configuration Sources"), and the server's version and health.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from score import __version__
from score.cli import exit_codes as ec

if TYPE_CHECKING:
    from score.sdk.config import ClientSettings
    from score.sdk.session import Session

HEALTH_TIMEOUT = 5.0  # seconds: info is a quick look, not a transfer


def _renewal(settings: ClientSettings) -> str:
    from score.client.http.tokens import TokenCache

    saved = TokenCache(settings.token_file).load() if settings.token_file else {}
    if settings.client_id and settings.client_secret:
        return f"client credentials of {settings.client_id} (never shown)"
    if saved.get("refresh_token"):
        return f"login of client {saved.get('client_id')} at {saved.get('issuer')}, saved in {settings.token_file}"
    return "none (set client_id and client_secret, or run score-client login)"


def add_arguments(info: argparse.ArgumentParser) -> None:
    """``info``'s flag (Score's)."""
    info.add_argument(
        "--verbose",
        action="store_true",
        help="also show every configuration source (flags, environment, config file, defaults) and what "
        "it sets; secrets are never shown",
    )


def _server_line(session: Session) -> str:
    health = session.server_health(HEALTH_TIMEOUT)
    if health.unreachable is not None:
        return f"server:        unreachable ({health.unreachable})"
    return f"server:        {health.status}, version {health.version}"


def version(args: argparse.Namespace, session: Session, say: Callable[[str], None]) -> int:  # noqa: ARG001  one signature for client_main
    """Print the client's version (already printed by the caller), the server URL and the server's
    version and health (its ``/health``); 0 even when the server does not answer.
    """
    say(f"server URL:    {session.settings.server_url}")
    say(_server_line(session))
    return ec.OK


def run(args: argparse.Namespace, session: Session, say: Callable[[str], None]) -> int:
    """Print the settings, then ask the server's ``/health`` with the client's TLS trust and proxies;
    with ``--verbose``, then every configuration source and what it sets.
    """
    import hashlib

    from score.cli.info_sources import configuration_sources

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
    lines.append(_server_line(session))
    if getattr(args, "verbose", False):
        lines += ["", *configuration_sources(settings, args)]
    for line in lines:
        say(line)
    return ec.OK
