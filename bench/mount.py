"""Mount benchmark: reading through ``score-client mount`` against score-client download and curl.

    .venv/bin/python bench/mount.py [--size-mib 1024] [--random 300]

One score-server on the embedded local store (registry metadata), one random file. Prints two
markdown tables:

* sequential: ``md5sum`` and ``dd`` of the file through a fresh mount, against ``score-client
  download`` (MD5-validated) and curl of the whole-object URL, in MiB/s with the ratio to the
  download; every figure is checked by MD5 first;
* random 4 KiB reads: ``pread`` latency through a fresh mount (each read in a block not read
  before, so it crosses the network), a re-read of the same offsets (page cache), and curl
  fetching the same 4 KiB ranges on one kept-alive connection.

Needs FUSE (``/dev/fuse``, fuse3) and root or the fuse group. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from _kit import GNU_TIME, MIB, PYTHON, Server, Timed, markdown_table, md5_of, random_file, run_timed  # noqa: E402


def _client(args: list[str], server: Server, token: str) -> str:
    env = {**os.environ, "STORAGE_URL": server.url, "ACCESSTOKEN": token}
    r = subprocess.run(
        [PYTHON, "-m", "score.cli.client_main", *args], capture_output=True, text=True, env=env, check=False
    )
    if r.returncode != 0:
        raise RuntimeError(f"score-client {args[0]} failed: {r.stderr[-2000:]}")
    return r.stdout


class Mounted:
    """``score-client mount --layout object-id`` under GNU time (for its peak RSS)."""

    def __init__(self, server: Server, token: str, point: Path) -> None:
        self.point = point
        self.rss = point.parent / f"{point.name}.rss"
        env = {**os.environ, "STORAGE_URL": server.url, "ACCESSTOKEN": token}
        cmd = [
            GNU_TIME,
            "-f",
            "%M",
            "-o",
            str(self.rss),
            PYTHON,
            "-m",
            "score.cli.client_main",
            "mount",
            "--mount-point",
            str(point),
            "--layout",
            "object-id",
        ]
        point.mkdir()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.monotonic() + 60
        while not os.path.ismount(point):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mount failed: {self.proc.communicate()[1][-2000:]}")
            time.sleep(0.05)

    def close(self) -> tuple[float, str]:
        """Unmount; return the mount process's peak RSS (MiB) and its summary line."""
        subprocess.run(["fusermount3", "-u", str(self.point)], check=True)
        out, _ = self.proc.communicate(timeout=60)
        return int(self.rss.read_text().split()[-1]) / 1024, out.strip().splitlines()[-1]


def _latencies(path: Path, offsets: list[int]) -> list[float]:
    out = []
    fd = os.open(path, os.O_RDONLY)
    try:
        for offset in offsets:
            t0 = time.perf_counter()
            if len(os.pread(fd, 4096, offset)) != 4096:
                raise RuntimeError("short read through the mount")
            out.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
    return out


def _ms(values: list[float]) -> tuple[str, str]:
    ordered = sorted(values)
    return f"{statistics.median(ordered) * 1000:.2f}", f"{ordered[int(len(ordered) * 0.95)] * 1000:.2f}"


def main() -> int:
    """Run the benchmark and print the tables."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size-mib", type=int, default=1024)
    p.add_argument("--random", type=int, default=300, help="random 4 KiB reads (default 300)")
    args = p.parse_args()
    if not os.path.exists("/dev/fuse") or shutil.which("fusermount3") is None:
        print("FUSE is missing: run scripts/setup (it installs fuse3) on a machine with /dev/fuse", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="score-bench-mount-") as tmp_name:
        tmp = Path(tmp_name)
        src = random_file(tmp / "data.bin", args.size_mib * MIB)
        expected = md5_of(src)
        data = tmp / "store"
        data.mkdir()
        with Server(data, {"SCORE_METADATA__KIND": "registry", "SCORE_DOWNLOAD_URL_TTL": "3600"}) as server:
            token = server.token("score.READ", "score.WRITE")
            manifest = tmp / "manifest.txt"
            out = _client(
                ["submit", "--study-id", "BENCH", "--files", str(src), "--manifest", str(manifest)], server, token
            )
            _client(["upload", "--manifest", str(manifest)], server, token)
            _client(
                ["publish", "--study-id", "BENCH", "--analysis-id", out.split("submitted analysis ")[1].split()[0]],
                server,
                token,
            )
            oid = manifest.read_text().splitlines()[1].split("\t")[0]
            url = _client(["url", "--object-id", oid], server, token).strip()
            size = src.stat().st_size
            env = {"STORAGE_URL": server.url, "ACCESSTOKEN": token}

            def download() -> Timed:
                dest = tmp / "dl"
                t = run_timed(
                    [
                        PYTHON,
                        "-m",
                        "score.cli.client_main",
                        "download",
                        "--quiet",
                        "--object-id",
                        oid,
                        "--output-dir",
                        str(dest),
                        "--output-layout",
                        "id",
                    ],
                    env,
                )
                if md5_of(dest / oid) != expected:
                    raise RuntimeError("download differs")
                shutil.rmtree(dest)
                return t

            def curl() -> Timed:
                t = run_timed(["sh", "-c", 'curl --fail --silent --show-error "$1" | md5sum', "sh", url])
                if t.stdout.split()[0] != expected:
                    raise RuntimeError("curl differs")
                return t

            def through(tool: str) -> tuple[Timed, float]:
                m = Mounted(server, token, tmp / f"mnt-{tool}")
                try:
                    target = str(m.point / oid)
                    if tool == "md5sum":
                        t = run_timed(["md5sum", target])
                        if t.stdout.split()[0] != expected:
                            raise RuntimeError("md5sum through the mount differs")
                    else:
                        t = run_timed(["dd", f"if={target}", "of=/dev/null", "bs=1M"])
                finally:
                    rss, _ = m.close()
                return t, rss

            reference = download()
            rows = [
                [
                    "score-client download (MD5 checked)",
                    f"{reference.mib_s(size):.0f}",
                    "1.00x",
                    f"{reference.peak_rss_mib:.0f}",
                ]
            ]
            t = curl()
            rows.append(
                [
                    "curl whole-object URL piped to md5sum",
                    f"{t.mib_s(size):.0f}",
                    f"{t.seconds and reference.seconds / t.seconds:.2f}x",
                    f"{t.peak_rss_mib:.0f}",
                ]
            )
            for tool, label in (("md5sum", "md5sum through the mount"), ("dd", "dd bs=1M through the mount (no MD5)")):
                t, rss = through(tool)
                rows.append(
                    [label, f"{t.mib_s(size):.0f}", f"{reference.seconds / t.seconds:.2f}x", f"{rss:.0f} (mount)"]
                )
            print(f"\nSequential read of a {args.size_mib} MiB object, embedded local store\n")
            print(markdown_table(["reader", "MiB/s", "vs download", "peak RSS MiB"], rows))

            rng = random.Random(5)
            blocks = rng.sample(range(size // MIB - 1), min(args.random, size // MIB - 1))
            offsets = [b * MIB + rng.randrange(MIB - 4096) for b in blocks]
            m = Mounted(server, token, tmp / "mnt-random")
            try:
                cold = _latencies(m.point / oid, offsets)
                warm = _latencies(m.point / oid, offsets)
            finally:
                rss, summary = m.close()
            config = tmp / "ranges.cfg"
            config.write_text(
                "".join(f'url = "{url}"\nrange = "{o}-{o + 4095}"\noutput = "/dev/null"\n' for o in offsets)
            )
            t = run_timed(["curl", "--fail", "--silent", "--show-error", "--config", str(config)])
            per_curl = t.seconds / len(offsets)
            print(f"\nRandom 4 KiB reads at {len(offsets)} offsets, each in a block not read before\n")
            print(
                markdown_table(
                    ["reader", "median ms", "p95 ms"],
                    [
                        ["pread through a fresh mount", *_ms(cold)],
                        ["pread again (page cache)", *_ms(warm)],
                        ["curl ranged GETs, one connection (mean incl. start-up)", f"{per_curl * 1000:.2f}", "-"],
                    ],
                )
            )
            print(f"\nmount after the random reads: {summary}; peak RSS {rss:.0f} MiB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
