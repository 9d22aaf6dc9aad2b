"""The XML error body of an object store (S3, Ceph radosgw, GCS's XML API, Azure): its ``<Code>`` and texts.

S3 and its kin answer a refused request with ``<Error><Code>AccessDenied</Code><Message>Request
has expired</Message>...</Error>``; Azure with the same shape (``AuthenticationFailed`` and an
``AuthenticationErrorDetail``). The client reads these bodies when a store refuses a signed URL;
the server's adapters get the same code from the SDK (botocore's parsed ``Error`` dict).

The body comes from a remote server, so it is parsed defensively: with the standard library's
expat, a document type declaration (and so any entity declaration) is refused outright, as
defusedxml does, and a body that is not such an error document reads as None. Standard library
only: the client install imports this.
"""

from __future__ import annotations

import xml.parsers.expat
from dataclasses import dataclass, field


class _RefusedError(Exception):
    """The body declares a DTD or an entity."""


@dataclass(frozen=True)
class StoreErrorBody:
    """What an ``<Error>`` document says: its ``<Code>`` and the text of each other child element."""

    code: str
    details: dict[str, str] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """The ``<Message>`` text ("" when there is none)."""
        return self.details.get("Message", "")

    def mentions(self, word: str) -> bool:
        """True when *word* occurs in any child element's text (case-sensitive)."""
        return any(word in text for text in self.details.values())


def _refuse(*_: object) -> None:
    raise _RefusedError


def parse_error_body(body: bytes) -> StoreErrorBody | None:
    """The ``<Error>`` document in *body*, or None for any other body (JSON, HTML, empty, malformed, a DTD).

    Only the children of the root ``<Error>`` element count; their text is stripped.
    """
    parser = xml.parsers.expat.ParserCreate()
    for handler in (
        "StartDoctypeDeclHandler",
        "EntityDeclHandler",
        "UnparsedEntityDeclHandler",
        "ExternalEntityRefHandler",
    ):
        setattr(parser, handler, _refuse)
    root: list[str] = []
    path: list[str] = []
    texts: dict[str, list[str]] = {}

    def start(name: str, _attrs: dict[str, str]) -> None:
        if not root:
            root.append(name)
        path.append(name)

    def end(_name: str) -> None:
        path.pop()

    def text(data: str) -> None:
        if len(path) == 2:  # a child of the root
            texts.setdefault(path[1], []).append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.buffer_text = True
    try:
        parser.Parse(body, True)
    except (_RefusedError, xml.parsers.expat.ExpatError, ValueError):
        return None
    if root != ["Error"]:
        return None
    details = {tag: "".join(parts).strip() for tag, parts in texts.items()}
    code = details.pop("Code", "")
    return StoreErrorBody(code, details) if code else None
