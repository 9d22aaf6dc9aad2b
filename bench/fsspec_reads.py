"""fsspec benchmark: random 64 KiB reads through ``fsspec.open("score://ID")`` against httpx Range GETs.

    .venv/bin/python bench/fsspec_reads.py [--size-mib 1024] [--reads 100] [--rounds 5] [--quick]

One score-server on the embedded local store (no metadata service: the object is read by its id), one random
object. Prints two markdown tables:

* random reads: *reads* reads of 64 KiB at random offsets through one file from ``fsspec.open("score://ID")``
  (a fresh file system each round, so nothing is cached from the round before), against the same reads as
  httpx ``Range`` GETs on one kept-alive connection to one pre-signed URL (``score.Client.url``), asked for once
  before the clock starts; median of *rounds* rounds, the ratio fsspec / httpx time. Every read is compared
  with the local file's bytes (MD5) after the round;
* first byte: ``open`` + the first 64 KiB read at offset 0 through a new file system (made inside the clock, and
  before it: the client's settings; then the server's download spec and URL, and the GET), against an httpx
  ranged GET on a new connection to a URL already held, and against asking the server for the URL first
  (``GET /download/ID?external=true``, as a program without score would); median of *rounds* x 4.

``--quick``: a 64 MiB object and 2 rounds. See bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import fsspec
import httpx

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from _kit import MIB, PYTHON, Server, markdown_table, random_file  # noqa: E402

from score import Client  # noqa: E402

READ = 64 * 1024


def _upload(server: Server, token: str, src: Path) -> str:
    oid = str(uuid.uuid4())
    env = {**os.environ, "STORAGE_URL": server.url, "ACCESSTOKEN": token}
    r = subprocess.run(
        [PYTHON, "-m", "score.cli.client_main", "upload", "--object-id", oid, "--file", str(src)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if r.returncode != 0:
        raise RuntimeError(f"score-client upload failed: {r.stderr[-2000:]}")
    return oid


def _check(src: Path, offsets: list[int], got: list[bytes], what: str) -> None:
    with open(src, "rb") as f:
        for offset, data in zip(offsets, got, strict=True):
            f.seek(offset)
            if hashlib.md5(data).digest() != hashlib.md5(f.read(READ)).digest():
                raise RuntimeError(f"{what}: the read at {offset} differs from the file")


def _fsspec_reads(options: dict[str, object], oid: str, offsets: list[int]) -> tuple[float, list[bytes]]:
    fs = fsspec.filesystem("score", skip_instance_cache=True, **options)
    try:
        t0 = time.perf_counter()
        with fs.open(f"score://{oid}") as f:
            got = []
            for offset in offsets:
                f.seek(offset)
                got.append(f.read(READ))
        return time.perf_counter() - t0, got
    finally:
        fs.close()


def _httpx_reads(url: str, offsets: list[int]) -> tuple[float, list[bytes]]:
    with httpx.Client(timeout=60) as http:
        t0 = time.perf_counter()
        got = []
        for offset in offsets:
            r = http.get(url, headers={"Range": f"bytes={offset}-{offset + READ - 1}"})
            r.raise_for_status()
            got.append(r.content)
        return time.perf_counter() - t0, got


def _first_fsspec(options: dict[str, object], oid: str, *, build_first: bool) -> float:
    fs = fsspec.filesystem("score", skip_instance_cache=True, **options) if build_first else None
    t0 = time.perf_counter()
    if fs is None:
        fs = fsspec.filesystem("score", skip_instance_cache=True, **options)
    with fs.open(f"score://{oid}") as f:
        data = f.read(READ)
    seconds = time.perf_counter() - t0
    fs.close()
    if len(data) != READ:
        raise RuntimeError("short first read through fsspec")
    return seconds


def _first_httpx(url: str, ask: tuple[Server, str, str] | None = None) -> float:
    """A ranged GET on a new connection (the client is built before the clock: httpx loads the system's CAs
    then, ~40 ms here); with *ask*, the server is asked for the URL first.
    """
    with httpx.Client(timeout=60) as http:
        t0 = time.perf_counter()
        if ask is not None:
            server, token, oid = ask
            spec = http.get(
                f"{server.url}/download/{oid}",
                params={"offset": 0, "length": -1, "external": "true"},
                headers={"Authorization": f"Bearer {token}"},
            )
            spec.raise_for_status()
            url = spec.json()["parts"][0]["url"]
        r = http.get(url, headers={"Range": f"bytes=0-{READ - 1}"})
        r.raise_for_status()
        return time.perf_counter() - t0


def _median_ms(run: Callable[[], float], times: int) -> float:
    return statistics.median(run() for _ in range(times)) * 1000


def main() -> int:
    """Run the benchmark and print the tables."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size-mib", type=int, default=1024, help="object size (default 1024: 1 GiB)")
    p.add_argument("--reads", type=int, default=100, help="random 64 KiB reads per round (default 100)")
    p.add_argument("--rounds", type=int, default=5, help="rounds; the median is shown (default 5)")
    p.add_argument("--quick", action="store_true", help="a 64 MiB object and 2 rounds")
    args = p.parse_args()
    size_mib, rounds = (64, 2) if args.quick else (args.size_mib, args.rounds)
    rng = random.Random(26)
    with tempfile.TemporaryDirectory(prefix="score-bench-fsspec-") as tmp_name:
        tmp = Path(tmp_name)
        src = random_file(tmp / "object.bin", size_mib * MIB)
        data = tmp / "data"
        data.mkdir()
        with Server(data, {"SCORE_DOWNLOAD_URL_TTL": "3600"}) as server:
            token = server.token("score.READ", "score.WRITE")
            oid = _upload(server, token, src)
            options: dict[str, object] = {"server_url": server.url, "token": token}
            with Client(server.url, token=token) as score:
                url = score.url(oid)
            size = src.stat().st_size
            fs_times, http_times = [], []
            for _ in range(rounds):
                offsets = [rng.randrange(size - READ) for _ in range(args.reads)]
                seconds, got = _fsspec_reads(options, oid, offsets)
                _check(src, offsets, got, "fsspec")
                fs_times.append(seconds)
                seconds, got = _httpx_reads(url, offsets)
                _check(src, offsets, got, "httpx")
                http_times.append(seconds)
            fs_s, http_s = statistics.median(fs_times), statistics.median(http_times)
            firsts = rounds * 4
            first_new = _median_ms(lambda: _first_fsspec(options, oid, build_first=False), firsts)
            first_built = _median_ms(lambda: _first_fsspec(options, oid, build_first=True), firsts)
            first_http = _median_ms(lambda: _first_httpx(url), firsts)
            first_asking = _median_ms(lambda: _first_httpx(url, (server, token, oid)), firsts)
    print(
        f"\n{size_mib} MiB random object on the embedded local store; {args.reads} random 64 KiB reads per round, "
        f"median of {rounds} rounds; every read MD5-checked\n"
    )
    per_read = 1000 / args.reads
    print(
        markdown_table(
            ["reader", "seconds for the reads", "ms per read", "MiB/s", "time vs httpx"],
            [
                [
                    'fsspec.open("score://ID"): seek + read',
                    f"{fs_s:.3f}",
                    f"{fs_s * per_read:.2f}",
                    f"{args.reads * READ / MIB / fs_s:.0f}",
                    f"{fs_s / http_s:.2f}x",
                ],
                [
                    "httpx Range GETs, one URL, one connection",
                    f"{http_s:.3f}",
                    f"{http_s * per_read:.2f}",
                    f"{args.reads * READ / MIB / http_s:.0f}",
                    "1.00x",
                ],
            ],
        )
    )
    print()
    print(
        markdown_table(
            ["first 64 KiB", "median ms", "vs httpx with the URL"],
            [
                ["fsspec: new file system, open, first read", f"{first_new:.1f}", f"{first_new / first_http:.2f}x"],
                [
                    "fsspec: file system made before, open, first read",
                    f"{first_built:.1f}",
                    f"{first_built / first_http:.2f}x",
                ],
                ["httpx: ranged GET of a URL held, new connection", f"{first_http:.1f}", "1.00x"],
                [
                    "httpx: ask the server for the URL, then the ranged GET",
                    f"{first_asking:.1f}",
                    f"{first_asking / first_http:.2f}x",
                ],
            ],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
