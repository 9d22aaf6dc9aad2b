"""Checksum helpers: MD5 hex/base64 conversion, ETag normalisation."""

from __future__ import annotations

import base64
import binascii
import hashlib

from score.domain.errors import IntegrityError, InvalidRequestError
from score.domain.ids import is_md5_hex

EMPTY_MD5 = hashlib.md5(b"").hexdigest()  # noqa: S324 - MD5 is the wire format, not a security primitive


def normalize_md5(value: str) -> str:
    """Return *value* as lowercase hex; accepts hex or base64 (as Score's MD5s utility does).

    Raises:
        InvalidRequestError: when it is neither.
    """
    v = value.strip().strip('"')
    if is_md5_hex(v):
        return v.lower()
    try:
        raw = base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequestError(f"malformed md5 {value[:40]!r}") from exc
    if len(raw) != 16:
        raise InvalidRequestError(f"malformed md5 {value[:40]!r}")
    return raw.hex()


def hex_to_b64(md5_hex: str) -> str:
    """Convert a hex MD5 to the base64 form used by ``Content-MD5``."""
    return base64.b64encode(bytes.fromhex(md5_hex)).decode("ascii")


def normalize_etag(etag: str) -> str:
    """Strip quotes and weak markers from an ETag and lowercase it."""
    e = etag.strip()
    e = e.removeprefix("W/")
    return e.strip('"').lower()


def multipart_etag(part_md5s: list[str]) -> str:
    """Return S3's multipart ETag (``md5(concat(part md5s))-N``) for the given part MD5s."""
    joined = b"".join(bytes.fromhex(m) for m in part_md5s)
    return f"{hashlib.md5(joined).hexdigest()}-{len(part_md5s)}"  # noqa: S324


def check_one_part(part_md5s: list[str], object_md5: str | None) -> None:
    """An object of one part: its part's MD5 is the object's, so bytes other than the declared file are known at
    finalize. *part_md5s* as confirmed ("<missing>" in an old marker, or an SSE-KMS ETag, is no MD5: not checked).

    Raises:
        IntegrityError: the one part's MD5 is not *object_md5*.
    """
    if len(part_md5s) != 1 or not object_md5 or not part_md5s[0]:
        return
    try:
        held = normalize_md5(part_md5s[0])
    except InvalidRequestError:
        return
    if held != normalize_md5(object_md5):
        raise IntegrityError(
            f"the uploaded bytes have MD5 {held}, not the file's MD5 {object_md5}: upload part 1 again with the "
            "right file's bytes, or cancel the upload"
        )
