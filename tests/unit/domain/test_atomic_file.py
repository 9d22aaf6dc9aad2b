"""The one atomic write: the file is complete or absent (or still the old one), never torn; no temp file is left."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from score.domain import atomic_file
from score.domain.atomic_file import TMP_PREFIX, write_atomic


def leftovers(directory: Path) -> list[str]:
    """Temporary files left in *directory*."""
    return [p.name for p in directory.iterdir() if p.name.startswith(TMP_PREFIX)]


def test_writes_a_new_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    assert write_atomic(target, b'{"a": 1}') is True
    assert target.read_bytes() == b'{"a": 1}'
    assert leftovers(tmp_path) == []


def test_replaces_an_existing_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old content that is longer than the new one")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"


def test_mode_of_a_secret(tmp_path: Path) -> None:
    target = tmp_path / "key"
    write_atomic(target, b"secret", mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_make_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c.json"
    with pytest.raises(FileNotFoundError):
        write_atomic(target, b"x")
    write_atomic(target, b"x", make_parents=True)
    assert target.read_bytes() == b"x"


def test_first_writer_wins_without_replace(tmp_path: Path) -> None:
    target = tmp_path / "key"
    assert write_atomic(target, b"first", replace=False) is True
    assert write_atomic(target, b"second", replace=False) is False
    assert target.read_bytes() == b"first"
    assert leftovers(tmp_path) == []


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash between the write and the rename (here: fsync fails) keeps the old content whole."""
    target = tmp_path / "state.json"
    target.write_bytes(b"old")

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_file.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, b"new content")
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_a_failed_first_write_leaves_no_file_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "state.json"

    def failing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(atomic_file.os, "replace", failing_replace)
    with pytest.raises(OSError, match="Input/output"):
        write_atomic(target, b"new")
    assert not target.exists()
    assert leftovers(tmp_path) == []


def test_an_interrupted_write_is_never_seen_torn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the temporary file is half written, the target still holds the whole old content."""
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    seen: list[bytes] = []
    real_fsync = os.fsync

    def looking_fsync(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):  # the temporary file, before the rename
            seen.append(target.read_bytes())
            raise KeyboardInterrupt
        real_fsync(fd)

    monkeypatch.setattr(atomic_file.os, "fsync", looking_fsync)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, b"new " * 1000)
    assert seen == [b"old"]
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_the_directory_is_synced_after_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[bool] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(atomic_file.os, "fsync", recording_fsync)
    write_atomic(tmp_path / "f", b"x")
    assert synced == [False, True]  # the file first, then its directory
