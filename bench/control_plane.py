"""The control plane under load: download-spec requests per second and their latency, against the
server's own ``/health`` and ``/download/ping`` in the same run.

    .venv/bin/python bench/control_plane.py [--requests 20000] [--connections 50] [--repeat 3]

Starts one score-server on the embedded registry with one published controlled object of four parts
(``tests/kit/controlplane.py``, the load tier's setup) and sends, over kept-alive connections from the
load tier's generator (``tests/kit/loadgen.py``):

* ``GET /health``: the framework, middleware and the store's health check; no token;
* ``GET /download/ping``: the store's sentinel object looked up and one URL signed; no token;
* ``GET /download/{id}?offset=0&length=-1&external=false``: a study reader's download spec (the token
  verified, the registry read, the object's ``.meta`` read, four URLs signed, five audit lines);
* the same path refused: no token (401), another study (403), an unknown id (403 and, with the
  system scope, 404), in equal shares.

Every answer is checked (status, and the body for download specs) before a figure is printed. Each
row runs ``--requests`` requests on ``--connections`` connections and again a tenth of them on one
connection (latency without queueing); rows take turns within each round, and the median round is shown.
"CPU us/req" is the server process's user + system time per request, read from ``/proc``: it is the
steadiest figure on a shared machine. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from _kit import markdown_table  # noqa: E402
from tests.kit.controlplane import ControlPlane, control_plane  # noqa: E402
from tests.kit.loadgen import Call, LoadResult, interleave, rss_bytes, run_load  # noqa: E402

MIB = 1024 * 1024
REFUSED = ("no token", "other study", "unknown id", "unknown id, system scope")


@dataclass(frozen=True)
class Figures:
    """One row's measurement."""

    rate: float  # requests per second
    p50_ms: float
    p90_ms: float
    p99_ms: float
    server_cpu_us: float  # per request
    client_cpu_us: float  # per request


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process *pid* so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def _measure(cp: ControlPlane, calls: list[Call], connections: int) -> Figures:
    """Send *calls*; every answer must be right."""
    cpu0, client0 = _cpu_seconds(cp.pid), time.process_time()
    result: LoadResult = run_load(
        "127.0.0.1", cp.server.port, calls, connections=connections, check=cp.check, keep_latencies=True
    )
    server_cpu, client_cpu = _cpu_seconds(cp.pid) - cpu0, time.process_time() - client0
    if result.transport_errors or result.wrong or result.answered != len(calls):
        raise RuntimeError(f"wrong answers or transport errors: {result.failures}")
    lat = sorted(x for v in result.latencies.values() for x in v)
    n = len(calls)
    return Figures(
        n / result.seconds,
        _percentile(lat, 0.5) * 1e3,
        _percentile(lat, 0.9) * 1e3,
        _percentile(lat, 0.99) * 1e3,
        server_cpu / n * 1e6,
        client_cpu / n * 1e6,
    )


def _rows(cp: ControlPlane) -> dict[str, list[Call]]:
    """One request list (of one request each, repeated by the caller) per row."""
    ping, health = Call("ping", "/download/ping"), Call("health", "/health")
    return {
        "GET /health": [health],
        "GET /download/ping": [ping],
        "GET /download/{id}: spec, 4 parts": [cp.calls["spec"]],
        "GET /download/{id}: refused (401/403/403/404)": [cp.calls[k] for k in REFUSED],
    }


def _calls(kinds: list[Call], total: int) -> list[Call]:
    return interleave({c: total // len(kinds) for c in kinds})


def main(argv: list[str] | None = None) -> int:
    """Run the rows; print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=20_000, help="per row and round (one connection: a tenth)")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the median is shown")
    ap.add_argument("--warm-up", type=int, default=1_000, help="requests of each row before the first round")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="score-bench-cp-") as tmp, control_plane(Path(tmp)) as cp:
        rows = _rows(cp)
        for kinds in rows.values():
            _measure(cp, _calls(kinds, args.warm_up), args.connections)
        rss_start = rss_bytes(cp.pid)
        runs: dict[tuple[str, int], list[Figures]] = {}
        for _ in range(args.repeat):
            for name, kinds in rows.items():
                for conns, total in ((args.connections, args.requests), (1, max(args.requests // 10, 1))):
                    runs.setdefault((name, conns), []).append(_measure(cp, _calls(kinds, total), conns))
                    print(f"  {name}, {conns} conn.: {runs[(name, conns)][-1].rate:.0f}/s", file=sys.stderr)
        rss_end = rss_bytes(cp.pid)
    print(_table(runs, args.connections))
    print(
        f"\nscore-server RSS {rss_start / MIB:.1f} MiB after the warm-up, {rss_end / MIB:.1f} MiB at the end "
        f"({args.repeat} rounds of {len(rows)} rows)."
    )
    return 0


def _table(runs: dict[tuple[str, int], list[Figures]], connections: int) -> str:
    """Median round per row, with rates as ratios to /download/ping and /health at the same connections."""
    med = {key: sorted(figs, key=lambda f: f.rate)[len(figs) // 2] for key, figs in runs.items()}
    out = []
    for name, conns in sorted(med, key=lambda key: key[1] != connections):  # stable: rows in run order
        f = med[(name, conns)]
        ping, health = med[("GET /download/ping", conns)].rate, med[("GET /health", conns)].rate
        out.append(
            [
                name,
                conns,
                f"{f.rate:.0f}",
                f"{f.rate / ping:.2f}x",
                f"{f.rate / health:.2f}x",
                f"{f.p50_ms:.1f}",
                f"{f.p90_ms:.1f}",
                f"{f.p99_ms:.1f}",
                f"{f.server_cpu_us:.0f}",
                f"{f.client_cpu_us:.0f}",
            ]
        )
    return markdown_table(
        [
            "request",
            "conn.",
            "req/s",
            "vs ping",
            "vs health",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "server CPU us/req",
            "client CPU us/req",
        ],
        out,
    )


if __name__ == "__main__":
    sys.exit(main())
