"""Run the real OIDC provider (npm oidc-provider, tests/kit/oidc/provider.mjs) and get tokens from it."""

from __future__ import annotations

import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import httpx

from tests.kit.servers import free_port

HERE = Path(__file__).resolve().parent / "oidc"
CLIENT_ID = "svc"
CLIENT_SECRET = "svc-secret"


def available() -> bool:
    """True when node and the provider's npm packages are installed (scripts/setup does it)."""
    return shutil.which("node") is not None and (HERE / "node_modules" / "oidc-provider").is_dir()


class OidcProvider:
    """One provider process; :meth:`restart` with another kid rotates its signing key."""

    def __init__(self) -> None:
        """Pick a port; :meth:`start` launches."""
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, kid: str = "k1", access_ttl: int = 300) -> OidcProvider:
        """Launch and wait for the discovery document; access tokens live *access_ttl* seconds."""
        self._proc = subprocess.Popen(
            ["node", str(HERE / "provider.mjs"), str(self.port), kid, str(access_ttl)],
            cwd=HERE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.issuer + "/.well-known/openid-configuration", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("oidc-provider did not start")

    def stop(self) -> None:
        """Stop the process."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None

    def restart(self, kid: str) -> None:
        """Same issuer, new signing key."""
        self.stop()
        self.start(kid)

    def token(self, *scopes: str, resource: str = "urn:score") -> str:
        """An RS256 access token for *scopes* by the client-credentials grant."""
        r = httpx.post(
            self.issuer + "/token",
            data={"grant_type": "client_credentials", "scope": " ".join(scopes), "resource": resource},
            auth=(CLIENT_ID, CLIENT_SECRET),
            timeout=10,
        )
        r.raise_for_status()
        return str(r.json()["access_token"])

    def api_key(self, *scopes: str) -> str:
        """An opaque access token (an API key: only introspection can tell what it allows)."""
        return self.token(*scopes, resource="urn:score-apikey")

    def revoke(self, token: str) -> None:
        """Revoke a token (RFC 7009)."""
        httpx.post(
            self.issuer + "/token/revocation", data={"token": token}, auth=(CLIENT_ID, CLIENT_SECRET), timeout=10
        ).raise_for_status()

    def approve_device(self, verification_uri_complete: str, user: str = "alice") -> str:
        """Play the user in a browser: open the device URL, confirm the code, sign in, consent.

        Returns the provider's last page (its success page).
        """
        with httpx.Client(follow_redirects=True, timeout=10) as browser:
            page = browser.get(verification_uri_complete)
            for _ in range(8):
                forms = _forms(page.text)
                if not forms:
                    return page.text
                action, fields = forms[0]
                if "login" in fields:
                    fields.update(login=user, password="any")
                page = browser.post(urljoin(str(page.url), action), data=fields)
        raise RuntimeError("the device sign-in did not finish")

    @property
    def introspection_url(self) -> str:
        """The RFC 7662 endpoint."""
        return self.issuer + "/token/introspection"


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", ""), {}))
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1][1][a["name"]] = a.get("value", "")


def _forms(html: str) -> list[tuple[str, dict[str, str]]]:
    """The forms of a page: (action, {input name: value})."""
    parser = _FormParser()
    parser.feed(html)
    return parser.forms
