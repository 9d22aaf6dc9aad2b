"""Durations and range splitting for partial downloads (the retry policy: tests/unit/test_attempts.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from score.cli import server_main
from score.cli.durations import parse_duration
from score.domain.ranges import ByteRange
from score.services.download import split_range
from score.wire.schemas import Part


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("15m", 900), ("1h", 3600), ("7d", 604800), ("1.5H", 5400)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["", "0", "-1h", "1w", "h", "1 hour"])
def test_bad_durations(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize("text", ["36501d", "3000000d", "99999999999999999999999d", "1" * 40])
def test_durations_past_the_maximum_are_a_clear_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"is longer than the maximum of 36500d|not a duration"):
        parse_duration(text)
    assert parse_duration("90m", maximum=timedelta(hours=2)) == timedelta(minutes=90)
    with pytest.raises(ValueError, match=r"^3h is longer than the maximum of 2h$"):
        parse_duration("3h", maximum=timedelta(hours=2))


@pytest.mark.parametrize("ttl", ["3000000d", "3651d", "99999999999999999999999d"])
def test_server_token_ttl_past_the_maximum_exits_2_naming_it(
    ttl: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 20, defect 9: `score-server token --ttl 3000000d` ended in an OverflowError traceback."""
    assert server_main.main(["token", "--data-dir", str(tmp_path), "--ttl", ttl]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"score-server token: --ttl: {ttl} is longer than the maximum of 3650d\n"


STORED = [
    Part(partNumber=1, partSize=10, offset=0, sourceMd5="a"),
    Part(partNumber=2, partSize=10, offset=10, sourceMd5="b"),
    Part(partNumber=3, partSize=5, offset=20, sourceMd5="c"),
]


def test_whole_range_keeps_every_source_md5() -> None:
    out = split_range(STORED, ByteRange(0, 25))
    assert [(p.offset, p.partSize, p.sourceMd5) for p in out] == [(0, 10, "a"), (10, 10, "b"), (20, 5, "c")]


def test_cut_parts_lose_their_md5_so_partial_downloads_validate() -> None:
    out = split_range(STORED, ByteRange(5, 17))
    assert [(p.partNumber, p.offset, p.partSize, p.sourceMd5) for p in out] == [
        (1, 5, 5, None),
        (2, 10, 10, "b"),
        (3, 20, 2, None),
    ]
    assert sum(p.partSize for p in out) == 17


def test_range_inside_one_part() -> None:
    out = split_range(STORED, ByteRange(11, 3))
    assert [(p.partNumber, p.offset, p.partSize, p.sourceMd5) for p in out] == [(1, 11, 3, None)]
    assert split_range(STORED, ByteRange(25, 0)) == []
