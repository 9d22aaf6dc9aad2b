"""Benchmark helpers: a score-server process, timed child processes with their peak RSS, tables.

Not part of the test suite and not imported by the product. Files and ports come from the test kit
(``tests/kit``), so the benchmarks and the tests make their inputs the same way.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import httpx
from tests.kit.files import MIB, md5_of, random_file
from tests.kit.servers import free_port

__all__ = ["GIB", "MIB", "PYTHON", "Server", "Timed", "markdown_table", "md5_of", "random_file", "run_timed"]

GIB = 1024 * MIB
PYTHON = sys.executable
GNU_TIME = "/usr/bin/time"


@dataclass(frozen=True)
class Timed:
    """One finished child process: wall seconds, peak RSS and output."""

    seconds: float
    peak_rss_mib: float
    returncode: int
    stdout: str
    stderr: str

    def mib_s(self, nbytes: int) -> float:
        """Throughput for *nbytes* moved."""
        return nbytes / MIB / self.seconds if self.seconds > 0 else float("inf")


def run_timed(cmd: Sequence[str], env: dict[str, str] | None = None) -> Timed:
    """Run *cmd*; measure its wall time and its own peak RSS.

    The RSS comes from GNU time (``%M``), which forks the command from a small process: Linux
    carries a parent's high-water mark across fork+exec, so ``wait4`` on a child of this
    (large) Python process would report our own RSS as a floor.

    Raises:
        RuntimeError: the command failed.
    """
    with tempfile.TemporaryDirectory(prefix="score-bench-run-") as tmp:
        out_path, err_path, rss_path = Path(tmp, "out"), Path(tmp, "err"), Path(tmp, "rss")
        timed = [GNU_TIME, "-f", "%M", "-o", str(rss_path), *cmd]
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            start = time.perf_counter()
            rc = subprocess.call(timed, stdout=out, stderr=err, env={**os.environ, **(env or {})})
            seconds = time.perf_counter() - start
        rss_lines = rss_path.read_text().split()
        rss_kib = int(rss_lines[-1]) if rss_lines and rss_lines[-1].isdigit() else 0
        result = Timed(seconds, rss_kib / 1024, rc, out_path.read_text(), err_path.read_text())
    if result.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({result.returncode}): {result.stderr[-2000:]}")
    return result


class Server:
    """score-server on the embedded local store, in a private data directory."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        """Prepare (not start) a server over *data_dir*."""
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {"SCORE_METADATA__KIND": "none", **(env or {})}  # benchmarks move unregistered ids
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        """Start and wait for /health."""
        log = open(self.data_dir.parent / "server.log", "ab")
        cmd = [
            PYTHON,
            "-m",
            "score.cli.server_main",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        self._proc = subprocess.Popen(cmd, stdout=log, stderr=log, env={**os.environ, **self.env})
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("score-server did not start; see server.log")

    def __exit__(self, *exc: object) -> None:
        """Stop the server."""
        if self._proc and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._proc.pid if self._proc else None

    def token(self, *scopes: str) -> str:
        """A token from the embedded issuer."""
        cmd = [PYTHON, "-m", "score.cli.server_main", "token", "--data-dir", str(self.data_dir), "--ttl", "6h"]
        for s in scopes:
            cmd += ["--scope", s]
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Render rows as a GitHub markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
