"""What a mount shows: the objects the token may read (``GET /listing``, filtered by the server's
policy), optionally narrowed to a manifest, named from the metadata service's entities.

Access is decided by the server on every listing: ``--cache-metadata`` keeps only the entity
index (names and analyses, which Song serves to anyone), never the listing, so a cached mount
never shows more than the token may read now. (Score caches both.)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from score.client.http.song_entities import FileEntity
from score.client.transfer.index_pairing import pair_indexes
from score.client.transfer.output_layout import ObjectEntry
from score.domain import errors as e
from score.domain.atomic_file import write_atomic
from score.domain.ids import is_object_id
from score.fuse.tree import Listed, Naming, Tree, build_tree
from score.wire.client_models import ObjectInfoOut

CACHE_FILE = ".score-mount-entities.json"
_CACHE_VERSION = 1


class Lister(Protocol):
    """The part of the server API a catalog needs."""

    def listing(self) -> list[ObjectInfoOut]:
        """``GET /listing``."""
        ...


class EntityFinder(Protocol):
    """The part of the metadata API a catalog needs."""

    def find_entities(self, filters: dict[str, str] | None = None, page_size: int = ...) -> list[FileEntity]:
        """``GET /entities``, all pages."""
        ...


@dataclass(frozen=True)
class Selection:
    """What to show and how."""

    layout: str
    manifest_ids: tuple[str, ...] | None = None  # None = everything readable
    cache_file: Path | None = None  # --cache-metadata
    metadata_url: str = ""


def _namings(entities: Iterable[FileEntity]) -> dict[str, Naming]:
    return {
        entity.object_id: Naming(entity.analysis_id, entity.file_name)
        for entity in entities
        if entity.file_name is not None and entity.analysis_id is not None
    }


def _load_cache(path: Path, metadata_url: str) -> tuple[dict[str, Naming], set[str]] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != _CACHE_VERSION or data.get("metadataUrl") != metadata_url:
        return None
    try:
        names = {str(oid): Naming(str(a), str(n)) for oid, (a, n) in data["names"].items()}
        return names, {str(oid) for oid in data["unnamed"]}
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _save_cache(path: Path, metadata_url: str, names: dict[str, Naming], unnamed: set[str]) -> None:
    body = {
        "version": _CACHE_VERSION,
        "metadataUrl": metadata_url,
        "names": {oid: [n.analysis_id, n.file_name] for oid, n in names.items()},
        "unnamed": sorted(unnamed),
    }
    write_atomic(path, json.dumps(body).encode(), mode=0o600)


def _names(
    finder: EntityFinder, selection: Selection, wanted: set[str], say: Callable[[str], None]
) -> dict[str, Naming]:
    path = selection.cache_file
    if path is not None:
        cached = _load_cache(path, selection.metadata_url)
        if cached is not None and wanted <= cached[0].keys() | cached[1]:
            say(f"entity names from {path} (delete it to fetch them again)")
            return cached[0]
    names = _namings(finder.find_entities())
    if path is not None:
        try:
            _save_cache(path, selection.metadata_url, names, wanted - names.keys())
        except OSError as exc:
            say(f"cannot write the metadata cache {path}: {exc.strerror}")
    return names


def _with_indexes(chosen: set[str], listed: dict[str, Listed], names: dict[str, Naming]) -> set[str]:
    """Add, for each chosen data file, its index file from the same analysis (when readable):
    ``download --index``'s pairing, over the files the listing shows.
    """
    files: dict[str, list[ObjectEntry]] = {}
    for oid, n in names.items():
        if oid in listed:
            files.setdefault(n.analysis_id, []).append(ObjectEntry(oid, n.file_name, n.analysis_id))
    selected = [
        ObjectEntry(oid, names[oid].file_name, names[oid].analysis_id) if oid in names else ObjectEntry(oid)
        for oid in sorted(chosen)
    ]
    return {item.object_id for item in pair_indexes(selected, files).items}


def gather(lister: Lister, finder: EntityFinder | None, selection: Selection, say: Callable[[str], None]) -> Tree:
    """Build the mount's tree.

    Raises:
        UnauthenticatedError / ForbiddenError: the token cannot list (no token, expired...).
        InvalidRequestError: a manifest none of whose objects the token may read.
        UpstreamUnavailableError: the server or the metadata service cannot be reached.
    """
    listed = {
        item.id: Listed(item.id, item.size, item.lastModified)
        for item in lister.listing()
        if is_object_id(item.id) and item.size >= 0
    }
    chosen = set(listed)
    if selection.manifest_ids is not None:
        asked = set(selection.manifest_ids)
        chosen = asked & listed.keys()
        hidden = sorted(asked - chosen)
        if hidden:
            say(
                f"{len(hidden)} object(s) of the manifest are not shown: they do not exist or this token may not "
                f"read them ({', '.join(hidden[:3])}{', ...' if len(hidden) > 3 else ''})"
            )
        if not chosen:
            raise e.InvalidRequestError("no object of the manifest can be read with this token; nothing to mount")
    names: dict[str, Naming] = {}
    if selection.layout == "bundle" and finder is not None and chosen:
        names = _names(finder, selection, chosen, say)
        if selection.manifest_ids is not None:
            chosen = _with_indexes(chosen, listed, names)
    return build_tree([listed[oid] for oid in chosen], names, selection.layout)
