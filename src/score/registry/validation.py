"""What the registry accepts: study ids, file names and types, the files of a submitted analysis (pure checks).

Shared by every registry engine (SQLite, PostgreSQL), so both refuse exactly the same input.
"""

from __future__ import annotations

import unicodedata
import uuid
from typing import Any

from score.domain.errors import InvalidRequestError
from score.domain.ids import is_md5_hex
from score.domain.model import Access

_FILE_NS = uuid.UUID("6f0a5b1e-4d9c-4a3e-9b1f-2c7d8e9a0b1c")
MAX_FILE_BYTES = 2**63 - 1
# Control (incl. NUL, DEL, C1), format (bidi overrides), surrogate, line and paragraph separator characters:
# they rewrite a terminal line, cannot be stored as UTF-8, or split a listing.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def file_object_id(analysis_id: str, name: str) -> str:
    """A stable object id for a file of an analysis (re-submitting never mints new ids)."""
    return str(uuid.uuid5(_FILE_NS, f"{analysis_id}/{name}"))


def validate_study(study: str) -> str:
    """*study* when it is a valid study id.

    Raises:
        InvalidRequestError: it is not.
    """
    if not study or len(study) > 64 or not all(c.isalnum() or c in "-_." for c in study):
        raise InvalidRequestError("a study id has 1-64 letters, digits, '-', '_' or '.'")
    return study


def _check_text(field: str, value: str) -> str:
    if any(unicodedata.category(c) in _UNSAFE_CATEGORIES for c in value):
        shown = value[:200].encode("unicode_escape").decode("ascii")  # every unsafe character escaped
        raise InvalidRequestError(f"{field} '{shown}' contains control characters")
    return value


def _check_file_name(i: int, name: object) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidRequestError(f"files[{i}].fileName must be a plain file name")
    _check_text(f"files[{i}].fileName", name)
    if "/" in name or "\\" in name or name in (".", ".."):
        raise InvalidRequestError(f"files[{i}].fileName {name[:200]!r} must be a plain file name (no '/' or '\\')")
    return name


def parse_files(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The files of a submitted analysis, checked and normalized (name, size, md5, type, access).

    Raises:
        InvalidRequestError: a malformed payload.
    """
    files = payload.get("files")
    if not isinstance(files, list) or not files:
        raise InvalidRequestError("the analysis needs a non-empty 'files' list")
    out = []
    names = set()
    for i, f in enumerate(files):
        if not isinstance(f, dict):
            raise InvalidRequestError(f"files[{i}] must be an object")
        name, size, md5 = f.get("fileName"), f.get("fileSize"), f.get("fileMd5sum")
        access = str(f.get("fileAccess", "controlled")).lower()
        name = _check_file_name(i, name)
        if name in names:
            raise InvalidRequestError(f"file name {name!r} appears twice in the analysis")
        names.add(name)
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_FILE_BYTES:
            raise InvalidRequestError(f"files[{i}].fileSize must be an integer from 0 to {MAX_FILE_BYTES}")
        if not isinstance(md5, str) or not is_md5_hex(md5):
            raise InvalidRequestError(f"files[{i}].fileMd5sum must be 32 hex digits")
        if access not in (Access.OPEN.value, Access.CONTROLLED.value):
            raise InvalidRequestError(f"files[{i}].fileAccess must be 'open' or 'controlled'")
        file_type = _check_text(f"files[{i}].fileType", str(f.get("fileType") or ""))
        out.append({"name": name, "size": size, "md5": md5.lower(), "type": file_type, "access": access})
    return out


def checked_submission(study: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The files of an analysis submitted to *study*, once the study and payload are valid.

    Raises:
        InvalidRequestError: a malformed payload or study id.
    """
    validate_study(study)
    if payload.get("studyId") not in (None, study):
        raise InvalidRequestError("the payload's studyId differs from the study in the path")
    return parse_files(payload)
