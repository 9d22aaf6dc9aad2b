"""The directory tree of a mount (pure): Score's ``bundle`` and ``object-id`` layouts.

``bundle``: ``/<analysis id>/<file name>``, so index files sit beside their data files as htslib
expects; ``object-id``: ``/<object id>``. An object the metadata service does not know, or whose
name cannot be a file name, appears at the top by its id in both layouts, so nothing readable
is hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LAYOUTS = ("bundle", "object-id")


@dataclass(frozen=True, slots=True)
class Listed:
    """An object the token may read, as ``GET /listing`` reports it."""

    object_id: str
    size: int
    last_modified_ms: int


@dataclass(frozen=True, slots=True)
class Naming:
    """What the metadata service says of an object."""

    analysis_id: str
    file_name: str


@dataclass(frozen=True, slots=True)
class FileNode:
    """A file of the mount: an object."""

    object_id: str
    size: int
    mtime_ns: int


@dataclass
class DirNode:
    """A directory of the mount."""

    mtime_ns: int = 0
    children: dict[str, DirNode | FileNode] = field(default_factory=dict)


@dataclass
class Tree:
    """The mount's tree, and what could not be placed as asked (for the user)."""

    root: DirNode
    files: int = 0
    notes: list[str] = field(default_factory=list)

    def lookup(self, path: str) -> DirNode | FileNode | None:
        """The node at an absolute path (``/`` is the root), or None."""
        node: DirNode | FileNode = self.root
        for name in path.strip("/").split("/"):
            if not name:
                continue
            if not isinstance(node, DirNode):
                return None
            child = node.children.get(name)
            if child is None:
                return None
            node = child
        return node


def is_safe_name(name: str) -> bool:
    """A single path component that cannot climb out or confuse the kernel or a terminal: valid
    UTF-8 of at most 255 bytes, no ``/``, no control characters, not ``.`` or ``..``.
    """
    if not name or name in (".", "..") or "/" in name:
        return False
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return False
    try:
        return len(name.encode("utf-8")) <= 255
    except UnicodeEncodeError:  # lone surrogates
        return False


def build_tree(objects: list[Listed], names: dict[str, Naming], layout: str) -> Tree:
    """Lay out *objects* (named by *names* where known) in *layout*.

    Raises:
        ValueError: an unknown layout (the CLI offers only the two).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}")
    tree = Tree(DirNode())
    by_id = 0
    for obj in sorted(
        objects,
        key=lambda o: (
            (names[o.object_id].analysis_id, names[o.object_id].file_name)
            if o.object_id in names
            else ("", o.object_id)
        ),
    ):
        node = FileNode(obj.object_id, obj.size, obj.last_modified_ms * 1_000_000)
        naming = names.get(obj.object_id)
        placed = False
        if (
            layout == "bundle"
            and naming is not None
            and is_safe_name(naming.analysis_id)
            and is_safe_name(naming.file_name)
        ):
            folder = tree.root.children.get(naming.analysis_id)
            if folder is None:
                folder = tree.root.children[naming.analysis_id] = DirNode()
            if isinstance(folder, DirNode) and naming.file_name not in folder.children:
                folder.children[naming.file_name] = node
                folder.mtime_ns = max(folder.mtime_ns, node.mtime_ns)
                placed = True
            else:
                tree.notes.append(f"{naming.analysis_id}/{naming.file_name} is taken; {obj.object_id} is shown by id")
        if not placed:
            if layout == "bundle":
                by_id += 1
            tree.root.children.setdefault(obj.object_id, node)
        tree.root.mtime_ns = max(tree.root.mtime_ns, node.mtime_ns)
        tree.files += 1
    if by_id:
        tree.notes.append(f"{by_id} object(s) without a usable name in the metadata service are shown by id at the top")
    return tree
