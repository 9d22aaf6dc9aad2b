"""Mount lifecycle: check the mount point and FUSE, mount in the foreground, end cleanly.

libfuse handles SIGINT, SIGTERM and SIGHUP itself (it leaves its loop and unmounts), and
``fusermount3 -u`` ends the loop from outside; either way :func:`serve` returns and nothing stays
mounted. A process killed with SIGKILL leaves a dead mount that :func:`check_mount_point` spots
and explains.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from score.domain import errors as e

FUSERMOUNT = "fusermount3"


def parse_fuse_options(text: str | None) -> dict[str, str | bool]:
    """``a,b=c`` (Score's ``--options``) as mfusepy keyword options.

    Raises:
        InvalidRequestError: an empty or malformed option.
    """
    out: dict[str, str | bool] = {}
    for raw in (text or "").split(","):
        item = raw.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not key or not key.replace("_", "").isalnum():
            raise e.InvalidRequestError(f"malformed FUSE option {item!r}: use name or name=value, comma-separated")
        if key in ("rw", "dev", "suid"):
            raise e.InvalidRequestError(f"FUSE option {key!r} is not allowed: the mount is read-only")
        out[key] = value if sep else True
    return out


def check_fuse() -> None:
    """FUSE is usable here: ``/dev/fuse``, ``fusermount3`` and libfuse 3 (through mfusepy).

    Raises:
        ConfigError: what is missing and how to install it.
    """
    if not os.path.exists("/dev/fuse"):
        raise e.ConfigError(
            "/dev/fuse does not exist: this machine (or container) has no FUSE; "
            "load the fuse module or run the container with --device /dev/fuse"
        )
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        raise e.ConfigError(
            "/dev/fuse is not readable and writable by this user: add the user to the group "
            "that owns it, or mount as root"
        )
    if shutil.which(FUSERMOUNT) is None:
        raise e.ConfigError("fusermount3 is missing: install FUSE 3 (Debian/Ubuntu: apt-get install fuse3)")
    try:
        import mfusepy  # noqa: F401 - loads libfuse through ctypes
    except ImportError:
        raise e.ConfigError("the mount needs mfusepy: pip install 'score[mount]'") from None
    except OSError as exc:
        raise e.ConfigError(f"libfuse 3 cannot be loaded ({exc}): install fuse3") from None


def check_mount_point(path: Path) -> None:
    """An existing, empty, unmounted directory.

    Raises:
        InvalidRequestError: what is wrong with it and what to do.
    """
    try:
        path.stat()
    except FileNotFoundError:
        raise e.InvalidRequestError(f"mount point {path} does not exist: create it with mkdir") from None
    except OSError as exc:
        if exc.errno == errno.ENOTCONN:
            raise e.InvalidRequestError(
                f"{path} is a mount whose process has died: run {FUSERMOUNT} -u {path} and try again"
            ) from None
        raise e.InvalidRequestError(f"mount point {path}: {exc.strerror}") from None
    if not path.is_dir():
        raise e.InvalidRequestError(f"mount point {path} is not a directory")
    if os.path.ismount(path):
        raise e.InvalidRequestError(f"{path} is already a mount point (unmount it with {FUSERMOUNT} -u {path})")
    if not os.access(path, os.W_OK | os.X_OK):
        raise e.InvalidRequestError(f"mount point {path} must be a directory you may write")
    if any(path.iterdir()):
        raise e.InvalidRequestError(
            f"mount point {path} is not empty: mounting would hide its files; use an empty directory"
        )


def serve(operations: object, mount_point: Path, options: dict[str, str | bool]) -> None:
    """Mount *operations* at *mount_point* read-only and serve until unmounted or signalled.

    Raises:
        ConfigError: libfuse refused to mount (its own message went to standard error).
    """
    import mfusepy

    from score.fuse.ops import KERNEL_OPTIONS

    fuse_options: dict[str, str | bool] = {
        "fsname": "score",
        "subtype": "score",
        **KERNEL_OPTIONS,
        **options,
        "ro": True,
    }
    try:
        mfusepy.FUSE(operations, str(mount_point), foreground=True, nothreads=False, **fuse_options)
    except RuntimeError as exc:
        raise e.ConfigError(f"libfuse could not mount {mount_point} (status {exc}); see its message above") from None
