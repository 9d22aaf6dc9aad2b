"""Byte ranges: Score's offset/length, the signed token form and Range headers."""

from __future__ import annotations

import pytest

from score.domain.errors import InvalidRequestError, RangeNotSatisfiableError
from score.domain.ranges import ByteRange, parse_header, parse_token, resolve_range


def test_whole_object_with_minus_one() -> None:
    assert resolve_range(0, -1, 100) == ByteRange(0, 100)
    assert resolve_range(40, -1, 100) == ByteRange(40, 60)


def test_explicit_length_within_the_object() -> None:
    r = resolve_range(10, 20, 100)
    assert (r.start, r.length, r.end) == (10, 20, 30)
    assert r.header() == "bytes=10-29"
    assert r.token() == "10-29"


def test_empty_object_and_zero_length() -> None:
    assert resolve_range(0, -1, 0) == ByteRange(0, 0)
    assert resolve_range(100, 0, 100) == ByteRange(100, 0)


@pytest.mark.parametrize(("offset", "length"), [(101, -1), (100, -1), (90, 11), (0, 101)])
def test_ranges_past_the_end_are_not_satisfiable(offset: int, length: int) -> None:
    with pytest.raises(RangeNotSatisfiableError):
        resolve_range(offset, length, 100)


@pytest.mark.parametrize(("offset", "length"), [(-1, 10), (0, -2)])
def test_malformed_offset_or_length_is_a_bad_request(offset: int, length: int) -> None:
    with pytest.raises(InvalidRequestError) as info:
        resolve_range(offset, length, 100)
    assert not isinstance(info.value, RangeNotSatisfiableError)


def test_token_round_trip() -> None:
    r = ByteRange(12345, 678)
    assert parse_token(r.token()) == r


@pytest.mark.parametrize("bad", ["", "5", "5-", "-5", "9-3", "a-b", "1-2-3", "1 - 2"])
def test_malformed_tokens_are_refused(bad: str) -> None:
    with pytest.raises(InvalidRequestError):
        parse_token(bad)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", ByteRange(0, 10)),
        ("bytes=90-", ByteRange(90, 10)),
        ("bytes=-5", ByteRange(95, 5)),
        ("bytes=-500", ByteRange(0, 100)),
        ("bytes=50-1000", ByteRange(50, 50)),
        (" bytes=1-1 ", ByteRange(1, 1)),
    ],
)
def test_range_headers(header: str, expected: ByteRange) -> None:
    assert parse_header(header, 100) == expected


@pytest.mark.parametrize("bad", ["bytes=-", "bytes=100-", "bytes=5-2", "items=0-1", "bytes=0-1,5-6", "bytes=a-"])
def test_unsatisfiable_or_unsupported_headers(bad: str) -> None:
    with pytest.raises(RangeNotSatisfiableError):
        parse_header(bad, 100)
