"""Which index file belongs to which BAM/CRAM/VCF (``download --index``): pure name matching.

htslib looks for ``<file>.<ext>`` first and ``<stem>.<ext>`` second (``x.bam.bai``, then
``x.bai``); both spellings are found here, the first one preferred.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from score.client.transfer.output_layout import ObjectEntry
from score.formats.naming import index_names

__all__ = ["Pairing", "index_names", "pair_indexes"]


@dataclass
class Pairing:
    """The selection with the indexes added, and the data files for which none was found."""

    items: list[ObjectEntry]
    added: int = 0
    unpaired: list[ObjectEntry] = field(default_factory=list)


def pair_indexes(selected: list[ObjectEntry], analysis_files: dict[str, list[ObjectEntry]]) -> Pairing:
    """Add, right after each indexable data file, its index from the same analysis.

    *analysis_files* maps an analysis id to its files. An index that is already selected is not
    added twice; files of unknown analysis are left alone.
    """
    chosen = {item.object_id for item in selected}
    out = Pairing([])
    for item in selected:
        out.items.append(item)
        names = index_names(item.file_name or "")
        if not names or item.analysis_id is None:
            continue
        by_name = {f.file_name: f for f in analysis_files.get(item.analysis_id, []) if f.file_name}
        index = next((by_name[n] for n in names if n in by_name), None)
        if index is None:
            out.unpaired.append(item)
        elif index.object_id not in chosen:
            chosen.add(index.object_id)
            out.items.append(index)
            out.added += 1
    return out
