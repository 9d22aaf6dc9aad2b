"""The batch summary of ``score-client download``: every selected object is counted once."""

from __future__ import annotations

import argparse
import json

from score.cli.client_download import _Report
from score.domain import errors as e


def _report(as_json: bool) -> tuple[_Report, list[str]]:
    out: list[str] = []
    return _Report(argparse.Namespace(json=as_json), out.append, out.append), out


def test_objects_a_full_disk_left_untried_are_counted_as_not_started() -> None:
    """Trial leftover: after a full disk stopped a batch, the JSON summary counted 5 objects, 0 succeeded and
    1 failed, and said nothing of the 4 never tried."""
    report, out = _report(as_json=True)
    report.failure({"object_id": "A"}, e.DiskSpaceError("the output file system is full"))
    report.summary(5, 1.0)
    summary = json.loads(out[-1])["summary"]
    assert (summary["objects"], summary["succeeded"], summary["failed"], summary["not_started"]) == (5, 0, 1, 4)
    assert summary["exit_code"] == 8


def test_the_text_summary_names_untried_objects_only_when_there_are_some() -> None:
    report, out = _report(as_json=False)
    report.failure({"object_id": "A"}, e.DiskSpaceError("the output file system is full"))
    report.summary(3, 1.0)
    assert out[-1] == "0 of 3 objects downloaded or already complete, 1 failed, 2 not started"
    report, out = _report(as_json=False)
    report.failure({"object_id": "A"}, e.NotFoundError("no such object"))
    report.failure({"object_id": "B"}, e.NotFoundError("no such object"))
    report.summary(2, 1.0)
    assert out[-1] == "0 of 2 objects downloaded or already complete, 2 failed"
