"""Who may act on an upload (its owner: the token's subject and the client's upload token), and the check
that the parts a finalize assembles are the caller's.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from score.domain import ids
from score.domain.errors import ConflictError, IntegrityError, InvalidRequestError
from score.domain.integrity import multipart_etag
from score.domain.model import Principal
from score.services.state import UploadOwner

_UPLOAD_TOKEN = re.compile(r"[A-Za-z0-9_\-]{16,128}")


def token_hash(token: str) -> str:
    """The stored form of an upload token."""
    return hashlib.sha256(token.encode()).hexdigest()


def validate_upload_token(token: str | None) -> str | None:
    """Return a well-formed upload token (16-128 URL-safe characters) or None when none was sent.

    Raises:
        InvalidRequestError: a malformed token.
    """
    if token is None:
        return None
    if not _UPLOAD_TOKEN.fullmatch(token):
        raise InvalidRequestError("the upload token must be 16 to 128 characters of A-Z, a-z, 0-9, '_' and '-'")
    return token


def may_join(owner: UploadOwner | None, principal: Principal, token: str | None) -> bool:
    """True when *principal* presenting *token* may act on an upload started by *owner*.

    Another subject never may. An upload started with an upload token needs that token; one
    started without (Score's Java client, or before owners were recorded) is the subject's.
    """
    if owner is None:
        return True
    if owner.subject and owner.subject != principal.subject:
        return False
    if owner.token_hash is None:
        return True
    return token is not None and hmac.compare_digest(owner.token_hash, token_hash(token))


def not_yours(object_id: str, upload_id: str) -> ConflictError:
    """The 409 for a caller that does not own the upload."""
    return ConflictError(
        f"upload {upload_id} of object {object_id} was started by another client and is still in progress "
        "(score-client counts another host, another copy of the file or a file changed since as another client); "
        "it cannot be joined: wait for it to finish, or restart it with overwrite=true "
        "(score-client upload --force), which aborts the other upload"
    )


def check_parts(parts_md5: str | None, held: list[str], object_id: str) -> None:
    """Refuse a finalize whose parts are not the ones the server holds (another client's, or a mix).

    Raises:
        IntegrityError: they differ.
    """
    if parts_md5 is None:
        return
    if not all(ids.is_md5_hex(m) for m in held) or multipart_etag(held) != parts_md5.lower():
        raise IntegrityError(
            f"the parts the server holds for object {object_id} are not the ones this client sent "
            "(another client uploaded parts of this object); nothing was finalized: upload the file again"
        )
