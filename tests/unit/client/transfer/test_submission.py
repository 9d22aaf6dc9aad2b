"""Registering an analysis: the payload from data files or a JSON file, and the upload manifest of
what the (fake) metadata service registered."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from score.client.http.song_entities import Analysis, AnalysisFile, SubmitReceipt
from score.client.transfer import submission
from score.domain import errors as e

A, B = (f"{c * 8}-0000-0000-0000-000000000000" for c in "ab")


class FakeSong:
    def __init__(self, receipt: SubmitReceipt, analysis: Analysis | None = None) -> None:
        self.receipt, self.stored = receipt, analysis
        self.payloads: list[dict[str, object]] = []
        self.closed = 0

    def __call__(self) -> FakeSong:
        return self

    def submit(self, study: str, payload: dict[str, object]) -> SubmitReceipt:
        self.payloads.append(payload)
        return self.receipt

    def analysis(self, study: str, analysis_id: str) -> Analysis:
        assert self.stored is not None
        return self.stored

    def close(self) -> None:
        self.closed += 1


def test_data_files_become_a_payload_with_sizes_and_md5s(tmp_path: Path) -> None:
    (tmp_path / "r.bam").write_bytes(b"bam!")
    draft = submission.from_files("ST1", [tmp_path / "r.bam"], "open")
    assert draft.payload["files"] == [
        {
            "fileName": "r.bam",
            "fileSize": 4,
            "fileMd5sum": hashlib.md5(b"bam!").hexdigest(),
            "fileType": "BAM",
            "fileAccess": "open",
        }
    ]
    assert draft.paths == {"r.bam": tmp_path / "r.bam"}
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "r.bam").write_bytes(b"")
    with pytest.raises(e.InvalidRequestError, match="two files are named 'r.bam'"):
        submission.from_files("ST1", [tmp_path / "r.bam", tmp_path / "sub" / "r.bam"], "open")
    with pytest.raises(e.InvalidRequestError, match="is not a file"):
        submission.from_files("ST1", [tmp_path / "missing"], "open")


def test_a_json_analysis_needs_its_files_beside_it_or_in_the_input_dir(tmp_path: Path) -> None:
    payload = tmp_path / "analysis.json"
    payload.write_text(json.dumps({"studyId": "ST1", "files": [{"fileName": "r.bam"}]}))
    with pytest.raises(e.InvalidRequestError, match="r.bam is not a file; use --input-dir"):
        submission.from_json(payload, None)
    data = tmp_path / "data"
    data.mkdir()
    (data / "r.bam").write_bytes(b"x")
    assert submission.from_json(payload, data).paths == {"r.bam": data / "r.bam"}
    for text, error in (("[1]", "must hold a JSON object"), ("{", "is not valid JSON")):
        payload.write_text(text)
        with pytest.raises(e.InvalidRequestError, match=error):
            submission.from_json(payload, data)
    with pytest.raises(e.InvalidRequestError, match="does not exist"):
        submission.from_json(tmp_path / "none.json", data)


def test_the_manifest_lists_the_registered_files_asking_the_analysis_when_the_receipt_does_not(
    tmp_path: Path,
) -> None:
    (tmp_path / "r.bam").write_bytes(b"bam!")
    (tmp_path / "r.bam.bai").write_bytes(b"bai")
    draft = submission.from_files("ST1", [tmp_path / "r.bam", tmp_path / "r.bam.bai"], "controlled")
    song = FakeSong(
        SubmitReceipt("an1", ()),
        Analysis(None, (AnalysisFile(A, "r.bam", 4, "a" * 32), AnalysisFile(B, "other", 1, "b" * 32))),
    )
    done = submission.submit(song, "ST1", draft, tmp_path / "manifest.txt")
    assert done.analysis_id == "an1" and [x.object_id for x in done.entries] == [A] and song.closed == 1
    assert (tmp_path / "manifest.txt").read_text() == f"an1\t\t\n{A}\t{(tmp_path / 'r.bam').resolve()}\t{'a' * 32}\n"
    listed = FakeSong(SubmitReceipt("an2", (AnalysisFile(B, "r.bam.bai", 3, "c" * 32),)))
    assert [x.object_id for x in submission.submit(listed, "ST1", draft, tmp_path / "m2.txt").entries] == [B]
