"""The fixed cost of one score-client command: process start, imports, settings, one request.

    .venv/bin/python bench/startup.py [--repeat N] [--importtime-runs N] [--baseline-src DIR]

Times, as the median of N rounds (default 21) of a fresh process each, the wall time and the CPU seconds
(user + system) of:

* ``python -c pass``: the interpreter alone, the floor;
* ``python -c "import httpx"``: what the HTTP stack alone costs (a reference, not a command), and the same
  without httpx's own command line (``httpx._main``: click, rich, pygments when installed), as
  score-client imports it;
* ``score-client --help``;
* ``score-client version`` with no server listening (the URL of a closed port) and against a running
  embedded score-server it starts (``version`` also asks the server's ``/health``);
* ``score-client download`` of a 1 KiB object (uploaded first) into a fresh directory, MD5 validated: a
  one-file download's fixed cost, since moving 1 KiB costs nothing.

The commands run in rounds (one run of each per round), so a burst of load from the other users of a
shared machine falls on all of them alike. With ``--baseline-src DIR`` the score-client rows are also
run with DIR (another checkout's ``src/``) first on ``PYTHONPATH``, in the same rounds: a before/after
under the same load. Then ``python -X importtime`` of ``version`` and of the download: the top-level
imports that cost most (median cumulative milliseconds over a few runs). Every child runs with bytecode caching on, in a
private ``PYTHONPYCACHEPREFIX`` filled by a warm-up run (a ``pip install`` compiles bytecode; this
machine's shells set ``PYTHONDONTWRITEBYTECODE=1``, which would time the compiler instead), with no
config file, token file or proxy. The target (issue 23): ``score-client version`` under 80 ms wall;
exits 1 when it is missed. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from _kit import PYTHON, Server, markdown_table  # noqa: E402
from tests.kit.servers import free_port  # noqa: E402

VERSION_TARGET_MS = 80.0
PASS = "python -c pass (the interpreter alone)"
NO_SERVER = "score-client version, no server listening"
WITH_SERVER = "score-client version, against score-server"
BASELINE = "baseline"
IMPORT_HTTPX = "import sys; sys.modules['httpx._main'] = None; import httpx"  # see client_main.main


def _client_command() -> list[str]:
    """The installed ``score-client`` script beside this Python (as a user runs it), else ``-m``."""
    script = Path(PYTHON).parent / "score-client"
    return [str(script)] if script.exists() else [PYTHON, "-m", "score.cli.client_main"]


def _children_cpu() -> float:
    """User + system CPU seconds of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Case:
    """One command to time."""

    cmd: Sequence[str]
    env: dict[str, str] | None = None
    fresh_dir: Path | None = None  # {dir} in cmd: a new directory under this one for each run


class Runner:
    """Runs child commands in one environment and keeps the median wall and CPU milliseconds."""

    def __init__(self, work: Path, repeat: int) -> None:
        """Children get a private HOME under *work* (no config, no tokens) and a bytecode cache."""
        self.repeat = repeat
        home = work / "home"
        home.mkdir()
        drop = ("PYTHONDONTWRITEBYTECODE", "STORAGE_URL", "ACCESSTOKEN", "CLIENT_ACCESSTOKEN", "METADATA_URL")
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in drop and not k.lower().endswith("_proxy") and not k.startswith("SCORE_")
        }
        self.env |= {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "PYTHONPYCACHEPREFIX": str(work / "pycache"),
        }

    def once(self, cmd: Sequence[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run *cmd* once; fail on a non-zero exit."""
        done = subprocess.run(cmd, env={**self.env, **(env or {})}, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-1500:]}")
        return done

    def medians(self, cases: dict[str, Case]) -> dict[str, tuple[float, float, float]]:
        """(median wall ms, median CPU ms, min wall ms) of each case, after one warm-up run of each.

        The cases run in rounds, one run of each per round, so a burst of load from the other users of
        a shared machine falls on all of them alike. ``{dir}`` in a case's command becomes a new empty
        directory under its *fresh_dir* for each run.
        """

        def one(case: Case) -> tuple[float, float]:
            args = list(case.cmd)
            if case.fresh_dir is not None:
                target = Path(tempfile.mkdtemp(dir=case.fresh_dir))
                args = [str(target) if a == "{dir}" else a for a in args]
            cpu = _children_cpu()
            start = time.perf_counter()
            self.once(args, case.env)
            return (time.perf_counter() - start) * 1000, (_children_cpu() - cpu) * 1000

        for case in cases.values():
            one(case)  # warm-up: fills the bytecode cache and the page cache
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for _ in range(self.repeat):
            for name, case in cases.items():
                runs[name].append(one(case))
        return {
            name: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r), min(w for w, _ in r))
            for name, r in runs.items()
        }

    def importtime(self, cmd: Sequence[str], env: dict[str, str] | None, runs: int) -> list[tuple[str, float, float]]:
        """The top-level imports of ``python -X importtime`` *cmd*: (module, median cumulative ms, share)."""
        totals: dict[str, list[float]] = {}
        for _ in range(runs):
            err = self.once([PYTHON, "-X", "importtime", *cmd], env).stderr
            for line in err.splitlines():
                if not line.startswith("import time:") or "|" not in line:
                    continue
                _, cumulative, name = line.split("|", 2)
                if name.startswith("  ") or not cumulative.strip().isdigit():
                    continue  # imported by another module, or the header
                totals.setdefault(name.strip(), []).append(int(cumulative) / 1000)
        medians = {name: statistics.median(v) for name, v in totals.items()}
        whole = sum(medians.values()) or 1.0
        top = sorted(medians.items(), key=lambda kv: -kv[1])[:12]
        return [(name, ms, ms / whole) for name, ms in top]


def _closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there: refused at once


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 when the version target is missed."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=21, help="runs of each command; the median is shown (default 21)")
    ap.add_argument("--importtime-runs", type=int, default=5, help="runs of each -X importtime (default 5)")
    ap.add_argument("--workdir", type=Path, help="scratch directory (default: a temporary one)")
    ap.add_argument(
        "--baseline-src",
        type=Path,
        help="also time the score-client commands with this directory first on PYTHONPATH (the src/ of another "
        "checkout, e.g. from git archive), in the same rounds",
    )
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="score-bench-startup-", dir=args.workdir))
    try:
        return _run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> int:
    r = Runner(work, args.repeat)
    client = _client_command()
    offline = {"STORAGE_URL": _closed_port_url()}
    (work / "srv").mkdir()
    (work / "dl").mkdir()
    with Server(work / "srv" / "data") as server:
        online = {"STORAGE_URL": server.url, "ACCESSTOKEN": server.token("score.READ", "score.WRITE")}
        if "UP" not in r.once([*client, "version"], online).stdout:
            raise RuntimeError("score-client version did not see the server UP")
        src = work / "one-kib.bin"
        src.write_bytes(os.urandom(1024))
        oid = str(uuid.uuid4())
        r.once([*client, "upload", "--quiet", "--object-id", oid, "--file", str(src)], online)
        download = ["download", "--quiet", "--object-id", oid, "--output-dir", "{dir}"]
        check = r.once([*client, *[str(work / "dl" / "check") if a == "{dir}" else a for a in download]], online)
        if "md5 verified" not in check.stdout:
            raise RuntimeError(f"score-client download did not verify: {check.stdout}")
        clients = {
            "score-client --help": Case([*client, "--help"], offline),
            NO_SERVER: Case([*client, "version"], offline),
            WITH_SERVER: Case([*client, "version"], online),
            "score-client download, one 1 KiB object": Case([*client, *download], online, work / "dl"),
        }
        cases = {
            PASS: Case([PYTHON, "-c", "pass"]),
            'python -c "import httpx" (reference)': Case([PYTHON, "-c", "import httpx"]),
            "the same, without httpx._main, as score-client imports it": Case([PYTHON, "-c", IMPORT_HTTPX]),
        }
        cases |= clients
        if args.baseline_src:  # the same commands with another checkout's score package, in the same rounds
            other = {"PYTHONPATH": str(args.baseline_src.resolve())}
            cases |= {
                f"{n} ({BASELINE})": Case(c.cmd, {**(c.env or {}), **other}, c.fresh_dir) for n, c in clients.items()
            }
        measured = r.medians(cases)
        module = ["-m", "score.cli.client_main"]
        dl_dir = str(work / "dl" / "importtime")
        offenders = {
            "version (no server)": r.importtime([*module, "version"], offline, args.importtime_runs),
            "download (1 KiB)": r.importtime(
                [*module, "download", "--quiet", "--force", "--object-id", oid, "--output-dir", dl_dir],
                online,
                args.importtime_runs,
            ),
        }
    rows = list(measured.items())
    floor = rows[0][1][0]
    print(f"median of {args.repeat} rounds; {os.cpu_count()} CPUs; client: {' '.join(client)}\n")
    table = [
        [name, f"{wall:.0f}", f"{wall - floor:.0f}", f"{cpu:.0f}", f"{low:.0f}"] for name, (wall, cpu, low) in rows
    ]
    print(markdown_table(["command", "wall ms", "over python", "CPU ms", "min wall ms"], table))
    for what, top in offenders.items():
        print(f"\n`-X importtime` of {what}: top-level imports, median cumulative ms\n")
        print(markdown_table(["module", "ms", "share"], [[f"`{n}`", f"{ms:.1f}", f"{s:.0%}"] for n, ms, s in top]))
    version_ms, online_ms = measured[NO_SERVER][0], measured[WITH_SERVER][0]
    ok = version_ms < VERSION_TARGET_MS and online_ms < VERSION_TARGET_MS
    low = min(measured[NO_SERVER][2], measured[WITH_SERVER][2])
    print(
        f"\ntarget: score-client version < {VERSION_TARGET_MS:.0f} ms wall (median): no server {version_ms:.0f} ms, "
        f"with a server {online_ms:.0f} ms: {'PASS' if ok else 'MISS'} (fastest run {low:.0f} ms; CPU "
        f"{measured[NO_SERVER][1]:.0f} ms against {measured[PASS][1]:.0f} ms for python -c pass)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
