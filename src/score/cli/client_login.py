"""``score-client login`` (OAuth2 device flow) and ``logout`` (forget the profile's tokens)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from score.cli import exit_codes as ec
from score.domain import errors as e

if TYPE_CHECKING:
    from score.sdk.session import Session

DEFAULT_SCOPE = "openid offline_access"


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``login`` and ``logout``."""
    login = sub.add_parser(
        "login",
        parents=[common],
        help="sign in through the identity provider (device flow); later commands renew the token",
    )
    login.add_argument("--issuer", help="OIDC issuer URL (config oidc_issuer, env SCORE_OIDC_ISSUER)")
    login.add_argument("--client-id", help="the OAuth2 client registered for score-client (config client_id)")
    login.add_argument(
        "--scope",
        help=f"scopes to ask for (default: config scope, else {DEFAULT_SCOPE!r} "
        "plus your study scopes as the provider grants them)",
    )
    sub.add_parser("logout", parents=[common], help="forget the tokens saved by login for this profile")


def login(args: argparse.Namespace, session: Session, show: Callable[[str], None]) -> int:
    """Run the device flow and save the tokens to the profile's token file."""
    from score.client.http.login import device_login
    from score.client.http.tokens import OAuthTokens

    s = session.settings
    issuer = args.issuer or s.oidc_issuer
    client_id = args.client_id or s.client_id
    if not issuer or not client_id:
        raise e.InvalidRequestError("login needs --issuer and --client-id (or oidc_issuer and client_id in the config)")
    cache = session.token_cache()
    http = session.identity_http()
    token_url, answer = device_login(http, issuer, client_id, args.scope or s.scope or DEFAULT_SCOPE, show)
    tokens = OAuthTokens(http, issuer=issuer, token_url=token_url, client_id=client_id, cache=cache)
    tokens.accept(answer)
    renew = "renewed automatically" if answer.get("refresh_token") else "not renewable: no refresh token was granted"
    show(f"signed in; tokens saved to {s.token_file} ({renew})")
    return ec.OK


def logout(session: Session, say: Callable[[str], None]) -> int:
    """Delete the profile's token file."""
    path = session.settings.token_file
    had = path is not None and path.exists()
    cache = session.token_cache()
    if cache is not None:
        cache.clear()
    say(f"signed out: {path} removed" if had else f"not signed in: there was no {path}")
    return ec.OK
