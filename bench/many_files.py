"""Many small files on Ceph radosgw: score-client manifests against s5cmd, in files per second.

    .venv/bin/python bench/many_files.py [--files 500] [--size-kib 1024] [--parallel N[,N...]]

Starts a throw-away radosgw and a score-server on it, writes FILES random files, then:

* score-client ``upload --manifest`` (Song's manifest) against ``s5cmd cp 'dir/*' s3://...``;
* score-client ``download --manifest --output-layout id --index false`` (MD5 validated, the
  default) against ``s5cmd cp 's3://.../*' dir/``.

Every file of every download is MD5-checked before a figure is printed. Prints a markdown table
(files/s, ratio to s5cmd, peak RSS), then the calls each score-client file cost: score-server calls
(from the server's request log), the server's own store calls (radosgw's access log, boto3's user
agent) and the client's store calls (the other access-log lines of the phase). Several
``--parallel`` values (``4,8,16``) run one after the other on the same gateway, each on new object
ids and each next to its own s5cmd run. The exit status is non-zero only when a tool fails or a file
is corrupt. See bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from _kit import PYTHON, Server, Timed, markdown_table, md5_of, random_file, run_timed  # noqa: E402
from tests.kit import radosgw as rgw_kit  # noqa: E402
from transfer_s3 import SCORE_BUCKET, TOOLS_BUCKET, missing_tools, s5cmd_binary  # noqa: E402


class CorruptError(RuntimeError):
    """A downloaded file differs from its source."""


def _check(sources: dict[str, Path], out: Path, name_of: dict[str, str]) -> None:
    for key, src in sources.items():
        got = out / name_of[key]
        if not got.is_file() or md5_of(got) != md5_of(src):
            raise CorruptError(f"{got} is missing or differs from {src}")


@dataclass(frozen=True)
class Calls:
    """Requests of one phase: to score-server, and to radosgw from the server (boto3) and from the client."""

    server: int
    server_store: int
    client_store: int


class CallLog:
    """Counts the requests written to the server's log and radosgw's access log since :meth:`mark`."""

    def __init__(self, server_log: Path, rgw_log: Path) -> None:
        self.server_log, self.rgw_log = server_log, rgw_log
        self._at = (0, 0)

    @staticmethod
    def _size(path: Path) -> int:
        return path.stat().st_size if path.exists() else 0

    def mark(self) -> None:
        self._at = (self._size(self.server_log), self._size(self.rgw_log))

    @staticmethod
    def _lines(path: Path, start: int) -> list[str]:
        # radosgw writes its log from a thread: wait until the file stops growing
        size = -1
        for _ in range(20):
            if CallLog._size(path) == size:
                break
            size = CallLog._size(path)
            time.sleep(0.25)
        with open(path, "rb") as fh:
            fh.seek(start)
            return fh.read().decode(errors="replace").splitlines()

    def since_mark(self) -> Calls:
        server = 0
        for line in self._lines(self.server_log, self._at[0]):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and rec.get("msg") == "request" and rec.get("path") != "/health":
                server += 1
        beast = [ln for ln in self._lines(self.rgw_log, self._at[1]) if " beast: " in ln]
        boto = sum(1 for ln in beast if '"Boto3/' in ln)
        return Calls(server, boto, len(beast) - boto)


def _counted(log: CallLog, cmd: list[str], env: dict[str, str]) -> tuple[Timed, Calls]:
    log.mark()
    timed = run_timed(cmd, env)
    return timed, log.since_mark()


TICK = os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds (user + system) of the client (this process's children), score-server, and the Ceph
    processes of this gateway (those running in its directory), over one command.
    """

    def __init__(self, server_pid: int, ceph_dir: Path) -> None:
        self.server_pid = server_pid
        self.ceph = [pid for pid in _pids() if str(ceph_dir) in _cmdline(pid) or _cwd(pid).startswith(str(ceph_dir))]

    @staticmethod
    def _ticks(pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / TICK

    def run(self, cmd: list[str], env: dict[str, str]) -> tuple[Timed, dict[str, float]]:
        """Run *cmd* with run_timed; return it and the CPU seconds each side spent meanwhile."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        server0, ceph0 = self._ticks(self.server_pid), sum(self._ticks(p) for p in self.ceph)
        timed = run_timed(cmd, env)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return timed, {
            "client": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
            "score-server": self._ticks(self.server_pid) - server0,
            "radosgw + ceph": sum(self._ticks(p) for p in self.ceph) - ceph0,
        }


def _pids() -> list[int]:
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def _cwd(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd")  # the Ceph daemons run in the gateway's directory
    except OSError:
        return ""


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _env(rgw: object) -> dict[str, str]:  # noqa: ARG001  the fixture starts the gateway the run needs
    return {
        "AWS_ACCESS_KEY_ID": rgw_kit.ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": rgw_kit.SECRET_KEY,
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def main(argv: list[str] | None = None) -> int:
    """Run once; print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=500)
    ap.add_argument("--size-kib", type=int, default=1024)
    ap.add_argument(
        "--parallel",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[0],
        help="score-client --parallel, or several comma-separated (default: the client's own)",
    )
    ap.add_argument("--workdir", type=Path)
    args = ap.parse_args(argv)
    missing = missing_tools()
    if missing:
        print("bench: missing " + "; ".join(missing), file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="score-bench-many-", dir=args.workdir))
    rgw = rgw_kit.Radosgw(store_gib=4)
    try:
        rgw.start()
        return _run(args, rgw, work)
    except (CorruptError, RuntimeError) as exc:
        print(f"bench: FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        rgw.stop()
        shutil.rmtree(work, ignore_errors=True)


DOWN = ["--output-layout", "id", "--index", "false"]


def _manifest(path: Path, sources: dict[str, Path]) -> Path:
    lines = ["bench-analysis\t\t"] + [
        f"{oid}\t{src}\t{hashlib.md5(src.read_bytes()).hexdigest()}" for oid, src in sources.items()
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(args: argparse.Namespace, rgw: rgw_kit.Radosgw, work: Path) -> int:
    src = work / "src"
    src.mkdir()
    files = [random_file(src / f"f{i:05d}.bin", args.size_kib * 1024) for i in range(args.files)]
    s5 = str(s5cmd_binary())
    rgw.client().create_bucket(Bucket=TOOLS_BUCKET)
    (work / "srv").mkdir()
    n = args.files
    rows: list[list[object]] = []
    per_file: list[list[object]] = []
    with Server(work / "srv" / "data", env=rgw.server_env(SCORE_BUCKET)) as server:
        env = {"STORAGE_URL": server.url, "ACCESSTOKEN": server.token("score.READ", "score.WRITE")}
        client = [PYTHON, "-m", "score.cli.client_main"]
        s5_env = _env(rgw)
        base = [s5, "--endpoint-url", rgw.endpoint, "cp"]
        # untimed warm-up of radosgw's pools and of the server (its first store calls set up boto3)
        run_timed([*base, str(files[0]), f"s3://{TOOLS_BUCKET}/warm"], s5_env)
        warm = [*client, "upload", "--quiet", "--object-id", str(uuid.uuid4()), "--file", str(files[0])]
        run_timed(warm, env)
        calls = CallLog(work / "srv" / "server.log", rgw.dir / "log" / "client.rgw.log")
        assert server.pid is not None
        cpu = CpuMeter(server.pid, rgw.dir)
        cpu_rows: list[list[object]] = []
        for round_no, parallel in enumerate(args.parallel):
            sources = {str(uuid.uuid4()): f for f in files}  # new object ids for every round
            manifest = _manifest(work / f"manifest-{round_no}.txt", sources)
            extra = ["--parallel", str(parallel)] if parallel else []
            up, up_calls = _counted(calls, [*client, "upload", "--quiet", "--manifest", str(manifest), *extra], env)
            out = work / f"score-out-{round_no}"
            calls.mark()
            down, down_cpu = cpu.run(
                [*client, "download", "--quiet", "--manifest", str(manifest), "--output-dir", str(out), *DOWN, *extra],
                env,
            )
            down_calls = calls.since_mark()
            _check(sources, out, {oid: oid for oid in sources})
            shutil.rmtree(out)
            s5_up = run_timed([*base, f"{src}/*", f"s3://{TOOLS_BUCKET}/many-{round_no}/"], s5_env)
            s5_out = work / f"s5-out-{round_no}"
            s5_down, s5_down_cpu = cpu.run([*base, f"s3://{TOOLS_BUCKET}/many-{round_no}/*", f"{s5_out}/"], s5_env)
            _check(sources, s5_out, {oid: p.name for oid, p in sources.items()})
            shutil.rmtree(s5_out)
            label = f"score-client --parallel {parallel}" if parallel else "score-client (default --parallel)"
            ref_up, ref_down = n / s5_up.seconds, n / s5_down.seconds
            rows.append(
                [
                    label,
                    f"{n / up.seconds:.1f}",
                    f"{n / up.seconds / ref_up:.2f}x",
                    f"{n / down.seconds:.1f}",
                    f"{n / down.seconds / ref_down:.2f}x",
                    f"{max(up.peak_rss_mib, down.peak_rss_mib):.0f}",
                ]
            )
            rows.append(
                [
                    "s5cmd (same round)",
                    f"{ref_up:.1f}",
                    "1.00x",
                    f"{ref_down:.1f}",
                    "1.00x",
                    f"{max(s5_up.peak_rss_mib, s5_down.peak_rss_mib):.0f}",
                ]
            )
            cpu_rows += [
                [who, *(f"{1000 * used[side] / n:.1f}" for side in used), f"{1000 * sum(used.values()) / n:.1f}"]
                for who, used in ((label, down_cpu), ("s5cmd (same round)", s5_down_cpu))
            ]
            per_file += [
                [label, phase, f"{c.server / n:.2f}", f"{c.server_store / n:.2f}", f"{c.client_store / n:.2f}"]
                for phase, c in (("upload", up_calls), ("download", down_calls))
            ]
    print(f"\n{n} files of {args.size_kib} KiB on radosgw (one run per row, every file MD5-checked)\n")
    print(markdown_table(["tool", "upload files/s", "vs s5cmd", "download files/s", "vs s5cmd", "peak RSS MiB"], rows))
    print("\nscore-client's calls per file (server: its request log; store: radosgw's access log)\n")
    print(
        markdown_table(["run", "phase", "score-server calls", "server's store calls", "client's store calls"], per_file)
    )
    print("\ndownload: CPU ms per file of each process (user + system, from /proc and getrusage)\n")
    print(markdown_table(["run", "client", "score-server", "radosgw + ceph", "all"], cpu_rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
