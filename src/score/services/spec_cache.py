"""Finished objects' specs (their ``.meta``), remembered by the identity of the object's bytes in the store.

A finished object's ``.meta`` does not change while its bytes stay the same; an overwrite (through this
server or any other replica sharing the store) writes new bytes, so the store's HEAD shows another ETag,
modification time or size, and the entry no longer matches. The key is therefore the HEAD a download
spec already needs: (key, ETag, last modified, size, location); objects whose HEAD has no ETag are not
cached. The cache is per process, bounded, least recently used first out.

A ``.meta`` is written just after its object's bytes are completed, so for a moment an overwritten
object's new bytes sit next to the old ``.meta``. A spec is therefore remembered only when it agrees
with the HEAD it is filed under (same size, and the same MD5 as the store's record of the bytes); in
that moment the old spec is still answered, as without a cache, but never kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime

from score.domain.model import ObjectInfo
from score.wire.schemas import ObjectSpecification

MAX_SPECS = 4096

Identity = tuple[str, str, datetime, int, str | None]


def _identity(info: ObjectInfo) -> Identity | None:
    return None if info.etag is None else (info.key, info.etag, info.last_modified, info.size, info.location)


class SpecCache:
    """A bounded LRU of specs by the store identity of their object (the specs are shared: read-only)."""

    def __init__(self, limit: int = MAX_SPECS) -> None:
        """Keep at most *limit* specs."""
        self._items: OrderedDict[Identity, ObjectSpecification] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, info: ObjectInfo) -> ObjectSpecification | None:
        """The spec remembered for the object *info* describes, or None."""
        ident = _identity(info)
        if ident is None:
            return None
        with self._lock:
            spec = self._items.get(ident)
            if spec is not None:
                self._items.move_to_end(ident)
        return spec

    def put(self, info: ObjectInfo, spec: ObjectSpecification) -> None:
        """Remember *spec* for the object *info* describes, when *info* has an ETag and an MD5 that agree
        with *spec* (see the module's docstring).
        """
        ident = _identity(info)
        md5 = spec.objectMd5
        if ident is None or info.md5 is None or md5 is None or md5.lower() != info.md5.lower():
            return
        if spec.objectSize != info.size:
            return
        with self._lock:
            self._items[ident] = spec
            self._items.move_to_end(ident)
            while len(self._items) > self._limit:
                self._items.popitem(last=False)
