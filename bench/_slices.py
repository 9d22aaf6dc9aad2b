"""What the slicing benchmarks (slicing.py, view_check.py) share: score-client runs, CPU of finished children,
record counts, and a BAM published with its index on a bench server. Not imported by the product.
"""

from __future__ import annotations

import os
import resource
import subprocess
from collections.abc import Sequence
from pathlib import Path

from _kit import PYTHON, Server

ENV = {**os.environ, "REF_PATH": ":"}  # htslib never fetches a CRAM reference from the internet
CLIENT = ("-m", "score.cli.client_main")


def client(args: list[str], server: Server, token: str, cwd: Path | None = None, head: Sequence[str] = CLIENT) -> str:
    """Run score-client (*head*: how Python starts it) against *server*; its stdout.

    Raises:
        RuntimeError: it failed (with the end of its stderr).
    """
    env = {**ENV, "STORAGE_URL": server.url, "ACCESSTOKEN": token}
    r = subprocess.run([PYTHON, *head, *args], env=env, capture_output=True, text=True, cwd=cwd)
    if r.returncode != 0:
        raise RuntimeError(f"score-client {args[0]} failed: {r.stderr[-1500:]}")
    return r.stdout


def children_cpu() -> float:
    """User + system CPU seconds of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def count(path: Path) -> int:
    """Records in a BAM (``samtools view -c``)."""
    out = subprocess.run(["samtools", "view", "-c", str(path)], check=True, capture_output=True, text=True, env=ENV)
    return int(out.stdout)


def publish_bam(server: Server, token: str, bam: Path, tmp: Path) -> dict[str, str]:
    """Submit, upload and publish *bam* with its ``.bai`` in study BENCH; the object ids by file name."""
    manifest = tmp / "manifest.txt"
    out = client(
        ["submit", "--study-id", "BENCH", "--files", str(bam), str(bam) + ".bai", "--manifest", str(manifest)],
        server,
        token,
    )
    analysis = out.split("submitted analysis ")[1].split()[0]
    client(["upload", "--manifest", str(manifest)], server, token)
    client(["publish", "--study-id", "BENCH", "--analysis-id", analysis], server, token)
    return {Path(line.split("\t")[1]).name: line.split("\t")[0] for line in manifest.read_text().splitlines()[1:]}
