"""Run ``score-client mount`` in a subprocess and make sure nothing stays mounted afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.kit.servers import start_client


def require_fuse() -> None:
    """Skip (visibly) on a machine without FUSE; scripts/setup installs fuse3 where it can."""
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no /dev/fuse on this machine")


def mounted_points() -> list[str]:
    """Every FUSE mount point of score-client now (from /proc/mounts)."""
    with open("/proc/mounts", encoding="utf-8") as fh:
        return [line.split()[1] for line in fh if line.split()[2] == "fuse.score"]


def wait_mounted(point: Path, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    """Wait until *point* is a mount, or fail with the client's output if it ended first."""
    deadline = time.monotonic() + timeout
    while not os.path.ismount(point):
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"mount ended with rc={proc.returncode}\nstdout={out}\nstderr={err}")
        if time.monotonic() > deadline:
            pytest.fail(f"{point} was not mounted within {timeout} s")
        time.sleep(0.05)


def force_unmount(point: Path) -> None:
    """Last resort at the end of a test: lazy unmount."""
    if os.path.ismount(point) or str(point) in mounted_points():
        subprocess.run(["fusermount3", "-u", "-z", str(point)], check=False, capture_output=True)


@dataclass
class Mount:
    """A running mount."""

    point: Path
    proc: subprocess.Popen[str]

    def stop(self, how: str = "fusermount") -> tuple[int, str, str]:
        """End it by ``fusermount3 -u``, SIGINT or SIGTERM; return (rc, stdout, stderr) of the client."""
        if how == "fusermount":
            subprocess.run(["fusermount3", "-u", str(self.point)], check=True, capture_output=True, timeout=30)
        else:
            self.proc.send_signal(signal.SIGINT if how == "SIGINT" else signal.SIGTERM)
        out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, out, err


@contextmanager
def mount(
    server: str, token: str, point: Path, *extra: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Iterator[Mount]:
    """``score-client mount --mount-point POINT EXTRA...`` until the block ends (then unmounted, checked)."""
    point.mkdir(parents=True, exist_ok=True)
    proc = start_client(["mount", "--mount-point", str(point), *extra], server=server, token=token, env=env, cwd=cwd)
    try:
        wait_mounted(point, proc)
        yield Mount(point, proc)
    finally:
        if proc.poll() is None:
            force_unmount(point)
        try:
            proc.communicate(timeout=30)  # also closes the pipes of a process that has ended
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        force_unmount(point)
    assert str(point) not in mounted_points()
