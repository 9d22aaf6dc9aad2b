"""The downloader's local side (issue 20): where a range is written, when a file already there counts as
complete, and what a full disk ends in. A fake server and data plane serve bytes from memory; no sockets."""

from __future__ import annotations

import errno
import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from score.client.transfer.data_plane import pwrite_all as real
from score.client.transfer.download import Downloader
from score.domain import errors as e
from score.domain.ranges import ByteRange, resolve_range
from score.wire.client_models import ObjectSpecification, Part

OID = "5b6f2c52-2f1d-4a4e-9a56-0d1f1c6e9a01"
PART = 1000
DATA = bytes(range(256)) * 14  # 3584 bytes: parts of 1000, 1000, 1000 and 584


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class FakeServer:
    """``download_spec`` as score-server answers it: whole objects with their MD5, ranges cut along the parts."""

    def download_spec(self, object_id: str, offset: int = 0, length: int = -1) -> ObjectSpecification:
        rng = resolve_range(offset, length, len(DATA))
        parts: list[Part] = []
        for start in range(0, len(DATA), PART):
            first, end = max(start, rng.start), min(start + PART, rng.end)
            if end > first:
                whole = first == start and end == min(start + PART, len(DATA))
                parts.append(
                    Part(
                        partNumber=len(parts) + 1,
                        partSize=end - first,
                        offset=first,
                        url=f"u{first}",
                        sourceMd5=_md5(DATA[first:end]) if whole else None,
                    )
                )
        everything = rng == ByteRange(0, len(DATA))
        return ObjectSpecification(
            objectKey=f"data/{object_id}",
            objectId=object_id,
            uploadId=object_id,
            parts=parts,
            objectSize=rng.length,
            objectMd5=_md5(DATA) if everything else None,
        )


class FakeData:
    """Serves ``DATA`` for any URL and counts the ranged GETs."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    @property
    def gets(self) -> int:
        return len(self.urls)

    def get_range(
        self,
        url: str,
        rng: ByteRange,
        sink: Callable[[memoryview, int], None],
        cancel: threading.Event,
        *,
        hash_bytes: bool = True,
    ) -> str:
        self.urls.append(url)
        chunk = DATA[rng.start : rng.end]
        sink(memoryview(chunk), 0)
        return _md5(chunk) if hash_bytes else ""


def _downloader(data: FakeData | None = None) -> Downloader:
    fake: Any = FakeServer()
    return Downloader(fake, data or FakeData(), parallel=1)  # type: ignore[arg-type]


def test_a_range_gets_a_name_and_resume_state_of_its_own(tmp_path: Path) -> None:
    """Issue 20, defect 5: a range was written under the object's own name."""
    dl = _downloader()
    try:
        r = dl.download(OID, tmp_path, offset=0, length=10)
        assert r.path == tmp_path / f"{OID}.0-9" and r.path.read_bytes() == DATA[:10]
        r = dl.download(OID, tmp_path, offset=3000, target=tmp_path / "x.bam")
        assert r.path == tmp_path / f"x.bam.3000-{len(DATA) - 1}" and r.path.read_bytes() == DATA[3000:]
        assert not (tmp_path / OID).exists() and not (tmp_path / "x.bam").exists()
        r = dl.download(OID, tmp_path)
        assert r.path == tmp_path / OID and r.verified and r.path.read_bytes() == DATA
        with pytest.raises(e.InvalidRequestError, match="--length 0 selects no bytes"):
            dl.download(OID, tmp_path, offset=5, length=0)
    finally:
        dl.close()


def test_a_file_already_there_is_skipped_only_once_checked(tmp_path: Path) -> None:
    """Issue 20, defect 5: the "already complete" check looked only at the file's existence."""
    data = FakeData()
    dl = _downloader(data)
    target = tmp_path / OID
    try:
        target.write_bytes(DATA[:10])
        with pytest.raises(e.ConflictError) as short:
            dl.download(OID, tmp_path)
        assert short.value.message == (
            f"{target} exists but holds 10 bytes, not the {len(DATA)} of object {OID}; it "
            "was left as it is: move it away, or use --force to replace it"
        )
        other = bytearray(DATA)
        other[1500] ^= 1
        target.write_bytes(bytes(other))
        with pytest.raises(e.ConflictError) as wrong:
            dl.download(OID, tmp_path)
        assert wrong.value.message.startswith(
            f"{target} exists but its MD5 {_md5(bytes(other))} is not the {_md5(DATA)} of object {OID};"
        )
        assert target.read_bytes() == bytes(other) and data.gets == 0  # left as it is, nothing fetched
        assert dl.download(OID, tmp_path, force=True).path.read_bytes() == DATA
        again = dl.download(OID, tmp_path)
        assert again.skipped and again.verified and data.gets == 4
        # a range whose edges cut stored parts: those parts' bytes are fetched again to compare, not kept
        ranged = tmp_path / f"{OID}.500-2499"
        ranged.write_bytes(DATA[500:2500])
        skipped = dl.download(OID, tmp_path, offset=500, length=2000)
        assert skipped.skipped and skipped.verified and data.gets == 4 + 2
        ranged.write_bytes(DATA[500:2499] + b"?")
        with pytest.raises(
            e.ConflictError,
            match=f"its bytes 2000-2499 have MD5 {_md5(DATA[2000:2499] + b'?')}, "
            f"not the {_md5(DATA[2000:2500])} of object",
        ):
            dl.download(OID, tmp_path, offset=500, length=2000)
    finally:
        dl.close()


def test_a_full_disk_stops_the_download_at_once_and_keeps_what_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 20: ENOSPC while writing was taken for a network error and retried (then exit 6, not 8)."""
    data = FakeData()
    writes = []

    def pwrite_all(fd: int, chunk: bytes | memoryview, offset: int) -> None:
        writes.append(offset)
        if len(writes) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, chunk, offset)

    monkeypatch.setattr("score.client.transfer.download.pwrite_all", pwrite_all)
    dl = _downloader(data)
    try:
        with pytest.raises(e.DiskSpaceError) as full:
            dl.download(OID, tmp_path)
        state = tmp_path / f".{OID}"
        assert full.value.message == (
            f"the output file system is full: writing {state / 'data'} failed (No space "
            "left on device); the parts written so far are kept"
        )
        assert len(set(data.urls)) == len(data.urls)  # no part was fetched again: a full disk is not retried
        assert not (tmp_path / OID).exists()
        monkeypatch.setattr("score.client.transfer.download.pwrite_all", real)
        r = dl.download(OID, tmp_path)
        assert r.parts_resumed == 1 and r.parts_fetched == 3 and r.path.read_bytes() == DATA
    finally:
        dl.close()
