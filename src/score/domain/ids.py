"""Object and upload identifiers, and the Score bucket key layout derived from them.

Keys follow Score 5.x so that its buckets are served without migration:
``data/<id>`` (object), ``data/<id>.meta`` (finished spec),
``upload/<id>_<uploadId>/.meta`` and ``.../part-<8 hex>|<json>`` (in-progress state).
"""

from __future__ import annotations

import re

from score.domain.errors import InvalidRequestError

# Always matched with fullmatch: '$' also matches before a trailing newline (issue 20, defect 9).
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# S3, Ceph and our local store use these characters; never '/', so no key can escape its prefix.
_UPLOAD_ID = re.compile(r"[A-Za-z0-9._~+=\-]{1,1024}")
_MD5_HEX = re.compile(r"[0-9a-fA-F]{32}")

DATA_DIR = "data"
UPLOAD_DIR = "upload"
SENTINEL_NAME = "heliograph"


def is_object_id(value: str) -> bool:
    """Return True when *value* is a well-formed object id (a UUID, as Song issues)."""
    return bool(_UUID.fullmatch(value))


def validate_object_id(value: str) -> str:
    """Return *value* unchanged if it is a valid object id.

    Raises:
        InvalidRequestError: when it is not a UUID.
    """
    if not is_object_id(value):
        raise InvalidRequestError(f"invalid object id {value[:80]!r}: expected a UUID")
    return value


def validate_upload_id(value: str) -> str:
    """Return *value* unchanged if it is a safe upload id.

    Raises:
        InvalidRequestError: when it is empty, too long or contains unsafe characters.
    """
    if not _UPLOAD_ID.fullmatch(value) or value in (".", ".."):
        raise InvalidRequestError("invalid uploadId")
    return value


def is_md5_hex(value: str) -> bool:
    """Return True when *value* is 32 hexadecimal digits."""
    return bool(_MD5_HEX.fullmatch(value))


def object_key(object_id: str) -> str:
    """Key of the object's bytes."""
    return f"{DATA_DIR}/{object_id}"


def object_meta_key(object_id: str) -> str:
    """Key of the finished object's specification (its existence means "the object exists")."""
    return f"{DATA_DIR}/{object_id}.meta"


def sentinel_key() -> str:
    """Key of the sentinel object behind ``/download/ping``."""
    return f"{DATA_DIR}/{SENTINEL_NAME}"


def upload_prefix(object_id: str) -> str:
    """Prefix under which every in-progress upload of *object_id* keeps its state."""
    return f"{UPLOAD_DIR}/{object_id}_"


def upload_dir(object_id: str, upload_id: str) -> str:
    """Directory of one in-progress upload's state."""
    return f"{UPLOAD_DIR}/{object_id}_{upload_id}/"


def upload_meta_key(object_id: str, upload_id: str) -> str:
    """Key of one in-progress upload's specification."""
    return upload_dir(object_id, upload_id) + ".meta"


def upload_owner_key(object_id: str, upload_id: str) -> str:
    """Key of one in-progress upload's owner record (who started it; not in Score's layout)."""
    return upload_dir(object_id, upload_id) + ".owner"


def part_marker_prefix(object_id: str, upload_id: str, part_number: int | None = None) -> str:
    """Prefix of part markers: all of them, or those of one part number."""
    base = upload_dir(object_id, upload_id) + "part-"
    return base if part_number is None else f"{base}{part_number:08x}|"


def check_path_id(what: str, value: str) -> str:
    """*value*, a study or analysis id a user typed, when it can be one URL path segment.

    Raises:
        InvalidRequestError: empty, or with '/', whitespace or control characters (a path no metadata service
            serves: its 404 would read as a wrong server URL).
    """
    if not value:
        raise InvalidRequestError(f"the {what} must not be empty")
    if "/" in value or any(c.isspace() or not c.isprintable() for c in value):
        raise InvalidRequestError(f"invalid {what} {value!r}: ids have no '/', spaces or control characters")
    return value
