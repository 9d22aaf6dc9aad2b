"""Song's upload manifest: read what Song writes, refuse malformed lines with their line number."""

from __future__ import annotations

from pathlib import Path

import pytest

from score.client.transfer.manifest import (
    UploadEntry,
    read_download_manifest,
    read_upload_manifest,
    write_upload_manifest,
)
from score.domain.errors import InvalidRequestError

OID = "5b6f2c52-2f1d-4a4e-9a56-0d1f1c6e9a01"


def test_round_trip_as_song_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    write_upload_manifest(path, "AN1", [UploadEntry(OID, Path("rel/x.bam"), "a" * 32)])
    lines = path.read_text().splitlines()
    assert lines[0] == "AN1\t\t" and lines[1].split("\t")[1].startswith("/")  # absolute, as Song writes
    assert read_upload_manifest(path) == [UploadEntry(OID, (Path("rel/x.bam")).resolve(), "a" * 32)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"{OID}\tx\n", ":2: expected 3"),
        (f"not-an-id\tx\t{'a' * 32}\n", ":2: 'not-an-id' is not an object id"),
        (f"{OID}\tx\tzz\n", ":2: 'zz' is not an MD5"),
        ("\n", "lists no files"),
    ],
)
def test_malformed_manifests(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "m.txt"
    path.write_text("header\t\t\n" + body)
    with pytest.raises(InvalidRequestError, match=message):
        read_upload_manifest(path)
    with pytest.raises(InvalidRequestError, match="does not exist"):
        read_upload_manifest(tmp_path / "absent.txt")


def test_a_manifest_that_is_not_utf8_is_a_clear_usage_error(tmp_path: Path) -> None:
    """Issue 20, defect 9: a Latin-1 manifest ended in a UnicodeDecodeError traceback."""
    path = tmp_path / "latin1.txt"
    path.write_bytes(f"AN1\t\t\n{OID}\tcaf\xe9.bam\t{'a' * 32}\n".encode("latin-1"))
    expected = (
        f"manifest {path} is not UTF-8 text (byte 0xe9 at offset 46): convert it to UTF-8, e.g. "
        "iconv -f latin1 -t utf-8 OLD > NEW, and give the new file"
    )
    for read in (read_upload_manifest, read_download_manifest):
        with pytest.raises(InvalidRequestError) as err:
            read(path)
        assert err.value.message == expected
