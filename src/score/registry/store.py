"""SQLite storage of analyses and their files, in Song's vocabulary (pure persistence, no HTTP).

One database file under the data directory; WAL mode with a busy timeout, so the worker processes of
one score-server (``serve --workers N``) share it; every call is short and runs under one lock per
process (callers run it off the event loop). Replicas on other machines need Song.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import unicodedata
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from score.domain.errors import AnalysisStateError, InvalidRequestError, NotFoundError
from score.domain.ids import is_md5_hex
from score.domain.model import Access, AnalysisRow, AnalysisState, FileRow, ObjectRecord

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
# One row per file of the object's analysis (in object id order), each with the object's own fields.
_RECORD_QUERY = """
SELECT f.object_id, f.study, f.access, f.analysis_id, a.state, f.name, f.size, f.md5, s.object_id, s.name
FROM file f JOIN analysis a ON a.id = f.analysis_id AND a.study = f.study JOIN file s ON s.analysis_id = f.analysis_id
WHERE f.object_id = ? ORDER BY s.object_id
"""
# Databases written before files kept their registration time get the column (NULL for their rows).
_ADD_CREATED = "ALTER TABLE file ADD COLUMN created_ms INTEGER"
_FILE_NS = uuid.UUID("6f0a5b1e-4d9c-4a3e-9b1f-2c7d8e9a0b1c")
MAX_FILE_BYTES = 2**63 - 1
BUSY_TIMEOUT_S = (
    10.0  # how long a statement waits for another process's write to finish  # SQLite's INTEGER, and Song's Java long
)
# Control (incl. NUL, DEL, C1), format (bidi overrides), surrogate, line and paragraph separator characters:
# they rewrite a terminal line, cannot be stored as UTF-8, or split a listing.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def file_object_id(analysis_id: str, name: str) -> str:
    """A stable object id for a file of an analysis (re-submitting never mints new ids)."""
    return str(uuid.uuid5(_FILE_NS, f"{analysis_id}/{name}"))


def _validate_study(study: str) -> str:
    if not study or len(study) > 64 or not all(c.isalnum() or c in "-_." for c in study):
        raise InvalidRequestError("a study id has 1-64 letters, digits, '-', '_' or '.'")
    return study


def _check_text(field: str, value: str) -> str:
    if any(unicodedata.category(c) in _UNSAFE_CATEGORIES for c in value):
        shown = value[:200].encode("unicode_escape").decode("ascii")  # every unsafe character escaped
        raise InvalidRequestError(f"{field} '{shown}' contains control characters")
    return value


def _check_file_name(i: int, name: object) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidRequestError(f"files[{i}].fileName must be a plain file name")
    _check_text(f"files[{i}].fileName", name)
    if "/" in name or "\\" in name or name in (".", ".."):
        raise InvalidRequestError(f"files[{i}].fileName {name[:200]!r} must be a plain file name (no '/' or '\\')")
    return name


def _parse_files(payload: dict[str, Any]) -> list[dict[str, Any]]:
    files = payload.get("files")
    if not isinstance(files, list) or not files:
        raise InvalidRequestError("the analysis needs a non-empty 'files' list")
    out = []
    names = set()
    for i, f in enumerate(files):
        if not isinstance(f, dict):
            raise InvalidRequestError(f"files[{i}] must be an object")
        name, size, md5 = f.get("fileName"), f.get("fileSize"), f.get("fileMd5sum")
        access = str(f.get("fileAccess", "controlled")).lower()
        name = _check_file_name(i, name)
        if name in names:
            raise InvalidRequestError(f"file name {name!r} appears twice in the analysis")
        names.add(name)
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_FILE_BYTES:
            raise InvalidRequestError(f"files[{i}].fileSize must be an integer from 0 to {MAX_FILE_BYTES}")
        if not isinstance(md5, str) or not is_md5_hex(md5):
            raise InvalidRequestError(f"files[{i}].fileMd5sum must be 32 hex digits")
        if access not in (Access.OPEN.value, Access.CONTROLLED.value):
            raise InvalidRequestError(f"files[{i}].fileAccess must be 'open' or 'controlled'")
        file_type = _check_text(f"files[{i}].fileType", str(f.get("fileType") or ""))
        out.append({"name": name, "size": size, "md5": md5.lower(), "type": file_type, "access": access})
    return out


class RegistryStore:
    """Analyses and files in one SQLite file."""

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
        _validate_study(study)
        if payload.get("studyId") not in (None, study):
            raise InvalidRequestError("the payload's studyId differs from the study in the path")
        files = _parse_files(payload)
        analysis_id = str(uuid.uuid4())
        created_ms = int(self._now().timestamp() * 1000)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO analysis VALUES (?, ?, ?, ?)",
                    (analysis_id, study, AnalysisState.UNPUBLISHED.value, json.dumps(payload)),
                )
                for f in files:
                    self._db.execute(
                        "INSERT INTO file VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            file_object_id(analysis_id, f["name"]),
                            analysis_id,
                            study,
                            f["name"],
                            f["size"],
                            f["md5"],
                            f["type"],
                            f["access"],
                            created_ms,
                        ),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return self.analysis(study, analysis_id)

    def _files(self, where: str, args: tuple[Any, ...], limit: str = "") -> list[FileRow]:
        rows = self._db.execute(
            "SELECT object_id, analysis_id, study, name, size, md5, type, access, created_ms"  # noqa: S608
            f" FROM file WHERE {where} ORDER BY object_id {limit}",
            args,
        ).fetchall()
        return [
            FileRow(r[0], r[1], r[2], r[3], int(r[4]), r[5], r[6], Access(r[7]), None if r[8] is None else int(r[8]))
            for r in rows
        ]

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
        """Publish, unpublish or suppress.

        Raises:
            NotFoundError: no such analysis.
            AnalysisStateError: a suppressed analysis cannot be published again (400, as Song's
                SUPPRESSED_STATE_TRANSITION).
        """
        current = self.analysis(study, analysis_id)
        if current.state is AnalysisState.SUPPRESSED and state is not AnalysisState.SUPPRESSED:
            raise AnalysisStateError("a suppressed analysis stays suppressed")
        with self._lock:
            self._db.execute("UPDATE analysis SET state = ? WHERE id = ?", (state.value, analysis_id))
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
            rows = self._reader.execute(_RECORD_QUERY, (object_id,)).fetchall()
        if not rows:
            return None
        r = rows[0]
        return ObjectRecord(
            object_id=r[0],
            study_id=r[1],
            access=Access(r[2]),
            analysis_id=r[3],
            analysis_state=AnalysisState(r[4]),
            file_name=r[5],
            file_size=int(r[6]),
            file_md5=r[7],
            analysis_files=tuple((row[8], row[9]) for row in rows),
        )

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
