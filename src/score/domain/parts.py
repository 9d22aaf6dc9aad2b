"""Part planning: Score's SimplePartCalculator, with its limits as parameters."""

from __future__ import annotations

from dataclasses import dataclass

from score.domain.errors import InvalidRequestError

MIB = 1024 * 1024
DEFAULT_MIN_PART_BYTES = 20 * MIB
DEFAULT_MAX_PARTS = 10_000


@dataclass(frozen=True, slots=True)
class PartLimits:
    """Store limits that shape a part plan."""

    min_part_bytes: int = DEFAULT_MIN_PART_BYTES
    max_parts: int = DEFAULT_MAX_PARTS
    max_part_bytes: int = 5 * 1024 * MIB
    max_object_bytes: int = 5 * 1024 * 1024 * MIB


@dataclass(frozen=True, slots=True)
class PartSlice:
    """One part of a plan: 1-based number, byte offset and size."""

    number: int
    offset: int
    size: int

    @property
    def end(self) -> int:
        """Offset one past the part's last byte."""
        return self.offset + self.size


def part_size_for(total_bytes: int, limits: PartLimits) -> int:
    """Return the part size Score would use for an object of *total_bytes*.

    The minimum part size is used until it would take more than ``max_parts`` parts; beyond
    that the part size grows (``total // max_parts + 1``) so the count stays within the limit.
    """
    return max(limits.min_part_bytes, total_bytes // limits.max_parts + 1)


def plan_parts(total_bytes: int, limits: PartLimits, start: int = 0) -> list[PartSlice]:
    """Split ``[start, start + total_bytes)`` into parts.

    A zero-byte object gets a single empty part, so that it can be uploaded like any other.

    Raises:
        InvalidRequestError: for a negative size or one beyond the store's limits.
    """
    if total_bytes < 0:
        raise InvalidRequestError("fileSize must not be negative")
    if total_bytes > limits.max_object_bytes:
        raise InvalidRequestError(
            f"fileSize {total_bytes} exceeds the store's maximum object size {limits.max_object_bytes}"
        )
    if total_bytes == 0:
        return [PartSlice(1, start, 0)]
    size = part_size_for(total_bytes, limits)
    if size > limits.max_part_bytes:
        raise InvalidRequestError("fileSize needs parts larger than the store allows")
    parts: list[PartSlice] = []
    offset = 0
    number = 1
    while offset < total_bytes:
        n = min(size, total_bytes - offset)
        parts.append(PartSlice(number, start + offset, n))
        offset += n
        number += 1
    return parts
