"""Start a helper server process on a loopback port and stop it again (emulators, providers)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def start_daemon(
    cmd: Sequence[str], log_path: Path, port: int, name: str, timeout: float = 30.0, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Launch *cmd* (output to *log_path*; in *env*, else this process's environment) and wait until
    127.0.0.1:*port* accepts connections.

    Raises:
        RuntimeError: the process exited or did not listen in time (with the end of its log).
    """
    log = open(log_path, "ab")  # noqa: SIM115 - closed once the child has it
    proc = subprocess.Popen(list(cmd), stdout=log, stderr=log, start_new_session=True, env=env)
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited early:\n{log_path.read_text(errors='replace')[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.1)
    stop_daemon(proc)
    raise RuntimeError(f"{name} did not listen on port {port} within {timeout:.0f} s")


def stop_daemon(proc: subprocess.Popen[Any] | None) -> None:
    """SIGTERM, then SIGKILL if it lingers; no error if it has already gone."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
