r"""Song's upload manifest: a first line Score skips (Song writes ``<analysisId>\\t\\t``), then
``object id<TAB>file path<TAB>md5`` per file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from score.domain import errors as e
from score.domain.ids import is_md5_hex, is_object_id


@dataclass(frozen=True, slots=True)
class UploadEntry:
    """One file to upload."""

    object_id: str
    path: Path
    md5: str


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
        raise e.InvalidRequestError(
            f"manifest {path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}): "
            "convert it to UTF-8, e.g. iconv -f latin1 -t utf-8 OLD > NEW, and give the new file"
        ) from None


def read_upload_manifest(path: Path) -> list[UploadEntry]:
    """Parse a manifest; relative paths are relative to the current directory (as Score's client).

    Raises:
        InvalidRequestError: a missing or non-UTF-8 file, a malformed line (with its number), or no entries.
    """
    lines = read_manifest_text(path).splitlines()
    out = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != 3:
            raise e.InvalidRequestError(f"{path}:{number}: expected 3 tab-separated columns (object id, file, md5)")
        object_id, file, md5 = (c.strip() for c in cols)
        if not is_object_id(object_id):
            raise e.InvalidRequestError(f"{path}:{number}: {object_id[:40]!r} is not an object id")
        if not is_md5_hex(md5):
            raise e.InvalidRequestError(f"{path}:{number}: {md5[:40]!r} is not an MD5")
        out.append(UploadEntry(object_id, Path(file), md5.lower()))
    if not out:
        raise e.InvalidRequestError(f"manifest {path} lists no files (its first line is a header and is skipped)")
    return out


def write_upload_manifest(path: Path, analysis_id: str, entries: list[UploadEntry]) -> None:
    """Write a manifest as Song's ``manifest`` command does (absolute paths)."""
    lines = [f"{analysis_id}\t\t"] + [f"{x.object_id}\t{x.path.resolve()}\t{x.md5}" for x in entries]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


ICGC_COLUMNS = 11
ICGC_OBJECT_ID_COLUMN = 2


def read_download_manifest(path: Path) -> list[str]:
    """Object ids from an ICGC portal manifest (11 columns, header row, ``object_id`` third) or a
    Song upload manifest (3 columns, first line skipped).

    Raises:
        InvalidRequestError: a missing or non-UTF-8 file, neither format, or a bad object id (with its line number).
    """
    lines = read_manifest_text(path).splitlines()
    if not lines:
        raise e.InvalidRequestError(f"manifest {path} is empty")
    header = lines[0].split("\t")
    if len(header) == ICGC_COLUMNS:
        out = []
        for number, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            cols = line.split("\t")
            if len(cols) != ICGC_COLUMNS:
                raise e.InvalidRequestError(f"{path}:{number}: expected {ICGC_COLUMNS} tab-separated columns")
            oid = cols[ICGC_OBJECT_ID_COLUMN].strip()
            if not is_object_id(oid):
                raise e.InvalidRequestError(f"{path}:{number}: {oid[:40]!r} is not an object id")
            out.append(oid)
        if not out:
            raise e.InvalidRequestError(f"manifest {path} lists no files")
        return list(dict.fromkeys(out))
    return list(dict.fromkeys(x.object_id for x in read_upload_manifest(path)))
