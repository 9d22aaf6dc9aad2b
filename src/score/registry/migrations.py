"""The PostgreSQL registry's schema, as numbered migrations applied in order and recorded in the database.

A new score-server version appends migrations (never edits applied ones). ``apply`` runs at start (unless
``registry.migrate_on_start`` is off) and in ``score-server migrate``; replicas starting together serialize on
a transaction-scoped advisory lock, so each migration runs once. ``check`` only reads the recorded version.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from score.domain.errors import ConfigError

# pg_advisory_xact_lock key: "score registry migrations" (any constant that other applications will not use)
LOCK_KEY = 0x5C0E_4E61_5354_5259
MIGRATIONS: Sequence[tuple[int, str, str]] = (
    (
        1,
        "analyses and their files",
        """
        CREATE TABLE analysis (
            id TEXT PRIMARY KEY, study TEXT NOT NULL, state TEXT NOT NULL, payload TEXT NOT NULL
        );
        CREATE TABLE file (
            object_id TEXT PRIMARY KEY, analysis_id TEXT NOT NULL REFERENCES analysis(id), study TEXT NOT NULL,
            name TEXT NOT NULL, size BIGINT NOT NULL, md5 TEXT NOT NULL, type TEXT NOT NULL, access TEXT NOT NULL,
            created_ms BIGINT,
            UNIQUE (analysis_id, name)
        );
        CREATE INDEX file_by_analysis ON file(analysis_id);
        CREATE INDEX file_by_study ON file(study, object_id);
        """,
    ),
)
LATEST = MIGRATIONS[-1][0]
_TABLE = (
    "CREATE TABLE IF NOT EXISTS score_schema_migrations "
    "(version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
)


def _applied(conn: Any) -> set[int]:
    return {int(r[0]) for r in conn.execute("SELECT version FROM score_schema_migrations").fetchall()}


def _newer_than_known(version: int) -> ConfigError:
    return ConfigError(
        f"the registry database has schema version {version}, newer than this score-server knows ({LATEST}): "
        "run the newer score-server (or restore the database)"
    )


def apply(conn: Any) -> list[int]:
    """Apply the migrations *conn*'s database lacks, in order, in one transaction; the versions applied.

    *conn* is an autocommit ``psycopg.Connection``.

    Raises:
        ConfigError: the database holds a newer schema than this version knows.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        conn.execute(_TABLE)
        done = _applied(conn)
        if done and max(done) > LATEST:
            raise _newer_than_known(max(done))
        applied = []
        for version, description, sql in MIGRATIONS:
            if version in done:
                continue
            conn.execute(sql)
            conn.execute(
                "INSERT INTO score_schema_migrations (version, description) VALUES (%s, %s)", (version, description)
            )
            applied.append(version)
    return applied


def check(conn: Any) -> None:
    """Refuse a database whose schema is not this version's.

    Raises:
        ConfigError: migrations are missing (run ``score-server migrate``) or the schema is newer.
    """
    exists = conn.execute("SELECT to_regclass('score_schema_migrations')").fetchone()[0]
    done = _applied(conn) if exists else set()
    missing = [v for v, _, _ in MIGRATIONS if v not in done]
    if done and max(done) > LATEST:
        raise _newer_than_known(max(done))
    if missing:
        raise ConfigError(
            f"the registry database lacks schema migration(s) {missing}: run `score-server migrate` "
            "(or set SCORE_REGISTRY__MIGRATE_ON_START=true)"
        )
