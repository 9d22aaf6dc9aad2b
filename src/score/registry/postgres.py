"""PostgreSQL storage of analyses and their files, for registries that several score-server replicas share.

The same contract as the SQLite store (``registry/store.py``): the same validation, the same rows, Song's
state rule applied in one statement. Connections come from a psycopg pool per process (autocommit; a submit
is one transaction). The database unreachable, or the pool exhausted past ``connect_timeout``, is an
``UpstreamUnavailableError`` (503, retryable; the database's address only in the server's log): a request
fails, the server does not.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from score.domain.errors import ConfigError, NotFoundError, UpstreamUnavailableError
from score.domain.model import AnalysisRow, AnalysisState, FileRow, ObjectRecord
from score.registry import migrations
from score.registry.rows import (
    FILE_COLUMNS,
    RECORD_QUERY,
    SET_STATE,
    file_row,
    insert_rows,
    object_record,
    state_refused,
)
from score.registry.validation import checked_submission

log = logging.getLogger(__name__)


def describe(url: str) -> str:
    """*url* without its password: ``postgresql://user@host:port/database``, for messages and logs."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(an unreadable URL)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', 'localhost')}{port}/{parts.get('dbname', '')}"


def prepare(url: str, connect_timeout: float, migrate: bool) -> list[int]:
    """Bring the database's schema to this version (*migrate*) or check that it is; the versions applied.

    Raises:
        ConfigError: the database cannot be reached, or its schema is not this version's.
    """
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=max(1, round(connect_timeout))) as conn:
            if migrate:
                return migrations.apply(conn)
            migrations.check(conn)
            return []
    except psycopg.Error as exc:
        raise ConfigError(f"cannot prepare the registry database {describe(url)}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


class PostgresRegistry:
    """Analyses and files in one PostgreSQL database."""

    reads_block = True  # object records cross the network: read them off the event loop

    def __init__(
        self, url: str, pool_size: int = 10, connect_timeout: float = 10.0, now: Callable[[], datetime] | None = None
    ) -> None:
        """A pool of up to *pool_size* connections to *url* (opened lazily; the schema must be prepared)."""
        self._where = describe(url)
        self._now = now or (lambda: datetime.now(UTC))
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "connect_timeout": max(1, round(connect_timeout))},
            timeout=connect_timeout,
            check=ConnectionPool.check_connection,  # a connection the database dropped is replaced, not used
            open=False,
            name="score-registry",
        )
        self._pool.open(wait=False)

    def close(self) -> None:
        """Close the pool's connections."""
        self._pool.close()

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            # where and why go to the server's log; a caller (maybe anonymous) learns nothing of the database
            log.warning("the registry database %s is unavailable: %s", self._where, _first_line(exc))
            raise UpstreamUnavailableError("the registry database is unavailable; try again shortly") from exc

    def submit(self, study: str, payload: dict[str, Any]) -> AnalysisRow:
        """Register a new UNPUBLISHED analysis with its files, in one transaction.

        Raises:
            InvalidRequestError: a malformed payload or study id.
        """
        files = checked_submission(study, payload)
        analysis_id = str(uuid.uuid4())
        created_ms = int(self._now().timestamp() * 1000)
        rows = insert_rows(analysis_id, study, files, created_ms)
        with self._conn() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO analysis (id, study, state, payload) VALUES (%s, %s, %s, %s)",
                (analysis_id, study, AnalysisState.UNPUBLISHED.value, json.dumps(payload)),
            )
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO file ({FILE_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",  # noqa: S608
                    rows,
                )
        return self.analysis(study, analysis_id)

    @staticmethod
    def _files(conn: psycopg.Connection[Any], where: str, args: tuple[Any, ...], limit: str = "") -> list[FileRow]:
        rows = conn.execute(
            f"SELECT {FILE_COLUMNS} FROM file WHERE {where} ORDER BY object_id {limit}",  # noqa: S608
            args,
        ).fetchall()
        return [file_row(r) for r in rows]

    def analysis(self, study: str, analysis_id: str) -> AnalysisRow:
        """One analysis with its files.

        Raises:
            NotFoundError: no such analysis in that study.
        """
        with self._conn() as conn:
            row = conn.execute(
                "SELECT id, study, state, payload FROM analysis WHERE id = %s AND study = %s", (analysis_id, study)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"analysis {analysis_id[:64]!r} not found in study {study[:64]!r}")
            files = self._files(conn, "analysis_id = %s", (analysis_id,))
        return AnalysisRow(row[0], row[1], AnalysisState(row[2]), json.loads(row[3]), files)

    def set_state(self, study: str, analysis_id: str, state: AnalysisState) -> AnalysisRow:
        """Publish, unpublish or suppress (checked and changed in one statement).

        Raises:
            NotFoundError: no such analysis.
            AnalysisStateError: a suppressed analysis cannot be published again.
        """
        with self._conn() as conn:
            changed = conn.execute(SET_STATE.format(p="%s"), (state.value, analysis_id, study, state.value)).rowcount
        if not changed:
            raise state_refused(self.analysis(study, analysis_id).state)  # NotFoundError when there is none
        return self.analysis(study, analysis_id)

    def entity(self, object_id: str) -> FileRow | None:
        """The file with *object_id*, or None."""
        with self._conn() as conn:
            rows = self._files(conn, "object_id = %s", (object_id,))
        return rows[0] if rows else None

    def object_record(self, object_id: str) -> ObjectRecord | None:
        """What the access policy needs of the file with *object_id*; None when it is not registered."""
        with self._conn() as conn:
            return object_record(conn.execute(RECORD_QUERY.format(p="%s"), (object_id,)).fetchall())

    def entities(self, analysis_id: str | None, study: str | None, page: int, size: int) -> tuple[list[FileRow], int]:
        """A page of files filtered by analysis and/or study, and the total count."""
        clauses, args = [], []
        if analysis_id:
            clauses.append("analysis_id = %s")
            args.append(analysis_id)
        if study:
            clauses.append("study = %s")
            args.append(study)
        where = " AND ".join(clauses) or "TRUE"
        with self._conn() as conn:
            found = conn.execute(f"SELECT COUNT(*) FROM file WHERE {where}", args).fetchone()  # noqa: S608
            rows = self._files(conn, where, (*args, size, page * size), "LIMIT %s OFFSET %s")
        return rows, int(found[0]) if found else 0
