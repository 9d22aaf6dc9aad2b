"""One download at a time into one file, across processes: the second waits, then finds the file complete.

Two runs of the same command (a manifest started twice, two shells) used to race on the same resume state: the
first to finish moved the data into place and removed the state, and the other failed writing into it. Each
download now holds an exclusive ``flock`` on a lock file named after its target's absolute path, kept under the
system's temporary directory (never beside the data, and never removed: removing a lock file others may be
waiting on would let two holders in). Locks are per machine: two machines writing one shared directory are not
serialized.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

LOCK_DIR = "score-client-locks"


@contextlib.contextmanager
def exclusive(target: Path) -> Iterator[None]:
    """Hold the lock of *target* for the block, waiting for another holder to finish first.

    A lock that cannot be made (an unwritable temporary directory) is skipped: the download goes on unlocked, as
    before, rather than failing.
    """
    name = hashlib.sha256(str(target.absolute()).encode()).hexdigest()[:32] + ".lock"
    folder = Path(tempfile.gettempdir()) / LOCK_DIR
    try:
        folder.mkdir(mode=0o1777, exist_ok=True)
        fd = os.open(folder / name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
