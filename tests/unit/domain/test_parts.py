"""Part planning: Score's sizes, limits, and the exact tiling of the object."""

from __future__ import annotations

import itertools

import pytest

from score.domain.errors import InvalidRequestError
from score.domain.parts import MIB, PartLimits, part_size_for, plan_parts

DEFAULT = PartLimits()


def _assert_tiles(parts: list, total: int, start: int = 0) -> None:
    assert [p.number for p in parts] == list(range(1, len(parts) + 1))
    assert parts[0].offset == start
    for a, b in itertools.pairwise(parts):
        assert a.end == b.offset
    assert sum(p.size for p in parts) == total
    assert parts[-1].end == start + total


@pytest.mark.parametrize(
    ("total", "count", "first", "last"),
    [
        (1, 1, 1, 1),
        (20 * MIB, 1, 20 * MIB, 20 * MIB),
        (20 * MIB + 1, 2, 20 * MIB, 1),
        (100 * MIB, 5, 20 * MIB, 20 * MIB),
        (1024 * MIB, 52, 20 * MIB, 4 * MIB),
    ],
)
def test_small_objects_use_the_20_mib_minimum(total: int, count: int, first: int, last: int) -> None:
    parts = plan_parts(total, DEFAULT)
    assert len(parts) == count
    assert parts[0].size == first
    assert parts[-1].size == last
    _assert_tiles(parts, total)


def test_part_size_grows_beyond_10000_parts_as_score() -> None:
    total = 10_000 * 20 * MIB + 12345  # would need 10,001 parts of 20 MiB
    size = part_size_for(total, DEFAULT)
    assert size == total // 10_000 + 1
    assert size > 20 * MIB
    parts = plan_parts(total, DEFAULT)
    assert len(parts) <= 10_000
    _assert_tiles(parts, total)


def test_exactly_at_the_part_limit_keeps_the_minimum() -> None:
    total = 10_000 * 20 * MIB - 1
    assert part_size_for(total, DEFAULT) == 20 * MIB
    assert len(plan_parts(total, DEFAULT)) == 10_000


def test_zero_byte_object_gets_one_empty_part() -> None:
    parts = plan_parts(0, DEFAULT)
    assert len(parts) == 1
    assert (parts[0].number, parts[0].offset, parts[0].size) == (1, 0, 0)


def test_configured_limits_change_the_plan() -> None:
    limits = PartLimits(min_part_bytes=1000, max_parts=3)
    parts = plan_parts(2500, limits)
    assert [p.size for p in parts] == [1000, 1000, 500]
    parts = plan_parts(4000, limits)  # 4 parts of 1000 would exceed max_parts
    assert len(parts) == 3
    _assert_tiles(parts, 4000)


def test_plan_with_start_offset_shifts_every_part() -> None:
    parts = plan_parts(2500, PartLimits(min_part_bytes=1000), start=700)
    _assert_tiles(parts, 2500, start=700)


@pytest.mark.parametrize("bad", [-1, -(2**40)])
def test_negative_size_is_refused(bad: int) -> None:
    with pytest.raises(InvalidRequestError, match="negative"):
        plan_parts(bad, DEFAULT)


def test_size_beyond_the_store_maximum_is_refused() -> None:
    limits = PartLimits(min_part_bytes=10, max_parts=2, max_part_bytes=20, max_object_bytes=100)
    with pytest.raises(InvalidRequestError, match="maximum object size"):
        plan_parts(101, limits)
    with pytest.raises(InvalidRequestError, match="larger than the store allows"):
        plan_parts(60, limits)
