"""Genomic file formats as byte layouts (pure): BGZF blocks, BAI/CSI/TBI binning indexes, CRAI,
and the headers of BAM and CRAM. Used by htsget to turn a region into byte ranges of a stored object.
"""
