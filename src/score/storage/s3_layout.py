"""Which bucket holds a key: Score's object/state buckets and its bucket-pool sharding (pure).

Score 5.x keeps object bytes (``data/<id>``, the sentinel ``data/heliograph``) in the object
bucket and state (``data/<id>.meta``, ``upload/<id>_<uploadId>/...``) in the state bucket; both
may be one bucket. With a pool of N buckets (``bucket.size.pool``) an object lives in
``<base>.<i>``, i = int(first k hex digits of its id, 16) mod N, no zero padding, in both the
object and state buckets; reads fall back to the unsuffixed base bucket, where objects stored
before partitioning remain.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from score.domain import ids


class Role(str, Enum):
    """What a key holds."""

    OBJECT = "object"
    STATE = "state"


@dataclass(frozen=True, slots=True)
class Placement:
    """Where to write a key and, in order, where to look for it."""

    role: Role
    object_id: str | None

    @property
    def sharded(self) -> bool:
        """True when the key belongs to one object (and so to one pool bucket)."""
        return self.object_id is not None


def classify(key: str) -> Placement:
    """Return the role and owning object id of *key* (None for keys such as the sentinel)."""
    head, _, rest = key.partition("/")
    if head == ids.UPLOAD_DIR:
        object_id = rest.split("_", 1)[0]
        return Placement(Role.STATE, object_id if ids.is_object_id(object_id) else None)
    if head == ids.DATA_DIR:
        if rest.endswith(".meta"):
            object_id = rest[: -len(".meta")]
            return Placement(Role.STATE, object_id if ids.is_object_id(object_id) else None)
        return Placement(Role.OBJECT, rest if ids.is_object_id(rest) else None)
    return Placement(Role.STATE, None)


@dataclass(frozen=True, slots=True)
class BucketLayout:
    """Score's bucket naming."""

    object_bucket: str
    state_bucket: str
    pool_size: int = 0
    pool_key_chars: int = 2

    def base(self, role: Role) -> str:
        """The unsuffixed bucket of *role*."""
        return self.object_bucket if role is Role.OBJECT else self.state_bucket

    def shard_index(self, object_id: str) -> int:
        """Score's partition number for *object_id*."""
        return int(object_id[: self.pool_key_chars], 16) % self.pool_size

    def write_bucket(self, key: str) -> str:
        """The bucket a new *key* goes to."""
        place = classify(key)
        base = self.base(place.role)
        if self.pool_size and place.object_id is not None:
            return f"{base}.{self.shard_index(place.object_id)}"
        return base

    def read_buckets(self, key: str) -> list[str]:
        """Buckets to look in for *key*, most likely first (the base bucket last, for relocated objects)."""
        first = self.write_bucket(key)
        base = self.base(classify(key).role)
        return [first] if first == base else [first, base]

    def all_buckets(self, role: Role) -> list[str]:
        """Every bucket of *role*: the pool members, then the base bucket."""
        base = self.base(role)
        return [f"{base}.{i}" for i in range(self.pool_size)] + [base]

    def list_buckets(self, prefix: str) -> list[str]:
        """Buckets a listing under *prefix* must cover."""
        place = classify(prefix)
        if place.object_id is not None:
            return self.read_buckets(prefix)
        role = Role.OBJECT if prefix.startswith(f"{ids.DATA_DIR}/") or prefix == ids.DATA_DIR else Role.STATE
        return self.all_buckets(role)

    def health_buckets(self) -> list[str]:
        """Buckets whose existence means the store is usable (Score probes ``<base>.0`` when pooled)."""
        if self.pool_size:
            return sorted({f"{self.object_bucket}.0", f"{self.state_bucket}.0"})
        return sorted({self.object_bucket, self.state_bucket})
