"""Song's JSON as typed values, and the metadata client that returns them (httpx.MockTransport, no sockets)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from score.client.http.metadata_api import MetadataApi
from score.client.http.song_entities import (
    Analysis,
    AnalysisFile,
    EntityPage,
    FileEntity,
    NewFile,
    SubmitReceipt,
    analysis_payload,
    payload_file_names,
)
from score.domain import errors as e

OID = "5b6f2c52-2f1d-4a4e-9a56-0d1f1c6e9a01"


def test_a_file_entity_keeps_what_song_says_and_empty_fields_are_none() -> None:
    raw = {"id": OID, "fileName": "x.bam", "gnosId": "an1", "projectCode": "ST1", "access": "open"}
    assert FileEntity.parse(raw) == FileEntity(OID, "x.bam", "an1", "ST1")
    assert FileEntity.parse({"id": OID, "fileName": "", "gnosId": None}) == FileEntity(OID)
    bad: object
    for bad in (None, [], "x", {"fileName": "x.bam"}, {"id": ""}):
        assert FileEntity.parse(bad) is None


def test_a_page_leaves_out_what_is_not_an_entity_and_says_when_it_is_the_last() -> None:
    page = EntityPage.parse({"content": [{"id": OID}, {"nope": 1}, "x"], "last": False})
    assert page.entities == (FileEntity(OID),) and not page.last
    assert EntityPage.parse({"content": [{"id": OID}]}).last  # no "last": the last
    assert EntityPage.parse({"content": [], "last": False}).last  # empty: the last
    with pytest.raises(e.UpstreamUnavailableError, match="malformed page of entities"):
        EntityPage.parse([])


def test_analysis_files_sizes_are_byte_counts_or_none() -> None:
    analysis = Analysis.parse(
        {
            "analysisState": "PUBLISHED",
            "files": [
                {"objectId": OID, "fileName": "x.bam", "fileSize": 12, "fileMd5sum": "a" * 32},
                {"objectId": "o2", "fileSize": -1},
                {"objectId": "o3", "fileSize": "12"},
                {"fileName": "no id"},
                "junk",
            ],
        }
    )
    assert analysis.state == "PUBLISHED"
    assert analysis.files == (
        AnalysisFile(OID, "x.bam", 12, "a" * 32),
        AnalysisFile("o2"),
        AnalysisFile("o3"),
    )
    assert Analysis.parse({"files": {"not": "a list"}}) == Analysis(None, ())
    with pytest.raises(e.UpstreamUnavailableError, match="malformed analysis"):
        Analysis.parse("<html>")


def test_a_submit_receipt_must_name_the_analysis() -> None:
    assert SubmitReceipt.parse({"analysisId": "an1", "status": "OK"}) == SubmitReceipt("an1", ())
    with pytest.raises(e.UpstreamUnavailableError, match="did not say its id") as info:
        SubmitReceipt.parse({"status": "OK"})
    assert not info.value.retryable


def test_a_payload_of_new_files_is_songs_submitted_files_analysis() -> None:
    files = [NewFile("r.bam", 3, "b" * 32, "open"), NewFile("README", 1, "c" * 32, "controlled")]
    payload = analysis_payload("ST1", files)
    assert payload == {
        "studyId": "ST1",
        "analysisType": {"name": "submittedFiles"},
        "files": [
            {"fileName": "r.bam", "fileSize": 3, "fileMd5sum": "b" * 32, "fileType": "BAM", "fileAccess": "open"},
            {
                "fileName": "README",
                "fileSize": 1,
                "fileMd5sum": "c" * 32,
                "fileType": "DATA",
                "fileAccess": "controlled",
            },
        ],
    }
    assert payload_file_names(payload) == ["r.bam", "README"]
    assert payload_file_names({"files": [{"x": 1}, 3]}) == [None, None]
    assert payload_file_names({}) == []


def _api(handler: Any) -> MetadataApi:
    return MetadataApi("http://song.test", None, transport=httpx.MockTransport(handler))


def test_the_client_walks_every_page_and_returns_typed_entities() -> None:
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        seen.append(params)
        page = int(params["page"])
        content = [{"id": f"o{page}", "fileName": f"f{page}", "gnosId": "an1", "projectCode": "ST1"}]
        return httpx.Response(200, json={"content": content, "last": page == 2})

    api = _api(handler)
    try:
        found = api.analysis_entities("an1", "ST1", page_size=1)
    finally:
        api.close()
    assert found == [FileEntity(f"o{i}", f"f{i}", "an1", "ST1") for i in range(3)]
    assert [s["page"] for s in seen] == ["0", "1", "2"] and seen[0]["gnosId"] == "an1"


def test_the_client_stops_a_service_that_repeats_a_page() -> None:
    api = _api(lambda _r: httpx.Response(200, json={"content": [{"id": OID}], "last": False}))
    try:
        with pytest.raises(e.UpstreamUnavailableError, match="repeated a page") as info:
            api.find_entities()
    finally:
        api.close()
    assert not info.value.retryable


def test_an_unknown_entity_is_none_and_a_malformed_one_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/missing"):
            return httpx.Response(404, json={"message": "no such entity"})
        if request.url.path.endswith("/odd"):
            return httpx.Response(200, json=["not", "an", "entity"])
        return httpx.Response(200, json={"id": OID, "fileName": "x.bam"})

    api = _api(handler)
    try:
        assert api.entity("missing") is None
        assert api.entity(OID) == FileEntity(OID, "x.bam")
        with pytest.raises(e.UpstreamUnavailableError, match="malformed entity"):
            api.entity("odd")
    finally:
        api.close()


def test_submit_analysis_and_state_are_typed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            assert json.loads(request.content)["studyId"] == "ST1"
            return httpx.Response(200, json={"analysisId": "an9"})
        if request.method == "PUT":
            return httpx.Response(200, json={"analysisState": "PUBLISHED"})
        return httpx.Response(200, json={"files": [{"objectId": OID, "fileName": "x", "fileMd5sum": "d" * 32}]})

    api = _api(handler)
    try:
        assert api.submit("ST1", {"studyId": "ST1"}) == SubmitReceipt("an9", ())
        assert api.analysis("ST1", "an9").files == (AnalysisFile(OID, "x", None, "d" * 32),)
        assert api.set_state("ST1", "an9", "publish").state == "PUBLISHED"
    finally:
        api.close()
