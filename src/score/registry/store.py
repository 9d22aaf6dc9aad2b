"""SQLite storage of analyses and their files, in Song's vocabulary (pure persistence, no HTTP).

One database file under the data directory; WAL mode with a busy timeout, so the worker processes of
one score-server (``serve --workers N``) share it; every call is short and runs under one lock per
process (callers run it off the event loop). Replicas on other machines need Song.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from score.domain.errors import NotFoundError
from score.domain.model import AnalysisRow, AnalysisState, FileRow, ObjectRecord
from score.registry.rows import (
    FILE_COLUMNS,
    RECORD_QUERY,
    SET_STATE,
    file_row,
    insert_rows,
    object_record,
    state_refused,
)
from score.registry.validation import checked_submission, file_object_id

__all__ = ["BUSY_TIMEOUT_S", "RegistryStore", "file_object_id"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS analysis (
    id TEXT PRIMARY KEY, study TEXT NOT NULL, state TEXT NOT NULL, payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS file (
    object_id TEXT PRIMARY KEY, analysis_id TEXT NOT NULL REFERENCES analysis(id), study TEXT NOT NULL,
    name TEXT NOT NULL, size INTEGER NOT NULL, md5 TEXT NOT NULL, type TEXT NOT NULL, access TEXT NOT NULL,
    created_ms INTEGER,
    UNIQUE (analysis_id, name)
);
CREATE INDEX IF NOT EXISTS file_by_analysis ON file(analysis_id);
"""
# Databases written before files kept their registration time get the column (NULL for their rows).
_ADD_CREATED = "ALTER TABLE file ADD COLUMN created_ms INTEGER"
BUSY_TIMEOUT_S = 10.0  # how long a statement waits for another process's write to finish


class RegistryStore:
    """Analyses and files in one SQLite file."""

    reads_block = False  # object records are read on the event loop: a local, never-waiting WAL read

    def __init__(self, path: Path, now: Callable[[], datetime] | None = None) -> None:
        """Open (creating) the database at *path*; *now* gives the registration time (the wall clock by default)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._now = now or (lambda: datetime.now(UTC))
        # A busy timeout: the server's worker processes (``serve --workers N``) share the file; WAL lets
        # readers go on while one of them writes.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        self._db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(file)")}
        if "created_ms" not in columns:
            try:
                self._db.execute(_ADD_CREATED)
            except sqlite3.OperationalError as exc:  # another worker process added it meanwhile
                if "duplicate column" not in str(exc):
                    raise
        self._lock = threading.Lock()
        # Object records are read on a connection of their own, never written through: a WAL reader waits
        # neither for writers nor for the lock they hold, so the read can run on the event loop.
        self._reader = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        self._reader.execute("PRAGMA query_only=ON")
        self._read_lock = threading.Lock()

    def close(self) -> None:
        """Close the database."""
        self._reader.close()
        self._db.close()

    def submit(self, study: str, payload: dict[str, Any]) -> AnalysisRow:
        """Register a new UNPUBLISHED analysis with its files.

        Raises:
            InvalidRequestError: a malformed payload or study id.
        """
        files = checked_submission(study, payload)
        analysis_id = str(uuid.uuid4())
        created_ms = int(self._now().timestamp() * 1000)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO analysis (id, study, state, payload) VALUES (?, ?, ?, ?)",
                    (analysis_id, study, AnalysisState.UNPUBLISHED.value, json.dumps(payload)),
                )
                self._db.executemany(
                    f"INSERT INTO file ({FILE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                    insert_rows(analysis_id, study, files, created_ms),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return self.analysis(study, analysis_id)

    def _files(self, where: str, args: tuple[Any, ...], limit: str = "") -> list[FileRow]:
        rows = self._db.execute(
            f"SELECT {FILE_COLUMNS} FROM file WHERE {where} ORDER BY object_id {limit}",  # noqa: S608
            args,
        ).fetchall()
        return [file_row(r) for r in rows]

    def analysis(self, study: str, analysis_id: str) -> AnalysisRow:
        """One analysis with its files.

        Raises:
            NotFoundError: no such analysis in that study.
        """
        with self._lock:
            row = self._db.execute(
                "SELECT id, study, state, payload FROM analysis WHERE id = ? AND study = ?", (analysis_id, study)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"analysis {analysis_id[:64]!r} not found in study {study[:64]!r}")
            files = self._files("analysis_id = ?", (analysis_id,))
        return AnalysisRow(row[0], row[1], AnalysisState(row[2]), json.loads(row[3]), files)

    def set_state(self, study: str, analysis_id: str, state: AnalysisState) -> AnalysisRow:
        """Publish, unpublish or suppress (checked and changed in one statement).

        Raises:
            NotFoundError: no such analysis.
            AnalysisStateError: a suppressed analysis cannot be published again (400, as Song's
                SUPPRESSED_STATE_TRANSITION).
        """
        with self._lock:
            changed = self._db.execute(SET_STATE.format(p="?"), (state.value, analysis_id, study, state.value)).rowcount
        if not changed:
            raise state_refused(self.analysis(study, analysis_id).state)  # NotFoundError when there is none
        return self.analysis(study, analysis_id)

    def entity(self, object_id: str) -> FileRow | None:
        """The file with *object_id*, or None."""
        with self._lock:
            rows = self._files("object_id = ?", (object_id,))
        return rows[0] if rows else None

    def object_record(self, object_id: str) -> ObjectRecord | None:
        """What the access policy needs of the file with *object_id* (with its analysis's state and
        files), in one indexed statement on the reading connection; None when it is not registered.
        """
        with self._read_lock:
            rows = self._reader.execute(RECORD_QUERY.format(p="?"), (object_id,)).fetchall()
        return object_record(rows)

    def entities(self, analysis_id: str | None, study: str | None, page: int, size: int) -> tuple[list[FileRow], int]:
        """A page of files filtered by analysis and/or study, and the total count."""
        clauses, args = [], []
        if analysis_id:
            clauses.append("analysis_id = ?")
            args.append(analysis_id)
        if study:
            clauses.append("study = ?")
            args.append(study)
        where = " AND ".join(clauses) or "1 = 1"
        with self._lock:
            total = int(self._db.execute(f"SELECT COUNT(*) FROM file WHERE {where}", args).fetchone()[0])  # noqa: S608
            rows = self._files(where, (*args, size, page * size), "LIMIT ? OFFSET ?")
        return rows, total
