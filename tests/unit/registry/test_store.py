"""Song's rules in the policy module, and the registry store on its own."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from score.domain.access import check_download_state, check_upload_state
from score.domain.errors import AnalysisStateError, InvalidRequestError, NotFoundError
from score.domain.model import Access, AnalysisState, ObjectRecord
from score.registry.store import RegistryStore, file_object_id
from score.registry.wire import entity_json


def _record(state: AnalysisState | None, size: int | None = 10, md5: str | None = "a" * 32) -> ObjectRecord:
    return ObjectRecord("o", "S", Access.CONTROLLED, "an", state, "f", size, md5)


def test_upload_only_while_unpublished_and_as_registered() -> None:
    check_upload_state(None, 5, None)  # no metadata service: nothing to check
    check_upload_state(_record(AnalysisState.UNPUBLISHED), 10, "A" * 32)
    for state in (AnalysisState.PUBLISHED, AnalysisState.SUPPRESSED):
        with pytest.raises(AnalysisStateError, match=state.value):
            check_upload_state(_record(state), 10, None)
    with pytest.raises(InvalidRequestError, match="registered size"):
        check_upload_state(_record(AnalysisState.UNPUBLISHED), 11, None)
    with pytest.raises(InvalidRequestError, match="registered MD5"):
        check_upload_state(_record(AnalysisState.UNPUBLISHED), 10, "b" * 32)


def test_download_urls_only_when_published() -> None:
    check_download_state(_record(AnalysisState.PUBLISHED), exclude_urls=False)
    check_download_state(_record(AnalysisState.UNPUBLISHED), exclude_urls=True)  # Song's own publish check
    for state in (AnalysisState.UNPUBLISHED, AnalysisState.SUPPRESSED):
        with pytest.raises(AnalysisStateError):
            check_download_state(_record(state), exclude_urls=False)


def test_registry_store(tmp_path: Path) -> None:
    store = RegistryStore(tmp_path / "r.sqlite")
    a = store.submit("ABC", {"files": [{"fileName": "x.bam", "fileSize": 3, "fileMd5sum": "C" * 32}]})
    assert a.state is AnalysisState.UNPUBLISHED and a.files[0].md5 == "c" * 32
    assert a.files[0].object_id == file_object_id(a.analysis_id, "x.bam")
    assert a.files[0].access is Access.CONTROLLED  # Song's default
    with pytest.raises(NotFoundError):
        store.analysis("OTHER", a.analysis_id)  # an analysis belongs to one study
    with pytest.raises(InvalidRequestError, match="twice"):
        store.submit("ABC", {"files": [{"fileName": "x", "fileSize": 1, "fileMd5sum": "0" * 32}] * 2})
    with pytest.raises(InvalidRequestError, match="studyId"):
        store.submit("ABC", {"studyId": "XYZ", "files": [{"fileName": "x", "fileSize": 1, "fileMd5sum": "0" * 32}]})
    with pytest.raises(InvalidRequestError, match="study id"):
        store.submit("../etc", {"files": [{"fileName": "x", "fileSize": 1, "fileMd5sum": "0" * 32}]})
    store.set_state("ABC", a.analysis_id, AnalysisState.SUPPRESSED)
    with pytest.raises(AnalysisStateError, match="stays suppressed"):
        store.set_state("ABC", a.analysis_id, AnalysisState.PUBLISHED)
    store.close()
    reopened = RegistryStore(tmp_path / "r.sqlite")  # durable
    assert reopened.analysis("ABC", a.analysis_id).state is AnalysisState.SUPPRESSED
    assert reopened.entities(a.analysis_id, None, 0, 10)[1] == 1
    reopened.close()


def test_files_keep_their_registration_time_and_older_databases_gain_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)  # the schema before files kept a time, with one file in it
    db.executescript(
        """
        CREATE TABLE analysis (id TEXT PRIMARY KEY, study TEXT NOT NULL, state TEXT NOT NULL, payload TEXT NOT NULL);
        CREATE TABLE file (
            object_id TEXT PRIMARY KEY, analysis_id TEXT NOT NULL REFERENCES analysis(id), study TEXT NOT NULL,
            name TEXT NOT NULL, size INTEGER NOT NULL, md5 TEXT NOT NULL, type TEXT NOT NULL, access TEXT NOT NULL,
            UNIQUE (analysis_id, name)
        );
        INSERT INTO analysis VALUES ('old', 'ABC', 'UNPUBLISHED', '{}');
        INSERT INTO file VALUES ('o1', 'old', 'ABC', 'old.bam', 1, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '', 'open');
        """
    )
    db.commit()
    db.close()
    moment = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
    store = RegistryStore(path, now=lambda: moment)
    old = store.analysis("ABC", "old").files[0]
    assert old.created_ms is None and "createdTime" not in entity_json(old)  # unknown: not made up
    a = store.submit("ABC", {"files": [{"fileName": "x.bam", "fileSize": 3, "fileMd5sum": "c" * 32}]})
    assert entity_json(a.files[0])["createdTime"] == 1714979289123  # Score's Entity.createdTime: ms, a long
    store.close()
