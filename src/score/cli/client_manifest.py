"""``--manifest`` as Score's client takes it (a local file, an http(s) URL or a portal manifest id) for
download and view, and the ``manifest`` command, which prints the manifest it resolves.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from score.cli import exit_codes as ec
from score.client.transfer.manifest import ManifestText, load_manifest, parse_download_manifest
from score.domain import errors as e
from score.sdk.session import Session

# Score's ``portal.url`` (its default, https://dcc.icgc.org, is retired): unset, a manifest id is refused
# with a message naming these.
PORTAL_SETTING = (
    "PORTAL_URL (e.g. PORTAL_URL=https://portal.example.org), portal_url in the config file or portal.url in "
    "Score's application.properties"
)
MANIFEST_HELP = "a local file, an http(s) URL, or a portal manifest id (a UUID; needs PORTAL_URL)"


def load(spec: str, session: Session) -> ManifestText:
    """The manifest *spec* names; a URL is fetched without a token, with the client's TLS trust,
    proxies and timeout; a manifest id from the portal of the settings.

    Raises:
        InvalidRequestError: bad input (see :func:`score.client.transfer.manifest.load_manifest`).
        UpstreamUnavailableError: the URL gave no answer, or a server error.
    """
    from score.client.http.manifest_fetch import fetch_manifest

    def fetch(url: str, shown: str) -> bytes:
        return fetch_manifest(url, shown=shown, timeout=session.settings.timeout_seconds, verify=session.tls)

    return load_manifest(spec, fetch=fetch, portal_url=session.settings.portal_url, portal_setting=PORTAL_SETTING)


def object_ids(spec: str, session: Session) -> list[str]:
    """The object ids of the download manifest *spec* names (ICGC portal or Song upload manifest)."""
    return parse_download_manifest(load(spec, session))


def add_arguments(show: argparse.ArgumentParser) -> None:
    """The ``manifest`` command's flag."""
    show.add_argument("--manifest", required=True, help=MANIFEST_HELP)


def run(args: argparse.Namespace, session: Session, say: Callable[[str], None]) -> int:
    """Print the manifest as it was read or fetched (Score's ``manifest`` command)."""
    manifest = load(args.manifest, session)
    if not manifest.text.strip():  # as download and upload say of it
        raise e.InvalidRequestError(f"manifest {manifest.where} is empty")
    say(manifest.text.rstrip("\n"))
    return ec.OK
