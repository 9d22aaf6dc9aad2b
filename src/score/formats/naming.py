"""Which file names an index of a data file may have (htslib's conventions; pure)."""

from __future__ import annotations

# data suffix -> index suffixes, in htslib's order of preference
INDEX_SUFFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (".bam", (".bai", ".csi")),
    (".cram", (".crai",)),
    (".vcf.gz", (".tbi", ".csi")),
    (".vcf.bgz", (".tbi", ".csi")),
    (".bcf", (".csi",)),
    (".vcf", (".idx",)),
)


def index_names(name: str) -> list[str]:
    """The names an index of *name* may have, best first; [] when *name* is not an indexable format."""
    lower = name.lower()
    for data, indexes in INDEX_SUFFIXES:
        if lower.endswith(data):
            stem = name[: -len(data)]
            return [name + ix for ix in indexes] + [stem + ix for ix in indexes]
    return []
