"""Where downloaded files go: Score's ``--output-layout`` (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from score.domain import errors as e

LAYOUTS = ("filename", "bundle", "id")


@dataclass(frozen=True, slots=True)
class ObjectEntry:
    """An object and what the metadata service knows of it (None when it knows nothing)."""

    object_id: str
    file_name: str | None = None
    analysis_id: str | None = None
    size: int | None = None
    study: str | None = None


def _safe(name: str) -> str:
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        raise e.InvalidRequestError(f"refusing the unsafe file name {name[:80]!r} from the metadata service")
    return name


def relative_target(item: ObjectEntry, layout: str) -> str:
    """The file's path under the output directory.

    ``filename``: ``<file name>``; ``bundle``: ``<analysis id>/<file name>``; ``id``: ``<object id>``.
    An object the metadata service does not know is named by its id in every layout.
    """
    if layout not in LAYOUTS:
        raise e.InvalidRequestError(f"unknown layout {layout!r}: use filename, bundle or id")
    if layout == "id" or item.file_name is None:
        return item.object_id
    name = _safe(item.file_name)
    if layout == "bundle" and item.analysis_id:
        return str(PurePosixPath(_safe(item.analysis_id)) / name)
    return name


def ranged(offset: int, length: int) -> bool:
    """Whether Score's ``--offset``/``--length`` ask for a byte range (anything but ``0``/``-1``, the whole object)."""
    return offset != 0 or length != -1


def range_bytes(offset: int, length: int, object_size: int) -> int:
    """How many bytes *offset*/*length* (``-1``: to the end) select of an object of *object_size*, clipped to it."""
    rest = max(object_size - offset, 0)
    return rest if length < 0 else min(length, rest)


def range_name(name: str, first: int, size: int) -> str:
    """``<name>.<first>-<last>``: the file a range of *size* bytes from byte *first* is written to.

    Its bytes are named inclusively, as in an HTTP ``Range`` header: ``--offset 0 --length 10`` gives
    ``<name>.0-9``. A range is never written under the name a whole download uses, so it is never
    taken for the whole object; a range that happens to cover the whole object is named the same way.
    """
    return f"{name}.{first}-{first + size - 1}"


def plan_targets(items: list[ObjectEntry], layout: str) -> dict[str, str]:
    """Targets by object id; two objects never share a target.

    Raises:
        InvalidRequestError: duplicate targets (listed), with the layouts that avoid them.
    """
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    clashes = []
    for item in items:
        rel = relative_target(item, layout)
        other = seen.get(rel)
        if other is not None and other != item.object_id:
            clashes.append(f"{rel} ({other} and {item.object_id})")
        seen[rel] = item.object_id
        out[item.object_id] = rel
    if clashes:
        raise e.InvalidRequestError(
            "several objects would be written to the same file: "
            + "; ".join(clashes[:10])
            + " (use --output-layout bundle or id; nothing was downloaded)"
        )
    return out
