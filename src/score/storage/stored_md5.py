"""The MD5 a store keeps with an object, from the places stores keep it (never from an ETag)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from score.domain.errors import InvalidRequestError
from score.domain.integrity import normalize_md5

log = logging.getLogger("score.storage")


def stored_md5(native: str | None, metadata: Mapping[str, str] | None, metadata_key: str) -> str | None:
    """The store's own MD5 (S3/Azure ``Content-MD5``, GCS ``md5Hash``), else the *metadata_key* metadata.

    Hex or base64 are accepted; a malformed value is skipped with a warning, and None means unknown.
    """
    lowered = {k.lower(): v for k, v in (metadata or {}).items()}
    return _first_valid((native, lowered.get(metadata_key.lower())))


def _first_valid(values: Iterable[str | None]) -> str | None:
    for value in values:
        if value:
            try:
                return normalize_md5(value)
            except InvalidRequestError:
                log.warning("ignoring a malformed stored MD5 on an object")
    return None
