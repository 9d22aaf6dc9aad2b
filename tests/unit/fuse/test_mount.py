"""The mount's pure parts: the tree layouts, the catalog (listing x manifest x entities, index
files, the names cache), FUSE options, mount-point checks and the errno of each failure."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest

from score.client.http.song_entities import FileEntity
from score.domain import errors as e
from score.fuse.catalog import Selection, gather
from score.fuse.mount import check_mount_point, parse_fuse_options
from score.fuse.tree import DirNode, FileNode, Listed, Naming, build_tree
from score.wire.client_models import ObjectInfoOut

A, B, C, D, E, X = (f"{c * 8}-0000-0000-0000-000000000000" for c in "abcdex")


def test_bundle_layout_puts_files_in_their_analysis_and_unknown_objects_at_the_top() -> None:
    objects = [Listed(A, 10, 1000), Listed(B, 20, 2000), Listed(C, 30, 3000), Listed(D, 40, 4000)]
    names = {A: Naming("an1", "x.bam"), B: Naming("an1", "x.bam.bai"), C: Naming("an1", "x.bam")}
    tree = build_tree(objects, names, "bundle")
    assert set(tree.root.children) == {"an1", C, D}  # C's name is taken; D is unknown: both by id
    folder = tree.lookup("/an1")
    assert isinstance(folder, DirNode) and set(folder.children) == {"x.bam", "x.bam.bai"}
    node = tree.lookup("/an1/x.bam")
    assert isinstance(node, FileNode) and node.size in (10, 30) and node.mtime_ns in (1000 * 10**6, 3000 * 10**6)
    assert tree.lookup("/an1/x.bam/deeper") is None and tree.lookup("/nope") is None
    assert tree.files == 4 and any("is taken" in n for n in tree.notes)
    assert tree.root.mtime_ns == 4000 * 10**6


@pytest.mark.parametrize(
    "bad", ["..", ".", "a/b", "", "x\x00y", "n" * 256, "\u00e9" * 128, "line\nbreak", "bell\x07", "lone\udcffsurrogate"]
)
def test_unsafe_names_from_the_metadata_service_never_become_paths(bad: str) -> None:
    tree = build_tree([Listed(A, 1, 0)], {A: Naming("an", bad)}, "bundle")
    assert set(tree.root.children) == {A}
    tree = build_tree([Listed(A, 1, 0)], {A: Naming(bad, "f.txt")}, "bundle")
    assert set(tree.root.children) == {A}


def test_long_non_ascii_names_within_255_bytes_are_kept() -> None:
    name = "\u00e9" * 127 + ".b"  # 129 characters but 256 bytes: too long
    assert not build_tree([Listed(A, 1, 0)], {A: Naming("an", name)}, "bundle").lookup(f"/an/{name}")
    name = "\u00e9" * 126 + ".b"  # 254 bytes
    assert build_tree([Listed(A, 1, 0)], {A: Naming("an", name)}, "bundle").lookup(f"/an/{name}")


def test_object_id_layout_is_flat() -> None:
    tree = build_tree([Listed(A, 1, 0), Listed(B, 2, 0)], {A: Naming("an", "f")}, "object-id")
    assert set(tree.root.children) == {A, B} and tree.notes == []


class Server:
    def __init__(self, ids: list[str]) -> None:
        self.ids = ids

    def listing(self) -> list[ObjectInfoOut]:
        return [ObjectInfoOut(id=oid, lastModified=0, size=len(oid)) for oid in self.ids]


class Song:
    def __init__(self, entities: list[dict[str, Any]]) -> None:
        self.entities = [x for x in map(FileEntity.parse, entities) if x is not None]
        self.calls = 0

    def find_entities(self, filters: dict[str, str] | None = None, page_size: int = 2000) -> list[FileEntity]:
        self.calls += 1
        return self.entities


ENTITIES = [
    {"id": A, "fileName": "s.bam", "gnosId": "an"},
    {"id": B, "fileName": "s.bam.bai", "gnosId": "an"},
    {"id": C, "fileName": "other.txt", "gnosId": "an"},
    {"id": X, "fileName": "hidden.txt", "gnosId": "an"},
]


def test_the_listing_decides_what_is_shown() -> None:
    said: list[str] = []
    tree = gather(Server([A, B, C, "../../etc", "not-an-id"]), Song(ENTITIES), Selection("bundle"), said.append)
    assert set(tree.root.children) == {"an"}  # names that are not object ids are never shown
    folder = tree.lookup("/an")
    assert isinstance(folder, DirNode) and set(folder.children) == {"s.bam", "s.bam.bai", "other.txt"}


def test_a_manifest_narrows_and_brings_the_index_along() -> None:
    said: list[str] = []
    tree = gather(Server([A, B, C]), Song(ENTITIES), Selection("bundle", (A, X)), said.append)
    folder = tree.lookup("/an")
    assert isinstance(folder, DirNode) and set(folder.children) == {"s.bam", "s.bam.bai"}
    assert any("1 object(s) of the manifest are not shown" in s and X in s for s in said)
    with pytest.raises(e.InvalidRequestError, match="no object of the manifest"):
        gather(Server([A]), Song(ENTITIES), Selection("bundle", (X,)), said.append)


def test_the_names_cache_is_reused_only_when_it_covers_the_listing(tmp_path: Path) -> None:
    cache = tmp_path / "names.json"
    song = Song(ENTITIES)
    selection = Selection("bundle", None, cache, "http://meta")
    said: list[str] = []
    gather(Server([A, B, D]), song, selection, said.append)  # D has no entity
    assert song.calls == 1 and json.loads(cache.read_text())["unnamed"] == [D]
    gather(Server([A, D]), song, selection, said.append)
    assert song.calls == 1 and any("entity names from" in s for s in said)
    gather(Server([A, C]), song, selection, said.append)  # C has a cached name
    assert song.calls == 1
    gather(Server([A, E]), song, selection, said.append)  # E is new to the cache: asked again
    assert song.calls == 2
    gather(Server([A]), song, Selection("bundle", None, cache, "http://other-meta"), said.append)
    assert song.calls == 3  # another metadata service
    cache.write_text("{not json")
    gather(Server([A]), song, selection, said.append)
    assert song.calls == 4


def test_object_id_layout_needs_no_metadata() -> None:
    song = Song(ENTITIES)
    tree = gather(Server([A, B]), song, Selection("object-id"), print)
    assert song.calls == 0 and set(tree.root.children) == {A, B}


def test_fuse_options_parse_like_score() -> None:
    assert parse_fuse_options("allow_other, max_read=131072") == {"allow_other": True, "max_read": "131072"}
    assert parse_fuse_options(None) == {}
    for bad in ("=x", "a b", "x;y"):
        with pytest.raises(e.InvalidRequestError, match="malformed"):
            parse_fuse_options(bad)
    with pytest.raises(e.InvalidRequestError, match="read-only"):
        parse_fuse_options("rw")


def test_mount_point_checks(tmp_path: Path) -> None:
    with pytest.raises(e.InvalidRequestError, match="does not exist"):
        check_mount_point(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(e.InvalidRequestError, match="not a directory"):
        check_mount_point(tmp_path / "file")
    with pytest.raises(e.InvalidRequestError, match="not empty"):
        check_mount_point(tmp_path)
    (tmp_path / "empty").mkdir()
    check_mount_point(tmp_path / "empty")


def test_each_failure_has_its_errno() -> None:
    pytest.importorskip("mfusepy")
    from score.fuse.ops import errno_for

    assert errno_for(e.NotFoundError("gone")) == errno.ENOENT
    assert errno_for(e.ForbiddenError("no scope")) == errno.EACCES
    assert errno_for(e.UnauthenticatedError("expired token")) == errno.EACCES
    assert errno_for(e.ConflictError("unpublished")) == errno.EACCES
    assert errno_for(e.SignatureError("bad signature")) == errno.EIO
    assert errno_for(e.UpstreamUnavailableError("down")) == errno.EIO
    assert errno_for(TimeoutError()) == errno.EIO
