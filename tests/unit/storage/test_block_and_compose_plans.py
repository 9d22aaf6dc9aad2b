"""How parts map onto Azure block ids and GCS compose steps."""

from __future__ import annotations

import hashlib

from score.storage.azure import block_id, parse_block_id
from score.storage.gcs import COMPOSE_MAX_SOURCES, compose_plan, part_key

UPLOAD = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"


def test_block_ids_have_one_length_and_carry_number_and_md5() -> None:
    md5 = hashlib.md5(b"x").hexdigest()
    ids = [block_id(UPLOAD, n, md5) for n in (1, 99, 10_000)] + [block_id(UPLOAD, 5, None)]
    assert {len(i) for i in ids} == {59}  # Azure: every block id of a blob has one length, at most 64 bytes
    assert parse_block_id(UPLOAD, ids[1]) == (99, md5)
    assert parse_block_id(UPLOAD, ids[3]) == (5, ids[3])  # signed without an MD5: the id is the tag
    assert parse_block_id(OTHER, ids[0]) is None  # another upload's block
    assert parse_block_id(UPLOAD, "short") is None
    assert parse_block_id(UPLOAD, UPLOAD + "xxxxx" + "A" * 22) is None


def test_compose_plan_reduces_to_one_request() -> None:
    assert compose_plan([part_key(UPLOAD, n) for n in range(1, 33)], UPLOAD) == (
        [],
        [part_key(UPLOAD, n) for n in range(1, 33)],
    )
    sources = [part_key(UPLOAD, n) for n in range(1, 10_001)]
    levels, top = compose_plan(sources, UPLOAD)
    assert [len(steps) for steps in levels] == [313, 10]  # 10,000 -> 313 -> 10
    assert len(top) == 10
    assert all(len(group) <= COMPOSE_MAX_SOURCES for steps in levels for _, group in steps)
    assert [s for _, group in levels[0] for s in group] == sources  # order kept
    assert [dest for dest, _ in levels[1]] == top
    assert len({dest for steps in levels for dest, _ in steps}) == 323  # no name reused
