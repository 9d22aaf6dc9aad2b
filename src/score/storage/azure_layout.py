"""Blob names of objects in an Azure container: ours (``data/<id>``) and Score's Azure profile's (``<id>``).

Score 5.x's Azure profile keeps each object as one block blob named by the bare object id at the root
of its one container (``bucket.name.object``; its docs say ``data``), with no ``.meta`` and no upload
state. Its client writes the blob with the legacy Azure SDK (``CloudBlockBlob.uploadFromFile``):
files up to 32 MiB in one Put Blob, larger ones as blocks of ``azure.blockSize`` (100 MiB) with ids
``base64("<random UUID>-<6 digits>")`` and one Put Block List; either way the blob's ``Content-MD5``
property is the whole file's MD5 and there is no metadata.

The services name every object ``data/<id>`` (Score's S3 layout). :class:`BlobNames` maps those keys
to blob names: reads look under both names (the layout's own first), writes use the layout's. Every
other key (``.meta``, upload state, the sentinel) is its own blob name in both layouts.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

from score.domain import ids

Layout = Literal["data", "score-azure"]
LAYOUTS: tuple[str, ...] = get_args(Layout)
DATA_PREFIX = f"{ids.DATA_DIR}/"
# What the legacy SDK's BlobOutputStream names a block (before base64): a random UUID, '-', six digits.
_SCORE_BLOCK = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-[0-9]{6}")


def object_id_of(key: str) -> str | None:
    """The object id when *key* is an object's bytes (``data/<id>``), else None."""
    if not key.startswith(DATA_PREFIX):
        return None
    rest = key[len(DATA_PREFIX) :]
    return rest if ids.is_object_id(rest) else None


def is_score_block_id(value: str) -> bool:
    """True when *value* (a decoded block id) is one Score's client (the legacy Azure SDK) writes."""
    return bool(_SCORE_BLOCK.fullmatch(value))


class BlobNames:
    """Keys of the port to blob names, for one layout of new objects."""

    def __init__(self, layout: str = "data") -> None:
        """*layout*: ``data`` writes objects as ``data/<id>``; ``score-azure`` as ``<id>``, as Score's Azure profile.

        Raises:
            ValueError: an unknown layout.
        """
        if layout not in LAYOUTS:
            raise ValueError(f"unknown blob layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
        self.layout = layout

    def write_name(self, key: str) -> str:
        """The blob a new object (or state record) at *key* is written to."""
        oid = object_id_of(key)
        return oid if oid is not None and self.layout == "score-azure" else key

    def read_names(self, key: str) -> tuple[str, ...]:
        """The blobs that may hold *key*, in the order to try them (this layout's first)."""
        oid = object_id_of(key)
        if oid is None:
            return (key,)
        return (oid, key) if self.layout == "score-azure" else (key, oid)

    def other_names(self, key: str) -> tuple[str, ...]:
        """The names *key* may have besides :meth:`write_name` (an older copy in the other layout)."""
        written = self.write_name(key)
        return tuple(n for n in self.read_names(key) if n != written)

    @staticmethod
    def root_prefix(prefix: str) -> str | None:
        """For a listing under *prefix*: the root-level name prefix of Score's blobs it covers, or None."""
        if not prefix.startswith(DATA_PREFIX):
            return None
        rest = prefix[len(DATA_PREFIX) :]
        return None if "/" in rest else rest

    @staticmethod
    def key_of_root_blob(name: str) -> str | None:
        """The port's key of a root-level blob in Score's layout (``<id>`` to ``data/<id>``), else None."""
        return DATA_PREFIX + name if ids.is_object_id(name) else None
