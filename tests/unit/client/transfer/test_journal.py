"""Download resume state: survives kills, never lies, is discarded when the object changes."""

from __future__ import annotations

from pathlib import Path

from score.client.transfer.journal import DownloadJournal, JournalHeader

HEADER = JournalHeader("oid", 30, "md5", 0, 30, [(1, 0, 10, "a"), (2, 10, 10, "b"), (3, 20, 10, None)])


def test_recorded_parts_survive_a_restart(tmp_path: Path) -> None:
    j = DownloadJournal(tmp_path / ".oid")
    assert j.open(HEADER) == {}
    j.record(1, "a")
    j.record(3, "c")
    j.close()
    j2 = DownloadJournal(tmp_path / ".oid")
    assert j2.open(HEADER) == {1: "a", 3: "c"}
    j2.close()


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    j = DownloadJournal(tmp_path / ".oid")
    j.open(HEADER)
    j.record(1, "a")
    j.close()
    with open(j.log_path, "a") as fh:
        fh.write('{"n": 2, "md')  # killed mid-write
    assert DownloadJournal(tmp_path / ".oid").open(HEADER) == {1: "a"}


def test_forget_undoes_a_part(tmp_path: Path) -> None:
    j = DownloadJournal(tmp_path / ".oid")
    j.open(HEADER)
    j.record(2, "b")
    j.forget(2)
    j.close()
    done = DownloadJournal(tmp_path / ".oid").open(HEADER)
    assert done.get(2, "") == ""


def test_another_object_version_discards_the_old_state(tmp_path: Path) -> None:
    j = DownloadJournal(tmp_path / ".oid")
    j.open(HEADER)
    j.record(1, "a")
    j.data_path.write_bytes(b"stale")
    j.close()
    changed = JournalHeader("oid", 30, "other-md5", 0, 30, HEADER.parts)
    j2 = DownloadJournal(tmp_path / ".oid")
    assert j2.open(changed) == {}
    assert not j2.data_path.exists()
    j2.close()


def test_a_corrupt_header_starts_afresh(tmp_path: Path) -> None:
    j = DownloadJournal(tmp_path / ".oid")
    j.open(HEADER)
    j.record(1, "a")
    j.close()
    j.header_path.write_text("{garbage")
    assert DownloadJournal(tmp_path / ".oid").open(HEADER) == {}


def test_discard_removes_everything(tmp_path: Path) -> None:
    j = DownloadJournal(tmp_path / ".oid")
    j.open(HEADER)
    j.discard()
    assert not (tmp_path / ".oid").exists()
