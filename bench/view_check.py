"""What checking every copied BGZF block costs score-client view: the same slice with and without the check.

    .venv/bin/python bench/view_check.py [--size-gib 1.05] [--bam PATH] [--repeat 5] [--mbit 0,1000]

``score-client view --output-format BAM`` copies the BGZF blocks inside a region as they are stored and
inflates each one on worker threads to compare it with its CRC32 and ISIZE before it reaches the output
(``slicing/block_check.py``). This runs the 1-Mb and 10-Mb regions of ``bench/slicing.py`` both ways, in
turn, through the same counting proxy in front of one score-server (embedded local store):

* checked: ``score-client view`` as shipped;
* unchecked: the same command with ``block_check.check_blocks`` replaced by a no-op in its process (done
  here only: the product has no switch that turns the check off).

``--mbit`` lists the store links to measure: 0 is loopback (store, server, proxy and client share this
machine's cores, nothing in between), any other figure paces the proxy's store GETs to that many Mbit/s,
as a network between the client and its store would. For each run: wall seconds, the client's CPU seconds
(user + system), and how many of the machine's cores were busy on average (from /proc/stat: every process,
server and proxy included), which shows whether the run was limited by CPU. Prints a markdown table with
the medians. See bench/README.md.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from _kit import GIB, MIB, Server, markdown_table  # noqa: E402
from _slices import CLIENT, children_cpu, client, count, publish_bam  # noqa: E402
from tests.kit.bam import large_bam  # noqa: E402
from tests.kit.proxy import FaultProxy  # noqa: E402

REGIONS = [
    ("1 Mb", "chr1:30,000,001-31,000,000"),
    ("10 Mb", "chr2:5,000,001-15,000,000"),
]
MODES = ("unchecked", "checked")
UNCHECKED = (
    "import sys, score.slicing.block_check as b; b.check_blocks = lambda batch, offset: None; "
    "from score.cli.client_main import main; sys.argv[0] = 'score-client'; sys.exit(main())"
)


def _check_rate(bam: Path, mib: int = 64) -> str:
    """How fast one core checks this BAM's blocks (``block_check.check_blocks``, ISA-L): the limit."""
    from score.formats import bgzf
    from score.slicing.block_check import check_blocks

    with open(bam, "rb") as fh:
        data = fh.read((mib + 1) * MIB)
    end = 0
    while end < mib * MIB:
        end += bgzf.block_frame(data, end)[1]
    batch = bytearray(data[:end])
    cpu = time.process_time()
    check_blocks(batch, 0)
    rate = end / MIB / (time.process_time() - cpu)
    return f"one core checks {rate:.0f} MiB/s of this BAM's blocks (ISA-L inflate + CRC32)"


def _machine_jiffies() -> tuple[int, int]:
    """Busy and total jiffies of all cores since boot (``/proc/stat``)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _measure(
    server: Server, token: str, oid: str, label: str, region: str, mbit: float, repeat: int, tmp: Path
) -> list[str]:
    """Run the region checked and unchecked in turn, *repeat* times each; the row of medians."""
    cores = os.cpu_count() or 1
    seen: dict[str, list[tuple[float, float, float]]] = {m: [] for m in MODES}
    counts: dict[str, int] = {}
    out_mib = 0.0
    for _rep, mode in itertools.product(range(repeat), MODES):
        work = tmp / f"w-{mode}"
        work.mkdir()
        cpu0, (busy0, total0) = children_cpu(), _machine_jiffies()
        t0 = time.perf_counter()
        view = ["view", "--object-id", oid, "--query", region, "--output-format", "BAM"]
        client(
            [*view, "--output-dir", str(work)], server, token, head=["-c", UNCHECKED] if mode == "unchecked" else CLIENT
        )
        seconds = time.perf_counter() - t0
        busy1, total1 = _machine_jiffies()
        busy_cores = cores * (busy1 - busy0) / max(1, total1 - total0)
        seen[mode].append((seconds, children_cpu() - cpu0, busy_cores))
        if mode not in counts:
            out = next(work.glob("*.bam"))
            counts[mode], out_mib = count(out), out.stat().st_size / MIB
        shutil.rmtree(work)
    if counts["checked"] != counts["unchecked"]:
        raise RuntimeError(f"{label}: the outputs hold different numbers of records: {counts}")
    link = "loopback" if not mbit else f"{mbit:g} Mbit/s"
    print(
        f"{label}, {link}: " + "; ".join(f"{m} " + " ".join(f"{s:.2f}" for s, _, _ in xs) for m, xs in seen.items()),
        file=sys.stderr,
    )
    med = {m: [statistics.median(col) for col in zip(*xs, strict=True)] for m, xs in seen.items()}
    base, checked = med["unchecked"], med["checked"]
    return [
        label,
        link,
        f"{base[0]:.2f}",
        f"{checked[0]:.2f}",
        f"{100 * (checked[0] / base[0] - 1):+.0f}%",
        f"{base[1]:.2f} / {checked[1]:.2f}",
        f"{base[2]:.2f} / {checked[2]:.2f}",
        f"{out_mib / (0.1 * base[0] * cores):.0f}",
    ]


def main() -> int:
    """Run the A/B and print the table."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size-gib", type=float, default=1.05, help="at least this big (default 1.05: over 1 GiB)")
    p.add_argument("--bam", type=Path, help="reuse this BAM (with .bai) instead of generating one")
    p.add_argument("--repeat", type=int, default=5, help="runs of each region and mode (default 5); medians shown")
    p.add_argument("--mbit", default="0,1000", help="store links to measure, Mbit/s, 0 = loopback (default 0,1000)")
    args = p.parse_args()
    links = [float(x) for x in args.mbit.split(",")]
    with tempfile.TemporaryDirectory(prefix="score-bench-check-") as tmp_name:
        tmp = Path(tmp_name)
        bam = args.bam or large_bam(tmp / "large.bam", int(args.size_gib * GIB))
        data = tmp / "data"
        data.mkdir()
        server = Server(data, {"SCORE_METADATA__KIND": "registry", "SCORE_DOWNLOAD_URL_TTL": "3600"})
        proxy = FaultProxy(server.port, stream_gets=True).start()
        rows = []
        try:
            with server:
                token = server.token("score.READ", "score.WRITE")
                oid = publish_bam(server, token, bam, tmp)[bam.name]
            for mbit in links:
                # loopback: the client reads the store from the server itself, with no proxy to share the cores
                if mbit:
                    server.env["SCORE_PUBLIC_URL"] = proxy.url
                else:
                    server.env.pop("SCORE_PUBLIC_URL", None)
                proxy.rate_bytes = mbit * 1e6 / 8
                with server:
                    rows += [
                        _measure(server, token, oid, label, region, mbit, args.repeat, tmp) for label, region in REGIONS
                    ]
        finally:
            proxy.stop()
    print(f"\n{os.cpu_count()} cores; medians of {args.repeat} runs each; {_check_rate(bam)}\n")
    print(
        markdown_table(
            [
                "region",
                "store link",
                "unchecked s",
                "checked s",
                "checked is slower by",
                "client CPU s (unchecked / checked)",
                "cores busy (unchecked / checked)",
                "MiB/s per core a check needs for +10%",
            ],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
