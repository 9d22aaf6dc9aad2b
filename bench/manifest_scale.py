"""Many files on the embedded default (score-server's local store): files per second, and a 10,000-file manifest.

    .venv/bin/python bench/manifest_scale.py [--files 500] [--size-kib 256] [--big-files 10000] [--big-size-kib 4]

Starts a score-server on its embedded local store (loopback, a private temporary directory), then:

1. writes FILES random files, uploads them with ``score-client upload --manifest`` and downloads them with
   ``score-client download --manifest --output-layout id --index false`` (MD5 validated, the default); the
   same files fetched with ``curl --parallel`` (8 at a time, one config file, the whole-object URLs
   ``score-client url`` prints, no MD5) are the reference of what the server itself can serve. Files/s and
   peak RSS; target: >= 300 files/s down with every file verified.
2. a manifest of BIG_FILES files: uploaded (timed), downloaded whole (peak client RSS; target < 300 MiB),
   then downloaded again into an empty directory, the client killed with SIGKILL part-way, and run again:
   the second run must finish the batch with every file MD5-checked, and fetch again only what the first
   had not finished (the files already complete are skipped after their size and MD5 are checked).

Every downloaded file is compared with its source by MD5 before a figure is printed. Tests never run this.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from _kit import PYTHON, Server, Timed, markdown_table, md5_of, random_file, run_timed  # noqa: E402

CLIENT = [PYTHON, "-m", "score.cli.client_main"]
FILES_PER_S_TARGET = 300
RSS_TARGET_MIB = 300


class CorruptError(RuntimeError):
    """A downloaded file is missing or differs from its source."""


def _sources(where: Path, count: int, size: int) -> dict[str, Path]:
    where.mkdir(parents=True)
    return {str(uuid.uuid4()): random_file(where / f"f{i:05d}.bin", size) for i in range(count)}


def _manifest(path: Path, sources: dict[str, Path]) -> Path:
    lines = ["bench-analysis\t\t"] + [
        f"{oid}\t{src}\t{hashlib.md5(src.read_bytes()).hexdigest()}" for oid, src in sources.items()
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _check(sources: dict[str, Path], out: Path) -> None:
    for oid, src in sources.items():
        got = out / oid
        if not got.is_file() or md5_of(got) != md5_of(src):
            raise CorruptError(f"{got} is missing or differs from {src}")


def _download(manifest: Path, out: Path, *extra: str) -> list[str]:
    return [
        *CLIENT,
        "download",
        "--quiet",
        "--manifest",
        str(manifest),
        "--output-dir",
        str(out),
        "--output-layout",
        "id",
        "--index",
        "false",
        *extra,
    ]


def _curl_reference(env: dict[str, str], sources: dict[str, Path], out: Path) -> Timed:
    """curl --parallel of every object's whole-object URL (URLs fetched first, untimed)."""
    out.mkdir()
    config = out.parent / "curl.cfg"
    lines = []
    for oid in sources:
        url = subprocess.run(
            [*CLIENT, "url", "--object-id", oid], env=env, check=True, capture_output=True, text=True
        ).stdout.split()[-1]
        lines += [f'url = "{url}"', f'output = "{out / oid}"']
    config.write_text("\n".join(lines) + "\n")
    return run_timed(["curl", "--silent", "--fail", "--parallel", "--parallel-max", "8", "--config", str(config)])


def _killed_then_resumed(env: dict[str, str], manifest: Path, out: Path, after: float) -> tuple[int, Timed]:
    """Start a download, SIGKILL it after *after* seconds; return the files it finished and the rerun."""
    proc = subprocess.Popen(_download(manifest, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(after)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # under their final names only (not the hidden .<id>.part files of the downloads in flight)
    finished = sum(1 for p in out.iterdir() if p.is_file() and not p.name.startswith(".")) if out.exists() else 0
    return finished, run_timed(_download(manifest, out, "--json"), env)


def main(argv: list[str] | None = None) -> int:
    """Run once; print the tables."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=500)
    ap.add_argument("--size-kib", type=int, default=256)
    ap.add_argument("--big-files", type=int, default=10_000, help="0 skips the big manifest")
    ap.add_argument("--big-size-kib", type=int, default=4)
    ap.add_argument("--workdir", type=Path)
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="score-bench-scale-", dir=args.workdir))
    try:
        return _run(args, work)
    except (CorruptError, RuntimeError) as exc:
        print(f"bench: FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> int:
    (work / "srv").mkdir()
    with Server(work / "srv" / "data") as server:
        env = {"STORAGE_URL": server.url, "ACCESSTOKEN": server.token("score.READ", "score.WRITE")}
        sources = _sources(work / "src", args.files, args.size_kib * 1024)
        manifest = _manifest(work / "manifest.txt", sources)
        up = run_timed([*CLIENT, "upload", "--quiet", "--manifest", str(manifest)], env)
        down = run_timed(_download(manifest, work / "score-out"), env)
        _check(sources, work / "score-out")
        curl = _curl_reference(env, sources, work / "curl-out")
        _check(sources, work / "curl-out")
        n = args.files
        rows = [
            ["score-client upload", f"{n / up.seconds:.0f}", "", f"{up.peak_rss_mib:.0f}"],
            [
                "score-client download (MD5 checked)",
                f"{n / down.seconds:.0f}",
                f"{curl.seconds / down.seconds:.2f}x",
                f"{down.peak_rss_mib:.0f}",
            ],
            [
                "curl --parallel 8, whole-object URLs (no MD5)",
                f"{n / curl.seconds:.0f}",
                "1.00x",
                f"{curl.peak_rss_mib:.0f}",
            ],
        ]
        print(f"\n{n} files of {args.size_kib} KiB on the embedded local store (every file MD5-checked)\n")
        print(markdown_table(["transfer", "files/s", "vs curl", "peak RSS MiB"], rows))
        rate = n / down.seconds
        verdict = "PASS" if rate >= FILES_PER_S_TARGET else "MISS"
        print(f"\ntarget: download >= {FILES_PER_S_TARGET} files/s: {rate:.0f} files/s, {verdict}")
        if args.big_files:
            _big(args, work, env)
    return 0


def _big(args: argparse.Namespace, work: Path, env: dict[str, str]) -> None:
    sources = _sources(work / "big-src", args.big_files, args.big_size_kib * 1024)
    manifest = _manifest(work / "big-manifest.txt", sources)
    up = run_timed([*CLIENT, "upload", "--quiet", "--manifest", str(manifest)], env)
    whole = run_timed(_download(manifest, work / "big-out"), env)
    _check(sources, work / "big-out")
    finished, rerun = _killed_then_resumed(env, manifest, work / "big-resumed", whole.seconds * 0.4)
    _check(sources, work / "big-resumed")
    statuses = [json.loads(line).get("status") for line in rerun.stdout.splitlines() if line.startswith("{")]
    skipped, fetched = statuses.count("skipped"), statuses.count("ok")
    n = args.big_files
    print(f"\n{n} files of {args.big_size_kib} KiB in one manifest (every file MD5-checked)\n")
    rows = [
        ["upload", f"{up.seconds:.1f}", f"{n / up.seconds:.0f}", f"{up.peak_rss_mib:.0f}"],
        ["download", f"{whole.seconds:.1f}", f"{n / whole.seconds:.0f}", f"{whole.peak_rss_mib:.0f}"],
        [
            f"download again after SIGKILL at {whole.seconds * 0.4:.1f} s ({finished} files done)",
            f"{rerun.seconds:.1f}",
            f"{n / rerun.seconds:.0f}",
            f"{rerun.peak_rss_mib:.0f}",
        ],
    ]
    print(markdown_table(["run", "seconds", "files/s", "peak RSS MiB"], rows))
    peak = max(whole.peak_rss_mib, rerun.peak_rss_mib)
    print(
        f"\nthe rerun skipped {skipped} complete files (size and MD5 checked) and fetched {fetched}; "
        f"{finished} were complete at the kill"
    )
    print(
        f"target: peak client RSS < {RSS_TARGET_MIB} MiB: {peak:.0f} MiB, {'PASS' if peak < RSS_TARGET_MIB else 'MISS'}"
    )
    resumed = skipped + fetched == n and skipped >= finished
    print(f"target: the batch resumes after SIGKILL: {'PASS' if resumed else 'MISS'}")


if __name__ == "__main__":
    sys.exit(main())
