"""Scale-out on one machine (issue 25): download specs per second against ``score-server serve --workers N``
for N = 1, 2 and 4, and the registry's submit and lookup rates on SQLite against PostgreSQL.

    .venv/bin/python bench/scale_out.py [--requests 3000] [--connections 50] [--repeat 3] [--submits 500]
                                        [--lookups 5000] [--threads 8] [--only http|registry] [--quick]

1. Workers. Three score-servers on the embedded default (local store and SQLite registry), one with each
   number of workers, each holding one published controlled object of four parts (``tests/kit/controlplane.py``,
   the load tier's setup). Each gets the same load from the load tier's generator (``tests/kit/loadgen.py``):
   ``--requests`` study-reader download specs (``GET /download/{id}?offset=0&length=-1&external=false``: token
   verified, registry read, four URLs signed, every answer checked) on ``--connections`` kept-alive connections,
   after an untimed warm-up that reaches every worker. The servers take turns within a round (the order rotates
   from round to round); the median round of each is shown, with its ratio to one worker. The generator is one
   Python process on the same cores as the workers: on a 2-core machine, 2 and 4 workers compete with it and
   with each other for two cores, so this measures what more workers give on this machine, not on a larger one.
2. Registry engines, driven in this process through the registry port (no HTTP): ``RegistryStore`` (SQLite, the
   embedded default, as shipped: WAL, ``synchronous`` at its default FULL, on this machine's disk) and
   ``PostgresRegistry`` (a pool of 10) on two throw-away clusters on loopback: the test kit's
   (``tests/kit/postgres.py``: ``fsync``, ``synchronous_commit`` and ``full_page_writes`` off, so its commits
   never wait for the disk) and another with PostgreSQL's durable defaults, whose commits wait for it as SQLite's
   do. ``--submits`` analyses of two files each, then ``--lookups`` ``object_record`` reads of the files submitted
   so far, from one thread and from ``--threads`` threads (each its share of the same work, started together);
   every answer is checked. The engines take turns within a round; the median round is shown, with
   PostgreSQL/SQLite ratios. Before each round, ``--submits`` fdatasyncs of a 4 KiB append beside the SQLite file
   give the disk's floor for a durable commit at that moment (a shared machine's disk varies tenfold).

Measures; asserts nothing (tests never run this). See bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from _kit import markdown_table  # noqa: E402
from control_plane import Figures, Target, _measure  # noqa: E402
from tests.kit import postgres as pg_kit  # noqa: E402
from tests.kit.controlplane import ControlPlane, control_plane  # noqa: E402

from score.domain.model import AnalysisState  # noqa: E402
from score.domain.ports import RegistryEngine  # noqa: E402
from score.registry.postgres import PostgresRegistry, prepare  # noqa: E402
from score.registry.store import RegistryStore  # noqa: E402

WORKERS = (1, 2, 4)
STUDY = "SCALE"
SQLITE, POSTGRES, POSTGRES_DURABLE = "SQLite", "PostgreSQL, fsync off", "PostgreSQL, fsync on"
DISK = ("disk", "fdatasync", 1)
QUICK = {"requests": 1000, "repeat": 1, "warm_up": 400, "submits": 100, "lookups": 1000}


# -- 1. download specs against serve --workers N --------------------------------------------------------------


def _http(args: argparse.Namespace, work: Path) -> dict[int, list[Figures]]:
    """Each server's figures, one per round."""
    runs: dict[int, list[Figures]] = {n: [] for n in WORKERS}
    with ExitStack() as stack:
        planes: dict[int, ControlPlane] = {}
        for n in WORKERS:
            root = work / f"workers-{n}"
            root.mkdir()
            planes[n] = stack.enter_context(control_plane(root, env={"SCORE_WORKERS": str(n)}))
        targets = {n: Target(cp.server.port, cp.pid, cp.check) for n, cp in planes.items()}
        for n, cp in planes.items():  # warm every worker: its token cache, spec cache, registry connection
            _measure(targets[n], [cp.calls["spec"]] * args.warm_up, args.connections)
        for r in range(args.repeat):
            for n in WORKERS[r % len(WORKERS) :] + WORKERS[: r % len(WORKERS)]:
                calls = [planes[n].calls["spec"]] * args.requests
                runs[n].append(_measure(targets[n], calls, args.connections))
                print(f"  round {r + 1}: {n} worker(s): {runs[n][-1].rate:.0f} specs/s", file=sys.stderr)
    return runs


def _http_table(runs: dict[int, list[Figures]]) -> str:
    med = {n: sorted(figs, key=lambda f: f.rate)[len(figs) // 2] for n, figs in runs.items()}
    one = med[1].rate
    rows = [
        [
            f"serve --workers {n}",
            f"{f.rate:.0f}",
            f"{min(x.rate for x in runs[n]):.0f}-{max(x.rate for x in runs[n]):.0f}",
            f"{f.rate / one:.2f}x",
            f"{f.p50_ms:.1f}",
            f"{f.p99_ms:.1f}",
            f"{f.server_cpu_us:.0f}",
            f"{f.client_cpu_us:.0f}",
        ]
        for n, f in med.items()
    ]
    header = ["server", "specs/s", "rounds' range", "vs 1 worker", "p50 ms", "p99 ms", "server CPU us/req"]
    return markdown_table([*header, "client CPU us/req"], rows)


# -- 2. the registry engines -------------------------------------------------------------------------------------


def _payload(i: int) -> dict[str, Any]:
    md5 = hashlib.md5(str(i).encode()).hexdigest()
    names = (f"s{i}.bam", f"s{i}.bam.bai")
    return {
        "files": [{"fileName": n, "fileSize": 1000 + i, "fileMd5sum": md5, "fileAccess": "controlled"} for n in names]
    }


def _in_threads(work: Callable[[int], None], count: int, threads: int) -> float:
    """Seconds for *work*(0 .. count-1), split in *threads* contiguous shares started together; re-raises."""
    errors: list[BaseException] = []
    start_line = threading.Barrier(threads + 1)

    def share(lo: int, hi: int) -> None:
        start_line.wait()
        try:
            for i in range(lo, hi):
                work(i)
        except BaseException as exc:
            errors.append(exc)

    bounds = [count * t // threads for t in range(threads + 1)]
    pool = [threading.Thread(target=share, args=(bounds[t], bounds[t + 1])) for t in range(threads)]
    for t in pool:
        t.start()
    start_line.wait()
    start = time.perf_counter()
    for t in pool:
        t.join()
    seconds = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} thread(s) failed, the first: {errors[0]!r}") from errors[0]
    return seconds


class Driver:
    """One engine, the object ids it holds, and its timed submits and lookups (every answer checked)."""

    def __init__(self, engine: RegistryEngine) -> None:
        self.engine = engine
        self.object_ids: list[str] = []
        self._serial = 0
        self._lock = threading.Lock()

    def submits(self, count: int, threads: int) -> float:
        """Submits per second of *count* two-file analyses."""
        base, self._serial = self._serial, self._serial + count

        def one(i: int) -> None:
            row = self.engine.submit(STUDY, _payload(base + i))
            if row.state is not AnalysisState.UNPUBLISHED or len(row.files) != 2:
                raise RuntimeError(f"submit {base + i}: {row.state}, {len(row.files)} files")
            with self._lock:
                self.object_ids.extend(f.object_id for f in row.files)

        return count / _in_threads(one, count, threads)

    def lookups(self, count: int, threads: int) -> float:
        """``object_record`` reads per second of the files submitted so far (in turn)."""
        ids = list(self.object_ids)

        def one(i: int) -> None:
            oid = ids[(i * 7919) % len(ids)]  # a stride prime to most lengths: spread over the table
            record = self.engine.object_record(oid)
            if record is None or record.study_id != STUDY or len(record.analysis_files) != 2:
                raise RuntimeError(f"object_record({oid}): {record!r}")

        return count / _in_threads(one, count, threads)


def _syncs(path: Path, count: int) -> float:
    """fdatasyncs per second of *count* 4 KiB appends to *path*: the disk's floor for a durable commit."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        start = time.perf_counter()
        for _ in range(count):
            os.write(fd, b"\0" * 4096)
            os.fdatasync(fd)
        return count / (time.perf_counter() - start)
    finally:
        os.close(fd)
        path.unlink()


class DurablePostgres(pg_kit.Postgres):
    """The test kit's throw-away cluster with PostgreSQL's durable defaults (``fsync``, ``synchronous_commit``
    and ``full_page_writes`` on): every commit waits for its WAL flush, as SQLite's does here."""

    def start(self) -> DurablePostgres:
        """``initdb`` and ``pg_ctl start`` with only the port, socket directory, address and connection limit set."""
        self._run("initdb", "-D", str(self.data), "-U", pg_kit.SUPERUSER, "-A", "trust", "--no-sync", "-E", "UTF8")
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "postgres.log"), "-w", "start")
        return self


def _registry(args: argparse.Namespace, work: Path) -> dict[tuple[str, str, int], list[float]]:
    """Rates by (engine, operation, threads), one per round."""
    runs: dict[tuple[str, str, int], list[float]] = {}
    clusters: list[pg_kit.Postgres] = []
    drivers: dict[str, Driver] = {}
    try:
        drivers[SQLITE] = Driver(RegistryStore(work / "registry" / "registry.sqlite"))
        if pg_kit.available():
            for name, cluster in ((POSTGRES, pg_kit.Postgres()), (POSTGRES_DURABLE, DurablePostgres())):
                clusters.append(cluster.start())
                settings = {k: cluster.sql(f"SHOW {k}").strip() for k in ("fsync", "synchronous_commit")}
                print(f"  {name}: {settings}", file=sys.stderr)
                url = cluster.database()
                prepare(url, 10, migrate=True)
                drivers[name] = Driver(PostgresRegistry(url))
        else:
            print("PostgreSQL is not installed (scripts/setup installs it): SQLite only", file=sys.stderr)
        for d in drivers.values():  # untimed: fills the pool's connections and the engines' caches
            d.submits(max(args.submits // 10, args.threads), args.threads)
            d.lookups(max(args.lookups // 10, args.threads), args.threads)
        names = list(drivers)
        for r in range(args.repeat):
            runs.setdefault(DISK, []).append(_syncs(work / "registry" / "sync.bin", args.submits))
            for name in names[r % len(names) :] + names[: r % len(names)]:
                d = drivers[name]
                for threads in (1, args.threads):
                    runs.setdefault((name, "submit", threads), []).append(d.submits(args.submits, threads))
                    runs.setdefault((name, "lookup", threads), []).append(d.lookups(args.lookups, threads))
                    print(
                        f"  round {r + 1}: {name}, {threads} thread(s): "
                        f"{runs[(name, 'submit', threads)][-1]:.0f} submits/s, "
                        f"{runs[(name, 'lookup', threads)][-1]:.0f} lookups/s",
                        file=sys.stderr,
                    )
    finally:
        for d in drivers.values():
            d.engine.close()
        for cluster in clusters:
            cluster.stop()
    return runs


def _registry_table(runs: dict[tuple[str, str, int], list[float]], args: argparse.Namespace) -> str:
    med = {key: statistics.median(v) for key, v in runs.items()}
    rows = []
    for op, what in (("submit", f"submit, 2 files ({args.submits})"), ("lookup", f"object_record ({args.lookups})")):
        for threads in (1, args.threads):
            lite = med[(SQLITE, op, threads)]
            row: list[object] = [what, threads, f"{lite:.0f}"]
            for name in (POSTGRES, POSTGRES_DURABLE):
                pg = med.get((name, op, threads))
                row += ["", ""] if pg is None else [f"{pg:.0f}", f"{pg / lite:.2f}x"]
            rows.append(row)
    header = ["operation (per round)", "threads", "SQLite /s", "PostgreSQL, fsync off /s", "vs SQLite"]
    return markdown_table([*header, "PostgreSQL, fsync on /s", "vs SQLite"], rows)


# -- main -----------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run both parts; print the tables."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=3000, help="download specs per server and round")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--warm-up", type=int, default=1000, help="untimed specs per server before the first round")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the median is shown")
    ap.add_argument("--submits", type=int, default=500, help="two-file analyses per engine, thread count and round")
    ap.add_argument("--lookups", type=int, default=5000, help="object_record reads per engine, thread count and round")
    ap.add_argument("--threads", type=int, default=8, help="the registry's concurrent row (besides one thread)")
    ap.add_argument("--only", choices=("http", "registry"), help="run one part")
    ap.add_argument(
        "--quick", action="store_true", help="a short run: " + ", ".join(f"{k} {v}" for k, v in QUICK.items())
    )
    ap.add_argument("--workdir", type=Path, help="scratch directory (default: a temporary one)")
    args = ap.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    work = Path(tempfile.mkdtemp(prefix="score-bench-scale-out-", dir=args.workdir))
    try:
        return _run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> int:
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    cpus = os.cpu_count()
    http = _http(args, work) if args.only in (None, "http") else None
    registry = _registry(args, work) if args.only in (None, "registry") else None
    print(
        f"\n{cpus} cores on this machine, shared by everything below (servers, workers, the load generator, "
        f"PostgreSQL); load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; "
        f"median of {args.repeat} round(s); {time.monotonic() - started:.0f} s in all."
    )
    if http is not None:
        print(
            f"\n1. download specs (study reader, 4 parts, every answer checked) on the embedded default: "
            f"{args.requests} per server and round on {args.connections} connections; the generator is one "
            f"Python process on the same {cpus} cores\n"
        )
        print(_http_table(http))
        med = {n: sorted(f.rate for f in figs)[len(figs) // 2] for n, figs in http.items()}
        print(f"\n2 workers / 1 worker: {med[2] / med[1]:.2f}x; 4 workers / 1 worker: {med[4] / med[1]:.2f}x")
    if registry is not None:
        print(
            f"\n2. the registry engines in process: SQLite (as shipped: WAL, synchronous FULL, one fdatasync per "
            f"commit, on this machine's disk) against PostgreSQL on loopback (a pool of 10), once on the test kit's "
            f"cluster (fsync, synchronous_commit and full_page_writes off: no commit waits for the disk) and once "
            f"with PostgreSQL's durable defaults; {args.threads} threads split the same work\n"
        )
        print(_registry_table(registry, args))
        syncs = statistics.median(registry[DISK])
        print(
            f"\nthe disk: {syncs:.0f} fdatasyncs/s of a 4 KiB append beside the SQLite file (median of the rounds, "
            f"each {args.submits}; range {min(registry[DISK]):.0f}-{max(registry[DISK]):.0f}): a durable commit's floor"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
