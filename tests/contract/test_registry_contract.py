"""One registry contract, run unchanged on both engines: SQLite (the embedded default) and PostgreSQL (replicas).

Each engine is driven only through the RegistryEngine port. The concurrency tests write from two separate
processes at once, as two workers or two replicas would: no submit is lost, no object id is minted twice, and
Song's one state rule (a suppressed analysis stays suppressed) holds whatever the interleaving.
"""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from score.domain.errors import AnalysisStateError, ConfigError, InvalidRequestError, NotFoundError
from score.domain.model import Access, AnalysisState
from score.domain.ports import RegistryEngine
from score.registry import migrations
from score.registry.postgres import PostgresRegistry, describe, prepare
from score.registry.store import RegistryStore, file_object_id
from tests.kit.postgres import Postgres

MD5 = "c" * 32


def _open(target: str) -> RegistryEngine:
    if target.startswith("postgresql://"):
        return PostgresRegistry(target, pool_size=4, connect_timeout=10)
    return RegistryStore(Path(target))


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where an engine lives: an SQLite file, or a fresh PostgreSQL database with this version's schema."""
    if request.param == "sqlite":
        return str(tmp_path / "registry.sqlite")
    cluster: Postgres = request.getfixturevalue("postgres")
    url = cluster.database()
    prepare(url, 10, migrate=True)
    return url


@pytest.fixture
def engine(target: str) -> Iterator[RegistryEngine]:
    """The engine at *target*, closed afterwards."""
    reg = _open(target)
    yield reg
    reg.close()


def _payload(*names: str, access: str = "controlled") -> dict[str, Any]:
    return {"files": [{"fileName": n, "fileSize": 3, "fileMd5sum": MD5.upper(), "fileAccess": access} for n in names]}


def test_submit_read_and_page(engine: RegistryEngine, target: str) -> None:
    a = engine.submit("ABC", _payload("x.bam", "x.bam.bai"))
    assert a.state is AnalysisState.UNPUBLISHED
    assert [f.name for f in a.files] == sorted(["x.bam", "x.bam.bai"], key=lambda n: file_object_id(a.analysis_id, n))
    bam = next(f for f in a.files if f.name == "x.bam")
    assert bam.object_id == file_object_id(a.analysis_id, "x.bam") and bam.md5 == MD5 and bam.size == 3
    assert bam.access is Access.CONTROLLED and bam.created_ms is not None
    assert engine.analysis("ABC", a.analysis_id).payload == _payload("x.bam", "x.bam.bai")
    with pytest.raises(NotFoundError):
        engine.analysis("OTHER", a.analysis_id)  # an analysis belongs to one study
    assert engine.entity(bam.object_id) == bam
    assert engine.entity(str(uuid.uuid4())) is None
    record = engine.object_record(bam.object_id)
    assert record is not None and record.study_id == "ABC" and record.analysis_state is AnalysisState.UNPUBLISHED
    assert record.file_md5 == MD5 and sorted(n for _, n in record.analysis_files) == ["x.bam", "x.bam.bai"]
    assert engine.object_record(str(uuid.uuid4())) is None
    engine.submit("XYZ", _payload("y.vcf.gz"))
    rows, total = engine.entities(None, "ABC", 0, 1)
    assert total == 2 and len(rows) == 1
    assert engine.entities(None, "ABC", 1, 1)[0][0].object_id > rows[0].object_id  # object id order
    assert engine.entities(a.analysis_id, "XYZ", 0, 10) == ([], 0)
    assert engine.entities(None, None, 0, 10)[1] == 3
    assert engine.entities(None, None, 10**9, 2000) == ([], 3)  # the largest page the API allows
    engine.close()
    reopened = _open(target)  # durable
    assert reopened.analysis("ABC", a.analysis_id).files == a.files
    reopened.close()


@pytest.mark.parametrize(
    ("study", "payload", "message"),
    [
        ("ABC", {"files": [{"fileName": "x", "fileSize": 1, "fileMd5sum": MD5}] * 2}, "twice"),
        ("ABC", {"studyId": "XYZ", **_payload("x")}, "studyId"),
        ("../etc", _payload("x"), "study id"),
        ("ABC", _payload("a\x00b"), "control characters"),
        ("ABC", _payload("a\\b"), "plain file name"),
        ("ABC", {"files": [{"fileName": "x", "fileSize": 2**63, "fileMd5sum": MD5}]}, "fileSize"),
        ("ABC", {"files": []}, "non-empty"),
    ],
)
def test_bad_submissions_are_refused_alike(engine: RegistryEngine, study: str, payload: Any, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        engine.submit(study, payload)
    assert engine.entities(None, None, 0, 10) == ([], 0)  # nothing half-registered


def test_largest_file_size_round_trips(engine: RegistryEngine) -> None:
    a = engine.submit("ABC", {"files": [{"fileName": "big", "fileSize": 2**63 - 1, "fileMd5sum": MD5}]})
    assert engine.analysis("ABC", a.analysis_id).files[0].size == 2**63 - 1


def test_state_rules(engine: RegistryEngine) -> None:
    a = engine.submit("ABC", _payload("x"))
    assert engine.set_state("ABC", a.analysis_id, AnalysisState.PUBLISHED).state is AnalysisState.PUBLISHED
    assert engine.set_state("ABC", a.analysis_id, AnalysisState.UNPUBLISHED).state is AnalysisState.UNPUBLISHED
    with pytest.raises(NotFoundError):
        engine.set_state("OTHER", a.analysis_id, AnalysisState.PUBLISHED)
    with pytest.raises(NotFoundError):
        engine.set_state("ABC", str(uuid.uuid4()), AnalysisState.PUBLISHED)
    engine.set_state("ABC", a.analysis_id, AnalysisState.SUPPRESSED)
    engine.set_state("ABC", a.analysis_id, AnalysisState.SUPPRESSED)  # again: still fine
    for state in (AnalysisState.PUBLISHED, AnalysisState.UNPUBLISHED):
        with pytest.raises(AnalysisStateError, match="stays suppressed"):
            engine.set_state("ABC", a.analysis_id, state)
    assert engine.analysis("ABC", a.analysis_id).state is AnalysisState.SUPPRESSED


def _submit_many(target: str, study: str, count: int) -> list[str]:
    reg = _open(target)
    try:
        return [f.object_id for _ in range(count) for f in reg.submit(study, _payload("a.bam", "a.bam.bai")).files]
    finally:
        reg.close()


def _flip(target: str, study: str, analysis_ids: list[str], rounds: int) -> int:
    """Publish and unpublish each analysis *rounds* times; how many changes a suppression refused."""
    reg = _open(target)
    refused = 0
    try:
        for _ in range(rounds):
            for aid in analysis_ids:
                for state in (AnalysisState.PUBLISHED, AnalysisState.UNPUBLISHED):
                    try:
                        reg.set_state(study, aid, state)
                    except AnalysisStateError:
                        refused += 1
        return refused
    finally:
        reg.close()


def _suppress(target: str, study: str, analysis_ids: list[str]) -> int:
    reg = _open(target)
    try:
        return sum(
            reg.set_state(study, aid, AnalysisState.SUPPRESSED).state is AnalysisState.SUPPRESSED
            for aid in analysis_ids
        )
    finally:
        reg.close()


def test_concurrent_submits_from_two_processes_lose_nothing(engine: RegistryEngine, target: str) -> None:
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.starmap(_submit_many, [(target, "ABC", 60), (target, "ABC", 60)])
    minted = [oid for ids in results for oid in ids]
    assert len(minted) == 240 and len(set(minted)) == 240  # no duplicate object id
    rows, total = engine.entities(None, "ABC", 0, 2000)
    assert total == 240 and sorted(r.object_id for r in rows) == sorted(minted)  # no lost submit


def test_a_suppression_racing_publishes_always_wins(engine: RegistryEngine, target: str) -> None:
    ids = [engine.submit("ABC", _payload("x")).analysis_id for _ in range(20)]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        flipping = pool.apply_async(_flip, (target, "ABC", ids, 15))
        suppressed = pool.apply_async(_suppress, (target, "ABC", ids))
        assert suppressed.get(120) == 20
        flipping.get(120)
    # no publish read the state before the suppression and wrote after it
    assert {engine.analysis("ABC", aid).state for aid in ids} == {AnalysisState.SUPPRESSED}


@pytest.mark.postgres
def test_migrations_apply_once_and_refuse_other_versions(postgres: Postgres) -> None:
    url = postgres.database()
    with pytest.raises(ConfigError, match="score-server migrate"):
        prepare(url, 10, migrate=False)  # a new database: the schema is missing
    with multiprocessing.get_context("spawn").Pool(2) as pool:  # two replicas starting together
        applied = pool.starmap(prepare, [(url, 10, True), (url, 10, True)])
    assert sorted(applied, key=len) == [[], [v for v, _, _ in migrations.MIGRATIONS]]
    assert prepare(url, 10, migrate=False) == []  # current
    database = url.rsplit("/", 1)[1]
    postgres.sql(
        f"INSERT INTO score_schema_migrations (version, description) VALUES ({migrations.LATEST + 1}, 'x')", database
    )
    with pytest.raises(ConfigError, match="newer than this score-server knows"):
        prepare(url, 10, migrate=True)


@pytest.mark.postgres
def test_an_unreachable_database_is_named_without_its_password(postgres: Postgres) -> None:
    url = f"postgresql://score:s3cret-pw@127.0.0.1:{postgres.port + 1}/nowhere"  # nobody listens there
    with pytest.raises(ConfigError) as refused:
        prepare(url, 2, migrate=True)
    assert "postgresql://score@127.0.0.1" in refused.value.message and "s3cret-pw" not in refused.value.message
    assert describe(url) == f"postgresql://score@127.0.0.1:{postgres.port + 1}/nowhere"
