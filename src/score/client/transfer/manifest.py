r"""Manifests as Score's client reads them: where one comes from (a local file, an http(s) URL or a
portal manifest id, as ``ManifestResource`` tells them apart) and their two formats: Song's upload
manifest (a first line Score skips, Song writes ``<analysisId>\\t\\t``, then ``object id<TAB>file
path<TAB>md5`` per file) and the ICGC portal's download manifest (11 columns, a header row).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from score.domain import errors as e
from score.domain.ids import is_md5_hex, is_object_id

# Score's ManifestServiceImpl: ``String.format("%s/api/v1/manifests/%s", portalUrl, manifestId)``
PORTAL_MANIFEST_PATH = "/api/v1/manifests/"
PORTAL_ID_PLACEHOLDER = "{id}"  # ours: a portal URL holding it is a template
_OTHER_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True, slots=True)
class UploadEntry:
    """One file to upload."""

    object_id: str
    path: Path
    md5: str


@dataclass(frozen=True, slots=True)
class ManifestSource:
    """What a ``--manifest`` value names, told apart as Score's ``ManifestResource`` does."""

    kind: Literal["file", "url", "id"]
    value: str  # the path, the URL or the manifest id (trimmed)


@dataclass(frozen=True, slots=True)
class ManifestText:
    """A manifest's text and where it came from (a path, or a URL without its query, for messages)."""

    text: str
    where: str


def manifest_source(spec: str) -> ManifestSource:
    """Tell a ``--manifest`` value apart as Score does: ``http:/`` or ``https:/`` first is a URL, a
    UUID is a portal manifest id, anything else is a local file.

    Raises:
        InvalidRequestError: an empty value, or a URL of another scheme (``ftp://``, ``file://``...).
    """
    value = spec.strip()
    if not value:
        raise e.InvalidRequestError("--manifest is empty: give a file, an http(s) URL or a portal manifest id")
    if value.lower().startswith(("http:/", "https:/")):
        return ManifestSource("url", value)
    if is_object_id(value):
        return ManifestSource("id", value)
    if _OTHER_SCHEME.match(value):
        raise e.InvalidRequestError(
            f"manifest {shown_url(value)}: only http:// and https:// URLs are fetched; "
            "give a local file, an http(s) URL or a portal manifest id"
        )
    return ManifestSource("file", value)


def shown_url(url: str) -> str:
    """*url* as messages may show it: no user info, query or fragment (they may hold a signature)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<malformed URL>"
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def portal_manifest_url(portal_url: str, manifest_id: str) -> str:
    """The URL of a portal manifest: Score's ``{portal.url}/api/v1/manifests/{id}``, or *portal_url*
    with ``{id}`` replaced when it holds one (a portal serving manifests elsewhere).

    Raises:
        ConfigError: *portal_url* is not an http(s) URL.
    """
    if not portal_url.lower().startswith(("http://", "https://")):
        raise e.ConfigError(f"portal URL {shown_url(portal_url)!r} must start with http:// or https://")
    if PORTAL_ID_PLACEHOLDER in portal_url:
        return portal_url.replace(PORTAL_ID_PLACEHOLDER, manifest_id)
    return portal_url.rstrip("/") + PORTAL_MANIFEST_PATH + manifest_id


def load_manifest(
    spec: str, *, fetch: Callable[[str, str], bytes], portal_url: str | None, portal_setting: str
) -> ManifestText:
    """The text of the manifest *spec* names, before anything else is done with it.

    Args:
        spec: the ``--manifest`` value: a local file, an http(s) URL or a portal manifest id.
        fetch: GETs a URL (its first argument; the second is the URL as messages show it) and returns
            the body (no token; the client's TLS trust, proxies and timeouts).
        portal_url: the portal's URL (Score's ``portal.url``), or None when not configured.
        portal_setting: how the user gives the portal URL, named in the error when it is missing.

    Raises:
        InvalidRequestError: a missing file, a body that is not UTF-8, a URL of another scheme, or a
            manifest id without a portal URL (naming *portal_setting*); *fetch*'s own refusals.
        UpstreamUnavailableError: (from *fetch*) the URL gave no answer, or a server error.
    """
    source = manifest_source(spec)
    if source.kind == "url":
        return _fetched(source.value, fetch)
    if source.kind == "id":
        if portal_url:
            return _fetched(portal_manifest_url(portal_url, source.value), fetch)
        if not Path(source.value).is_file():  # a file named by a UUID is still read, as before
            raise e.InvalidRequestError(
                f"manifest {source.value} is a portal manifest id, and no portal URL is configured: set "
                f"{portal_setting} (the manifest is then read from <portal>{PORTAL_MANIFEST_PATH}<id>), "
                "or give the manifest's URL or a local file"
            )
    path = Path(source.value)
    return ManifestText(read_manifest_text(path), str(path))


def _fetched(url: str, fetch: Callable[[str, str], bytes]) -> ManifestText:
    shown = shown_url(url)
    body = fetch(url, shown)
    try:
        return ManifestText(body.decode("utf-8"), shown)
    except UnicodeDecodeError as exc:
        raise not_utf8(shown, exc) from None


def read_manifest_text(path: Path) -> str:
    """A manifest's text.

    Raises:
        InvalidRequestError: it does not exist, or is not UTF-8 (saying where, and what to do).
    """
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise e.InvalidRequestError(f"manifest {path} does not exist") from None
    except UnicodeDecodeError as exc:
        raise not_utf8(str(path), exc) from None


def not_utf8(where: str, exc: UnicodeDecodeError) -> e.InvalidRequestError:
    """The error for a manifest that is not UTF-8 text: which byte, where, and how to convert it."""
    return e.InvalidRequestError(
        f"manifest {where} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}): "
        "convert it to UTF-8, e.g. iconv -f latin1 -t utf-8 OLD > NEW, and give the new file"
    )


def read_upload_manifest(path: Path) -> list[UploadEntry]:
    """Parse a manifest file; relative paths are relative to the current directory (as Score's client).

    Raises:
        InvalidRequestError: a missing or non-UTF-8 file, a malformed line (with its number), or no entries.
    """
    return parse_upload_manifest(ManifestText(read_manifest_text(path), str(path)))


def parse_upload_manifest(manifest: ManifestText) -> list[UploadEntry]:
    """Parse a Song upload manifest's text (see :func:`read_upload_manifest`).

    Raises:
        InvalidRequestError: a malformed line (with its number), or no entries.
    """
    where = manifest.where
    out = []
    for number, line in enumerate(manifest.text.splitlines()[1:], start=2):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != 3:
            raise e.InvalidRequestError(f"{where}:{number}: expected 3 tab-separated columns (object id, file, md5)")
        object_id, file, md5 = (c.strip() for c in cols)
        if not is_object_id(object_id):
            raise e.InvalidRequestError(f"{where}:{number}: {object_id[:40]!r} is not an object id")
        if not is_md5_hex(md5):
            raise e.InvalidRequestError(f"{where}:{number}: {md5[:40]!r} is not an MD5")
        out.append(UploadEntry(object_id, Path(file), md5.lower()))
    if not out:
        raise e.InvalidRequestError(f"manifest {where} lists no files (its first line is a header and is skipped)")
    return out


def write_upload_manifest(path: Path, analysis_id: str, entries: list[UploadEntry]) -> None:
    """Write a manifest as Song's ``manifest`` command does (absolute paths)."""
    lines = [f"{analysis_id}\t\t"] + [f"{x.object_id}\t{x.path.resolve()}\t{x.md5}" for x in entries]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


ICGC_COLUMNS = 11
ICGC_OBJECT_ID_COLUMN = 2


def read_download_manifest(path: Path) -> list[str]:
    """Object ids from a manifest file (see :func:`parse_download_manifest`).

    Raises:
        InvalidRequestError: a missing or non-UTF-8 file, neither format, or a bad object id (with its line number).
    """
    return parse_download_manifest(ManifestText(read_manifest_text(path), str(path)))


def parse_download_manifest(manifest: ManifestText) -> list[str]:
    """Object ids from an ICGC portal manifest (11 columns, header row, ``object_id`` third) or a
    Song upload manifest (3 columns, first line skipped), each once, in order.

    Raises:
        InvalidRequestError: neither format, or a bad object id (with its line number).
    """
    where = manifest.where
    lines = manifest.text.splitlines()
    if not lines:
        raise e.InvalidRequestError(f"manifest {where} is empty")
    header = lines[0].split("\t")
    if len(header) != ICGC_COLUMNS:
        return list(dict.fromkeys(x.object_id for x in parse_upload_manifest(manifest)))
    out = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != ICGC_COLUMNS:
            raise e.InvalidRequestError(f"{where}:{number}: expected {ICGC_COLUMNS} tab-separated columns")
        oid = cols[ICGC_OBJECT_ID_COLUMN].strip()
        if not is_object_id(oid):
            raise e.InvalidRequestError(f"{where}:{number}: {oid[:40]!r} is not an object id")
        out.append(oid)
    if not out:
        raise e.InvalidRequestError(f"manifest {where} lists no files")
    return list(dict.fromkeys(out))
