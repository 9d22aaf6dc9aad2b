"""``score-client mount``: a read-only FUSE file system of the objects a token may read.

``tree`` lays the objects out (pure), ``catalog`` gathers them from the server and the metadata
service, ``ops`` answers the kernel (through mfusepy), ``mount`` runs and ends the mount.
"""
