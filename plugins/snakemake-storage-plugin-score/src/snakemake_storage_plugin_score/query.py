"""The plugin's queries: ``score://<object-id>`` and ``score://<study>/<analysis-id>/<file-name>``.

Pure parsing, no I/O: Snakemake validates queries (wildcards included, e.g. ``score://{sample}``) and derives
local paths from them before anything is asked of the server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from score.domain.ids import is_object_id

SCHEME = "score://"
_WILDCARD = re.compile(r"\{[^{}]*\}")


class QueryError(ValueError):
    """A query that is not one of the two forms; the message says why."""


@dataclass(frozen=True, slots=True)
class ScoreQuery:
    """One parsed query: an object id, or a file named in an analysis of a study (then *object_id* is None
    until the registry is asked).
    """

    text: str
    object_id: str | None = None
    study: str | None = None
    analysis_id: str | None = None
    file_name: str | None = None

    @property
    def by_name(self) -> bool:
        """True for ``score://<study>/<analysis-id>/<file-name>``."""
        return self.object_id is None

    def local_suffix(self) -> str:
        """Where the local copy goes under Snakemake's storage prefix: the object id, or
        ``<study>/<analysis-id>/<file-name>`` (so the file keeps its name and extension).
        """
        if self.object_id is not None:
            return self.object_id
        return f"{self.study}/{self.analysis_id}/{self.file_name}"


def has_wildcard(text: str) -> bool:
    """True when *text* holds a Snakemake wildcard (``{name}``), to be filled in before any request."""
    return bool(_WILDCARD.search(text))


def parse_query(query: str) -> ScoreQuery:
    """Parse *query*, wildcards allowed (an object id with a wildcard is not checked to be a UUID).

    Raises:
        QueryError: not ``score://``, not one or three non-empty parts, a ``.`` or ``..`` part (it would
            leave the local storage directory), or a single part that is neither an object id nor a wildcard.
    """
    if not query.startswith(SCHEME):
        raise QueryError(f"must start with {SCHEME} ({SCHEME}<object-id> or {SCHEME}<study>/<analysis-id>/<file>)")
    parts = query[len(SCHEME) :].split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise QueryError("empty, '.' and '..' parts are not allowed")
    if len(parts) == 1:
        (object_id,) = parts
        if not is_object_id(object_id) and not has_wildcard(object_id):
            raise QueryError(f"{object_id!r} is not an object id (a UUID)")
        return ScoreQuery(query, object_id=object_id)
    if len(parts) == 3:
        study, analysis_id, file_name = parts
        return ScoreQuery(query, study=study, analysis_id=analysis_id, file_name=file_name)
    raise QueryError(f"expected {SCHEME}<object-id> or {SCHEME}<study>/<analysis-id>/<file-name>")
