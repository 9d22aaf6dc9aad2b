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
  system scope, 404), in equal shares;
* ``GET /download/ping`` of a bare FastAPI app (``bench/bare_app.py``: one route returning a constant
  string, its own process, the same uvicorn settings and number of workers): the framework's floor.

After the table, the two targets of issue 23, PASS or MISS at each number of connections: download
specs at least 0.8x the pings' rate, and pings at least 0.5x the bare app's. With ``--workers N`` both
servers run N worker processes and the CPU figures add up the whole process tree.

Every answer is checked (status, and the body for download specs) before a figure is printed. Each
row runs ``--requests`` requests on ``--connections`` connections and again a tenth of them on one
connection (latency without queueing); rows take turns within each round, and the median round is shown.
"CPU us/req" is the server process's user + system time per request, read from ``/proc``: it is the
steadiest figure on a shared machine. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
import httpx  # noqa: E402
from _kit import markdown_table  # noqa: E402
from tests.kit.controlplane import ControlPlane, control_plane  # noqa: E402
from tests.kit.daemon import stop_daemon  # noqa: E402
from tests.kit.loadgen import Call, LoadResult, interleave, rss_bytes, run_load  # noqa: E402
from tests.kit.servers import free_port  # noqa: E402

MIB = 1024 * 1024
REFUSED = ("no token", "other study", "unknown id", "unknown id, system scope")
BARE = "GET /download/ping, bare FastAPI"
PING, SPEC = "GET /download/ping", "GET /download/{id}: spec, 4 parts"
SPEC_VS_PING, PING_VS_BARE = 0.8, 0.5  # issue 23's targets


@dataclass(frozen=True)
class Figures:
    """One row's measurement."""

    rate: float  # requests per second
    p50_ms: float
    p90_ms: float
    p99_ms: float
    server_cpu_us: float  # per request
    client_cpu_us: float  # per request


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds so far of process *pid* and its children (the workers of ``--workers``)."""
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:
                    pids.append(int(entry.name))
            except (OSError, IndexError):
                continue
    total = 0
    for p in pids:
        try:
            fields = _stat(p)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Target:
    """A server the rows are sent to."""

    port: int
    pid: int
    check: Callable[[Call, int, bytes], str | None]


@contextmanager
def bare_app(workers: int) -> Iterator[Target]:
    """Start ``bench/bare_app.py`` and stop it at exit."""
    port = free_port()
    script = Path(__file__).resolve().parent / "bare_app.py"
    proc = subprocess.Popen([sys.executable, str(script), str(port), str(workers)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the bare FastAPI app did not start")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/download/ping", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield Target(port, proc.pid, lambda _call, status, _body: None if status == 200 else f"status {status}")
    finally:
        stop_daemon(proc)


def _percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def _measure(target: Target, calls: list[Call], connections: int) -> Figures:
    """Send *calls*; every answer must be right."""
    cpu0, client0 = _cpu_seconds(target.pid), time.process_time()
    result: LoadResult = run_load(
        "127.0.0.1", target.port, calls, connections=connections, check=target.check, keep_latencies=True
    )
    server_cpu, client_cpu = _cpu_seconds(target.pid) - cpu0, time.process_time() - client0
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


def _rows(cp: ControlPlane, bare: Target) -> dict[str, tuple[Target, list[Call]]]:
    """One server and request list (of one request each, repeated by the caller) per row."""
    ping, health = Call("ping", "/download/ping"), Call("health", "/health")
    score = Target(cp.server.port, cp.pid, cp.check)
    return {
        "GET /health": (score, [health]),
        PING: (score, [ping]),
        SPEC: (score, [cp.calls["spec"]]),
        "GET /download/{id}: refused (401/403/403/404)": (score, [cp.calls[k] for k in REFUSED]),
        BARE: (bare, [Call("bare ping", "/download/ping")]),
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
    ap.add_argument("--workers", type=int, default=1, help="worker processes of each server (serve --workers)")
    args = ap.parse_args(argv)
    env = {"SCORE_WORKERS": str(args.workers)}
    with (
        tempfile.TemporaryDirectory(prefix="score-bench-cp-") as tmp,
        control_plane(Path(tmp), env=env) as cp,
        bare_app(args.workers) as bare,
    ):
        rows = _rows(cp, bare)
        for target, kinds in rows.values():
            _measure(target, _calls(kinds, args.warm_up), args.connections)
        rss_start = rss_bytes(cp.pid)
        runs: dict[tuple[str, int], list[Figures]] = {}
        for _ in range(args.repeat):
            for name, (target, kinds) in rows.items():
                for conns, total in ((args.connections, args.requests), (1, max(args.requests // 10, 1))):
                    runs.setdefault((name, conns), []).append(_measure(target, _calls(kinds, total), conns))
                    print(f"  {name}, {conns} conn.: {runs[(name, conns)][-1].rate:.0f}/s", file=sys.stderr)
        rss_end = rss_bytes(cp.pid)
    print(_table(runs, args.connections))
    print()
    print(_targets(runs, args.connections))
    print(
        f"\nscore-server RSS {rss_start / MIB:.1f} MiB after the warm-up, {rss_end / MIB:.1f} MiB at the end "
        f"({args.repeat} rounds of {len(rows)} rows, {args.workers} worker(s); the first process's RSS)."
    )
    return 0


def _median(figs: list[Figures]) -> Figures:
    return sorted(figs, key=lambda f: f.rate)[len(figs) // 2]


def _targets(runs: dict[tuple[str, int], list[Figures]], connections: int) -> str:
    """Issue 23's two targets, PASS or MISS, at each number of connections."""
    lines = []
    for conns in (connections, 1):
        spec, ping, bare = (_median(runs[(name, conns)]) for name in (SPEC, PING, BARE))
        for what, ratio, goal in (
            ("download specs vs pings", spec.rate / ping.rate, SPEC_VS_PING),
            ("pings vs the bare FastAPI app", ping.rate / bare.rate, PING_VS_BARE),
        ):
            verdict = "PASS" if ratio >= goal else "MISS"
            lines.append(f"{verdict}  {what}, {conns} conn.: {ratio:.2f}x (target >= {goal}x)")
    return "\n".join(lines)


def _table(runs: dict[tuple[str, int], list[Figures]], connections: int) -> str:
    """Median round per row, with rates as ratios to /download/ping and /health at the same connections."""
    med = {key: _median(figs) for key, figs in runs.items()}
    out = []
    for name, conns in sorted(med, key=lambda key: key[1] != connections):  # stable: rows in run order
        f = med[(name, conns)]
        ping, health = med[(PING, conns)].rate, med[("GET /health", conns)].rate
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
