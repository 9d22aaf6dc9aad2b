"""What a slice reads: a stored object (its name and its index object from the same analysis, found
through the metadata service; the index downloaded and MD5-checked; the object behind its pre-signed
URL), or a local file and the index beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from score.client.transfer.batch import MetadataLookups, analysis_entries, entry_of
from score.client.transfer.output_layout import ObjectEntry
from score.domain import errors as e
from score.formats.naming import index_names
from score.slicing.viewer import Source

if TYPE_CHECKING:
    from score.client.http.server_api import ServerApi
    from score.client.transfer.data_plane import DataPlane

READABLE = (".bam", ".cram", ".sam")


@dataclass(frozen=True, slots=True)
class Located:
    """An object as the metadata service names it, and its index object (None when there is none)."""

    item: ObjectEntry
    index: ObjectEntry | None = None


def is_alignment(name: str) -> bool:
    """Whether *name* is a BAM, CRAM or SAM file (by its extension)."""
    return name.lower().endswith(READABLE)


def stem(name: str) -> str:
    """*name* without its ``.bam``/``.cram``/``.sam`` extension (as it is when it has none)."""
    for suffix in READABLE:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def locate(api: MetadataLookups, object_id: str) -> Located:
    """The object's name and its index object from the same analysis.

    An object the metadata service does not know, or one without analysis and study, has no index.
    """
    from score.client.transfer.index_pairing import pair_indexes

    entity = api.entity(object_id)
    if entity is None:
        return Located(ObjectEntry(object_id))
    item = entry_of(entity)
    if not item.analysis_id or not item.study:
        return Located(item)
    files = analysis_entries(api, item.study, item.analysis_id)
    pairing = pair_indexes([item], {item.analysis_id: files})
    return Located(item, next((i for i in pairing.items if i.object_id != object_id), None))


def local_source(path: Path, index: Path | None) -> Source:
    """A local BAM/CRAM/SAM and its index (given, or beside it as htslib looks for it: ``x.bam.bai``, then ``x.bai``).

    Raises:
        InvalidRequestError: the file, or the index given, does not exist.
    """
    if not path.is_file():
        raise e.InvalidRequestError(f"input file {path} does not exist")
    if index is None:
        index = next((c for c in (path.with_name(n) for n in index_names(path.name)) if c.is_file()), None)
    elif not index.is_file():
        raise e.InvalidRequestError(f"index file {index} does not exist")
    from score.slicing.bam_copy import local_bytes

    return Source(str(path.resolve()), index.resolve() if index else None, path.name, local_bytes(path.resolve()))


def remote_source(
    object_id: str,
    metadata: Callable[[], MetadataLookups],
    server: Callable[[], ServerApi],
    data: DataPlane,
    work: Path,
    *,
    need_index: bool,
    alignments_only: bool,
) -> Source | None:
    """The object behind its URL, its index downloaded into *work*.

    Args:
        object_id: the object to read.
        metadata: opens a metadata client (closed here).
        server: opens a server client (closed here).
        data: the data plane for the index download and the object's bytes.
        work: a private directory for the index.
        need_index: the slice reads regions (a header alone needs no index).
        alignments_only: skip an object whose name is not a BAM, CRAM or SAM.

    Returns:
        The source, or None when *alignments_only* skips it.

    Raises:
        NotFoundError: an index is needed and its analysis has none.
    """
    from score.client.transfer.download import Downloader
    from score.slicing.bam_copy import remote_bytes

    meta = metadata()
    try:
        found = locate(meta, object_id)
    finally:
        meta.close()
    item, index = found.item, found.index
    name = item.file_name or object_id
    if alignments_only and not is_alignment(name):
        return None
    api = server()
    try:
        url, _, size = api.whole_object(object_id)
        local_index = None
        if index is not None and need_index:
            local_index = work / (index.file_name or index.object_id)
            dl = Downloader(api, data, parallel=2)
            try:
                dl.download(index.object_id, work, target=local_index)
            finally:
                dl.close()
        elif need_index and item.file_name and not is_alignment(name):  # a .txt, a .bai: no regions there
            raise e.InvalidRequestError(f"{name} is not a BAM, CRAM or SAM file (by its name), so it has no regions")
        elif need_index:
            where = f"analysis {item.analysis_id}" if item.analysis_id else "the metadata service"
            raise e.NotFoundError(
                f"no index (.bai/.crai) for {name} in {where}; upload its index to the same analysis",
                reason=e.NO_INDEX,
            )
    finally:
        api.close()
    return Source(url, local_index, name, remote_bytes(data.get_range, url, size))
