"""Song's rules in the policy module, and the registry store on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from score.domain.access import check_download_state, check_upload_state
from score.domain.errors import ConflictError, InvalidRequestError, NotFoundError
from score.domain.model import Access, AnalysisState, ObjectRecord
from score.registry.store import RegistryStore, file_object_id


def _record(state: AnalysisState | None, size: int | None = 10, md5: str | None = "a" * 32) -> ObjectRecord:
    return ObjectRecord("o", "S", Access.CONTROLLED, "an", state, "f", size, md5)


def test_upload_only_while_unpublished_and_as_registered() -> None:
    check_upload_state(None, 5, None)  # no metadata service: nothing to check
    check_upload_state(_record(AnalysisState.UNPUBLISHED), 10, "A" * 32)
    for state in (AnalysisState.PUBLISHED, AnalysisState.SUPPRESSED):
        with pytest.raises(ConflictError, match=state.value):
            check_upload_state(_record(state), 10, None)
    with pytest.raises(InvalidRequestError, match="registered size"):
        check_upload_state(_record(AnalysisState.UNPUBLISHED), 11, None)
    with pytest.raises(InvalidRequestError, match="registered MD5"):
        check_upload_state(_record(AnalysisState.UNPUBLISHED), 10, "b" * 32)


def test_download_urls_only_when_published() -> None:
    check_download_state(_record(AnalysisState.PUBLISHED), exclude_urls=False)
    check_download_state(_record(AnalysisState.UNPUBLISHED), exclude_urls=True)  # Song's own publish check
    for state in (AnalysisState.UNPUBLISHED, AnalysisState.SUPPRESSED):
        with pytest.raises(ConflictError):
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
    with pytest.raises(ConflictError):
        store.set_state("ABC", a.analysis_id, AnalysisState.PUBLISHED)
    store.close()
    reopened = RegistryStore(tmp_path / "r.sqlite")  # durable
    assert reopened.analysis("ABC", a.analysis_id).state is AnalysisState.SUPPRESSED
    assert reopened.entities(a.analysis_id, None, 0, 10)[1] == 1
    reopened.close()
