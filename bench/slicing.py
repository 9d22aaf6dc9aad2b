"""Region slicing: score-client view and htsget against samtools view on the same pre-signed URL.

    .venv/bin/python bench/slicing.py [--size-gib 1.0] [--bam PATH] [--repeat N]

Generates (or reuses, with ``--bam``) a coordinate-sorted, indexed BAM of at least SIZE GiB,
publishes it with its index on a score-server (embedded store), and for regions of several sizes
measures, for each tool, the wall time and the bytes the store sent (counted by a streaming
proxy in front of the store, so every tool is measured through the same path):

* ``score-client view --object-id ... --query R --output-format BAM``;
* htsget: fetch the ticket, then its blocks in order (httpx), write the BAM;
* ``samtools view -b -X URL INDEX_URL R`` on the object's pre-signed URL (``score-client url``).

Every output is checked to hold the same number of records (``samtools view -c``). With
``--repeat N`` each region is run N times (the tools in turn) and the median time is shown, with the
median CPU seconds (user + system) of the tool's own process (samtools, score-client; htsget runs inside
this one). Prints a markdown table. See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from _kit import GIB, MIB, Server, markdown_table  # noqa: E402
from _slices import ENV, children_cpu, client, count, publish_bam  # noqa: E402
from tests.kit.bam import large_bam  # noqa: E402
from tests.kit.proxy import FaultProxy  # noqa: E402

REGIONS = [
    ("10 kb", "chr1:20,000,001-20,010,000"),
    ("1 Mb", "chr1:30,000,001-31,000,000"),
    ("10 Mb", "chr2:5,000,001-15,000,000"),
]
TOOLS = ("samtools", "score-client view", "htsget")


def _htsget(server: Server, token: str, oid: str, region: str, out: Path) -> None:
    name, _, span = region.partition(":")
    start, _, end = span.replace(",", "").partition("-")
    ticket = httpx.get(
        f"{server.url}/ga4gh/htsget/v1/reads/{oid}",
        timeout=60,
        params={"referenceName": name, "start": int(start) - 1, "end": int(end)},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    with httpx.Client(timeout=300) as http, out.open("wb") as f:
        for entry in ticket["htsget"]["urls"]:
            if entry["url"].startswith("data:"):
                f.write(base64.b64decode(entry["url"].split(",", 1)[1]))
            else:
                r = http.get(entry["url"], headers=entry.get("headers", {}))
                r.raise_for_status()
                f.write(r.content)


def main() -> int:
    """Run the benchmark and print the table."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size-gib", type=float, default=1.05, help="at least this big (default 1.05: over 1 GiB)")
    p.add_argument("--bam", type=Path, help="reuse this BAM (with .bai) instead of generating one")
    p.add_argument("--repeat", type=int, default=1, help="runs of each region; the median time is shown")
    args = p.parse_args()
    if shutil.which("samtools") is None:
        print("samtools is missing: run scripts/setup", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="score-bench-slice-") as tmp_name:
        tmp = Path(tmp_name)
        bam = args.bam
        if bam is None:
            t0 = time.perf_counter()
            bam = large_bam(tmp / "large.bam", int(args.size_gib * GIB))
            print(
                f"generated {bam.stat().st_size / MIB:.0f} MiB BAM in {time.perf_counter() - t0:.0f} s", file=sys.stderr
            )
        data = tmp / "data"
        data.mkdir()
        server = Server(data, {"SCORE_METADATA__KIND": "registry", "SCORE_DOWNLOAD_URL_TTL": "3600"})
        proxy = FaultProxy(server.port, stream_gets=True).start()
        server.env["SCORE_PUBLIC_URL"] = proxy.url
        try:
            with server:
                token = server.token("score.READ", "score.WRITE")
                ids = publish_bam(server, token, bam, tmp)
                oid, index_oid = ids[bam.name], ids[bam.name + ".bai"]
                url = client(["url", "--object-id", oid], server, token).strip()
                index_url = client(["url", "--object-id", index_oid], server, token).strip()
                key = f"/_store/data/{oid}"
                rows = []
                for label, region in REGIONS:
                    results = {}
                    times: dict[str, list[float]] = {}
                    cpus: dict[str, list[float]] = {}  # the tool's own processes; htsget runs in this one
                    for rep, tool in itertools.product(range(args.repeat), TOOLS):
                        work = tmp / f"w-{tool.replace(' ', '-')}-{label.replace(' ', '')}-{rep}"
                        work.mkdir()
                        before = proxy.store_get_bytes[key]
                        cpu0 = children_cpu()
                        t0 = time.perf_counter()
                        if tool == "samtools":
                            target = work / "out.bam"
                            subprocess.run(
                                ["samtools", "view", "-b", "-o", str(target), "-X", url, index_url, region],
                                check=True,
                                cwd=work,
                                env=ENV,
                                capture_output=True,
                            )
                        elif tool == "htsget":
                            target = work / "out.bam"
                            _htsget(server, token, oid, region, target)
                        else:
                            client(
                                [
                                    "view",
                                    "--object-id",
                                    oid,
                                    "--query",
                                    region,
                                    "--output-format",
                                    "BAM",
                                    "--output-dir",
                                    str(work),
                                ],
                                server,
                                token,
                            )
                            target = next(work.glob("*.bam"))
                        seconds = time.perf_counter() - t0
                        cpu = children_cpu() - cpu0 if tool != "htsget" else None
                        time.sleep(0.2)  # let the proxy count the last chunks of aborted transfers
                        times.setdefault(tool, []).append(seconds)
                        if cpu is not None:
                            cpus.setdefault(tool, []).append(cpu)
                        results[tool] = (
                            statistics.median(times[tool]),
                            proxy.store_get_bytes[key] - before,
                            count(target),
                        )
                        shutil.rmtree(work)
                    if args.repeat > 1:
                        print(
                            f"{label}: "
                            + "; ".join(f"{t} " + " ".join(f"{x:.2f}" for x in xs) for t, xs in times.items()),
                            file=sys.stderr,
                        )
                    base_s, _base_b, base_n = results["samtools"]
                    for tool, (seconds, nbytes, records) in results.items():
                        if tool != "htsget" and records != base_n:
                            raise RuntimeError(f"{tool} returned {records} records, samtools {base_n}")
                        if tool == "htsget" and records < base_n:
                            raise RuntimeError(f"htsget returned {records} records, fewer than samtools {base_n}")
                        cpu_s = f"{statistics.median(cpus[tool]):.2f}" if tool in cpus else "-"
                        rows.append(
                            [
                                label,
                                tool,
                                f"{seconds:.2f}",
                                f"{base_s / seconds:.2f}x",
                                cpu_s,
                                f"{nbytes / MIB:.2f}",
                                f"{100 * nbytes / bam.stat().st_size:.2f}%",
                                records,
                            ]
                        )
        finally:
            proxy.stop()
        size = bam.stat().st_size / MIB
        print(f"\nBAM of {size:.0f} MiB; bytes are those the store sent for the BAM (index not counted)\n")
        print(
            markdown_table(
                ["region", "tool", "seconds", "speed vs samtools", "CPU s", "MiB from store", "of the BAM", "records"],
                rows,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
