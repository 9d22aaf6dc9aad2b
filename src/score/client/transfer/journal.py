"""Download resume state: a versioned header written atomically plus an append-only part log.

Layout, next to the output: ``<out>/.<objectId>/`` (``<out>/.<objectId>.<first>-<last>/`` for a
byte range, so that a range and the whole object never share state) holding ``journal.json``
(what is being downloaded), ``parts.log`` (one JSON line per verified part) and ``data`` (the
bytes so far). A torn last line of the log (a kill mid-write) is ignored, so the state never lies.
An object of one part keeps no state: its bytes go to ``<out>/.<objectId>.part`` until verified.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from score.client.transfer.disk_space import is_disk_full, write_error
from score.domain.atomic_file import write_atomic
from score.domain.errors import ResumeStateError

VERSION = 1


@dataclass(frozen=True)
class JournalHeader:
    """Identity of a download: if any of this changes, old state is discarded."""

    object_id: str
    object_size: int
    object_md5: str | None
    range_start: int
    range_length: int
    parts: list[tuple[int, int, int, str | None]]  # number, offset, size, sourceMd5

    def to_json(self) -> dict[str, Any]:
        """Serialisable form."""
        return {
            "version": VERSION,
            "objectId": self.object_id,
            "objectSize": self.object_size,
            "objectMd5": self.object_md5,
            "rangeStart": self.range_start,
            "rangeLength": self.range_length,
            "parts": [list(p) for p in self.parts],
        }


class DownloadJournal:
    """The resume state of one download."""

    def __init__(self, state_dir: Path, *, persistent: bool = True) -> None:
        """State lives in *state_dir*; without *persistent* there is no state, only the bytes, in
        ``<state_dir>.part`` beside it (no header, no part log, no directory: an object of one part is
        fetched again whole, and each of thousands of small files costs no extra file-system work).
        """
        self.persistent = persistent
        self.dir = state_dir
        self.header_path = state_dir / "journal.json"
        self.log_path = state_dir / "parts.log"
        self.data_path = state_dir / "data" if persistent else state_dir.with_name(state_dir.name + ".part")
        self._log_fd: int | None = None

    def open(self, header: JournalHeader) -> dict[int, str]:
        """Start or resume; return the MD5s of parts already verified.

        Raises:
            DiskSpaceError: the file system is full.
            ResumeStateError: the state directory cannot be created or written otherwise.
        """
        try:
            if not self.persistent:
                if self.dir.exists():  # an earlier run's state of this object when it had several parts
                    shutil.rmtree(self.dir)
                return {}  # the bytes an earlier run left in data_path are overwritten
            existing = self._read_header()
            if existing != header.to_json():
                self.discard()
                self.dir.mkdir(parents=True, exist_ok=True)
                write_atomic(self.header_path, json.dumps(header.to_json()).encode())
            done = self._read_log()
            self._log_fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            if is_disk_full(exc):
                raise write_error(exc, self.dir) from exc
            raise ResumeStateError(f"cannot write download state in {self.dir}: {exc.strerror}") from exc
        return done

    def _read_header(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.header_path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _read_log(self) -> dict[int, str]:
        done: dict[int, str] = {}
        try:
            lines = self.log_path.read_text().splitlines()
        except FileNotFoundError:
            return done
        for line in lines:
            try:
                rec = json.loads(line)
                done[int(rec["n"])] = str(rec["md5"])
            except (ValueError, KeyError, TypeError):
                continue  # a torn line from a killed run
        return done

    def record(self, number: int, md5: str) -> None:
        """Append a verified part (one small write: atomic with O_APPEND)."""
        if not self.persistent:
            return
        assert self._log_fd is not None
        os.write(self._log_fd, (json.dumps({"n": number, "md5": md5}) + "\n").encode())

    def forget(self, number: int) -> None:
        """Mark a part as not done (its bytes failed re-verification)."""
        if not self.persistent:
            return
        assert self._log_fd is not None
        os.write(self._log_fd, (json.dumps({"n": number, "md5": ""}) + "\n").encode())

    def close(self) -> None:
        """Close the log."""
        if self._log_fd is not None:
            os.close(self._log_fd)
            self._log_fd = None

    def discard(self) -> None:
        """Remove all state."""
        self.close()
        if not self.persistent:
            self.data_path.unlink(missing_ok=True)
            return
        shutil.rmtree(self.dir, ignore_errors=True)
