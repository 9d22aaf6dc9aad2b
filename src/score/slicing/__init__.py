"""``score-client view``: regions of BAM/CRAM/VCF objects, sliced from signed URLs or local files."""
