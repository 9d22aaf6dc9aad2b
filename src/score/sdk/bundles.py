"""The directories of ``score://`` (pure): ``<study>/<analysis id>/<file name>``, from what the token may read.

``GET /listing`` says which objects the token may read; the metadata service's file entities name them (study,
analysis, file name). An object with a usable name sits in its analysis's directory; one the metadata service
does not know, or whose names cannot be path components (:func:`score.fuse.tree.is_safe_name`), or whose place
another object took first (in object-id order), is shown at the top by its object id, so nothing readable is
hidden. ``score://<object id>`` names any object, placed or not.

Entries are fsspec's ``ls(detail=True)`` dicts: ``name`` (the path without ``score://``), ``size``, ``type``
(``file`` or ``directory``) and, for files, ``object_id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from score.client.http.song_entities import FileEntity
from score.fuse.tree import Listed, is_safe_name

Entry = dict[str, Any]


def directory(name: str) -> Entry:
    """The entry of a directory."""
    return {"name": name, "size": 0, "type": "directory"}


def file(name: str, object_id: str, size: int) -> Entry:
    """The entry of a file."""
    return {"name": name, "size": size, "type": "file", "object_id": object_id}


def placements(listed: Mapping[str, Listed], entities: Iterable[FileEntity]) -> dict[tuple[str, str, str], str]:
    """Where each readable, well-named object sits: ``(study, analysis id, file name)`` -> object id.

    Of two objects named alike, the one with the smaller object id takes the place (the other stays at the top).
    """
    placed: dict[tuple[str, str, str], str] = {}
    for entity in sorted(entities, key=lambda x: x.object_id):
        if entity.object_id not in listed:
            continue
        names = (entity.study, entity.analysis_id, entity.file_name)
        if not all(n is not None and is_safe_name(n) for n in names):
            continue
        key = (str(entity.study), str(entity.analysis_id), str(entity.file_name))
        placed.setdefault(key, entity.object_id)
    return placed


def root_entries(listed: Mapping[str, Listed], entities: Iterable[FileEntity] | None) -> list[Entry]:
    """``score://``: a directory per study with a readable file, then the unplaced readable objects by id.

    *entities* None (no metadata service): every readable object by its id.
    """
    placed = placements(listed, entities or ())
    studies = sorted({study for study, _, _ in placed})
    loose = sorted(set(listed) - set(placed.values()))
    return [directory(s) for s in studies] + [file(oid, oid, listed[oid].size) for oid in loose]


def study_entries(study: str, listed: Mapping[str, Listed], entities: Iterable[FileEntity]) -> list[Entry]:
    """``score://<study>``: a directory per analysis with a readable file (empty: nothing to show)."""
    placed = placements(listed, entities)
    return [directory(f"{study}/{a}") for a in sorted({a for s, a, _ in placed if s == study})]


def analysis_entries(
    study: str, analysis_id: str, listed: Mapping[str, Listed], entities: Iterable[FileEntity]
) -> list[Entry]:
    """``score://<study>/<analysis id>``: its readable files (empty: nothing to show)."""
    placed = placements(listed, entities)
    return [
        file(f"{study}/{analysis_id}/{name}", oid, listed[oid].size)
        for (s, a, name), oid in sorted(placed.items())
        if s == study and a == analysis_id
    ]


def candidates(entities: Iterable[FileEntity], study: str, analysis_id: str, name: str) -> list[str]:
    """The object ids an analysis's entities name *name* (sorted: the first readable one is the file)."""
    return sorted(
        {
            x.object_id
            for x in entities
            if x.file_name == name and x.analysis_id == analysis_id and (x.study is None or x.study == study)
        }
    )
