"""Transfer benchmark on the embedded local store: score-client against curl on the same signed URLs.

    .venv/bin/python bench/transfer_local.py [--size-mib 1024] [--rss-size-mib 4096] [--repeat 3] [--sweep]

Prints a markdown table (MiB/s, ratio to curl, peak RSS of each process) and checks the targets
of issue 23, restated for this machine: download with whole-file MD5 validation >= 0.9x "curl, then
md5sum" (the verified download a user has without score-client); client peak RSS below 200 MiB for
a 4 GiB file. Each is printed as PASS or MISS; the exit status is 1 when one is missed. Every round
trip is checked by MD5 before its figures are printed. See bench/README.md.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from _kit import MIB, PYTHON, Server, Timed, markdown_table, md5_of, random_file, run_timed  # noqa: E402

DOWNLOAD_VS_CURL_MD5SUM = 0.9  # issue 23: against "curl, then md5sum", not curl alone
RSS_TARGET_MIB = 200.0


class Bench:
    """One benchmark session against one server."""

    def __init__(self, server: Server, work: Path, parallel: int) -> None:
        """Use *server*; scratch files go under *work*."""
        self.server = server
        self.work = work
        self.parallel = parallel
        self.token = server.token("score.READ", "score.WRITE")
        self.env = {"STORAGE_URL": server.url, "ACCESSTOKEN": self.token}
        self.http = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60)

    def _scratch(self, name: str) -> Path:
        path = self.work / f"{name}-{uuid.uuid4().hex[:8]}"
        path.mkdir()
        return path

    # ---- score-client ----------------------------------------------------------------------
    def client_upload(self, src: Path, parallel: int | None = None) -> tuple[str, Timed]:
        """Upload *src* as a new object; return its id and the timing."""
        oid = str(uuid.uuid4())
        cmd = [
            PYTHON,
            "-m",
            "score.cli.client_main",
            "upload",
            "--quiet",
            "--object-id",
            oid,
            "--file",
            str(src),
            "--parallel",
            str(parallel or self.parallel),
        ]
        return oid, run_timed(cmd, self.env)

    def client_download(self, oid: str, expected_md5: str, parallel: int | None = None, validate: bool = True) -> Timed:
        """Download (with MD5 validation unless told) into a fresh directory; check the bytes."""
        out = self._scratch("dl")
        cmd = [
            PYTHON,
            "-m",
            "score.cli.client_main",
            "download",
            "--quiet",
            "--object-id",
            oid,
            "--output-dir",
            str(out),
            "--parallel",
            str(parallel or self.parallel),
            "--validate",
            str(validate).lower(),
        ]
        t = run_timed(cmd, self.env)
        if (validate and "md5 verified" not in t.stdout) or md5_of(out / oid) != expected_md5:
            raise RuntimeError("score-client download did not round-trip")
        shutil.rmtree(out)
        return t

    # ---- curl on the same signed URLs ---------------------------------------------------------
    def _curl(self, config: Path, parallel: int) -> Timed:
        cmd = ["curl", "--fail", "--silent", "--show-error", "--config", str(config)]
        if parallel > 1:
            cmd[1:1] = ["--parallel", "--parallel-max", str(parallel), "--parallel-immediate"]
        return run_timed(cmd)

    def curl_download(self, oid: str, expected_md5: str, parallel: int) -> Timed:
        """GET the per-part ranged URLs score-server issues (one stream when *parallel* is 1)."""
        out = self._scratch("curl")
        if parallel == 1:
            spec = self.http.get(f"/download/{oid}", params={"external": "true"}).json()
            config = out / "curl.cfg"
            config.write_text(f'url = "{spec["parts"][0]["url"]}"\noutput = "{out / "whole"}"\n')
            t = self._curl(config, 1)
            got = md5_of(out / "whole")
        else:
            spec = self.http.get(f"/download/{oid}").json()
            config = out / "curl.cfg"
            lines = []
            for p in spec["parts"]:
                part = out / f"part-{p['partNumber']:05d}"
                lines += [f'url = "{p["url"]}"', f'output = "{part}"']
            config.write_text("\n".join(lines) + "\n")
            t = self._curl(config, parallel)
            got = _md5_of_parts(sorted(out.glob("part-*")))
        if got != expected_md5:
            raise RuntimeError("curl download did not round-trip")
        shutil.rmtree(out)
        return t

    def curl_then_md5sum(self, oid: str, expected_md5: str) -> Timed:
        """What a curl user does to validate: fetch the whole-object URL, then ``md5sum`` the file."""
        out = self._scratch("curlmd5")
        spec = self.http.get(f"/download/{oid}", params={"external": "true"}).json()
        config = out / "curl.cfg"
        config.write_text(f'url = "{spec["parts"][0]["url"]}"\noutput = "{out / "whole"}"\n')
        t = run_timed(
            [
                "sh",
                "-c",
                'curl --fail --silent --show-error --config "$1" && md5sum "$2"',
                "sh",
                str(config),
                str(out / "whole"),
            ]
        )
        if t.stdout.split()[0] != expected_md5:
            raise RuntimeError("curl + md5sum did not round-trip")
        shutil.rmtree(out)
        return t

    def curl_upload(self, src: Path, parallel: int) -> Timed:
        """PUT the file's parts to the signed part URLs of a fresh upload (splitting is not timed)."""
        oid = str(uuid.uuid4())
        size = src.stat().st_size
        spec = self.http.post(f"/upload/{oid}/uploads", params={"fileSize": size}).json()
        out = self._scratch("curlup")
        lines = []
        with open(src, "rb") as fh:
            for p in spec["parts"]:
                part = out / f"part-{p['partNumber']:05d}"
                fh.seek(p["offset"])
                part.write_bytes(fh.read(p["partSize"]))
                lines += [f'upload-file = "{part}"', f'url = "{p["url"]}"', 'output = "/dev/null"']
        config = out / "curl.cfg"
        config.write_text("\n".join(lines) + "\n")
        t = self._curl(config, parallel)
        parts = self.http.get(f"/upload/{oid}/status", params={"fileSize": size}).json()["parts"]
        self.http.delete(f"/upload/{oid}")
        shutil.rmtree(out)
        if not parts:
            raise RuntimeError("curl upload: the server did not receive the parts")
        return t


def _md5_of_parts(paths: list[Path]) -> str:
    import hashlib

    h = hashlib.md5()
    for p in paths:
        with open(p, "rb") as fh:
            while chunk := fh.read(8 * MIB):
                h.update(chunk)
    return h.hexdigest()


def _median(fn: Callable[[], Timed], repeat: int) -> Timed:
    runs = [fn() for _ in range(repeat)]
    return sorted(runs, key=lambda t: t.seconds)[len(runs) // 2]


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 when a target is missed."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=1024, help="throughput file size (default 1024)")
    ap.add_argument("--rss-size-mib", type=int, default=4096, help="file size of the RSS check (0 = skip)")
    ap.add_argument("--parallel", type=int, default=4, help="parallel parts for both tools (default 4)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is shown")
    ap.add_argument("--sweep", action="store_true", help="also time score-client at --parallel 1, 2, 4, 8")
    ap.add_argument("--workdir", type=Path, help="scratch directory (default: a temporary one)")
    args = ap.parse_args(argv)
    for tool, package in (("curl", "curl"), ("/usr/bin/time", "time")):
        if shutil.which(tool) is None:
            print(f"bench: {tool} is required (apt-get install {package})", file=sys.stderr)
            return 2
    work = Path(tempfile.mkdtemp(prefix="score-bench-", dir=args.workdir))
    try:
        return _run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> int:
    size = args.size_mib * MIB
    src = random_file(work / "src.bin", size)
    src_md5 = md5_of(src)
    (work / "srv").mkdir()
    rows: list[list[object]] = []
    ok = True
    with Server(work / "srv" / "data") as server:
        b = Bench(server, work, args.parallel)
        p = args.parallel
        oid, _ = b.client_upload(src)  # warm-up, and the object the downloads read
        up = _median(lambda: b.client_upload(src)[1], args.repeat)
        curl_up = _median(lambda: b.curl_upload(src, p), args.repeat)
        down = _median(lambda: b.client_download(oid, src_md5), args.repeat)
        curl_par = _median(lambda: b.curl_download(oid, src_md5, p), args.repeat)
        curl_one = _median(lambda: b.curl_download(oid, src_md5, 1), args.repeat)
        unvalidated = _median(lambda: b.client_download(oid, src_md5, validate=False), args.repeat)
        curl_md5 = _median(lambda: b.curl_then_md5sum(oid, src_md5), args.repeat)
        md5_alone = _median(lambda: run_timed(["md5sum", str(src)]), args.repeat)
        best_curl = max(curl_par.mib_s(size), curl_one.mib_s(size))
        rows += [
            [
                f"score-client upload (MD5 + part MD5s), {p} parts in flight",
                _fmt(up.mib_s(size)),
                f"{up.mib_s(size) / curl_up.mib_s(size):.2f}x",
                _fmt(up.peak_rss_mib),
            ],
            [
                f"curl PUT of the same signed part URLs, {p} in flight",
                _fmt(curl_up.mib_s(size)),
                "1.00x",
                _fmt(curl_up.peak_rss_mib),
            ],
            [
                f"score-client download (MD5 validated), {p} parts in flight",
                _fmt(down.mib_s(size)),
                f"{down.mib_s(size) / best_curl:.2f}x",
                _fmt(down.peak_rss_mib),
            ],
            [
                f"curl GET of the same signed part URLs, {p} in flight",
                _fmt(curl_par.mib_s(size)),
                f"{curl_par.mib_s(size) / best_curl:.2f}x",
                _fmt(curl_par.peak_rss_mib),
            ],
            [
                "curl GET of the whole-object URL, one stream",
                _fmt(curl_one.mib_s(size)),
                f"{curl_one.mib_s(size) / best_curl:.2f}x",
                _fmt(curl_one.peak_rss_mib),
            ],
            [
                f"score-client download --validate false (part MD5s only), {p} in flight",
                _fmt(unvalidated.mib_s(size)),
                f"{unvalidated.mib_s(size) / best_curl:.2f}x",
                _fmt(unvalidated.peak_rss_mib),
            ],
            [
                "curl GET of the whole-object URL, then md5sum",
                _fmt(curl_md5.mib_s(size)),
                f"{curl_md5.mib_s(size) / best_curl:.2f}x",
                _fmt(curl_md5.peak_rss_mib),
            ],
            [
                "md5sum of the file from the page cache (the MD5 ceiling)",
                _fmt(md5_alone.mib_s(size)),
                f"{md5_alone.mib_s(size) / best_curl:.2f}x",
                _fmt(md5_alone.peak_rss_mib),
            ],
        ]
        ratio = down.mib_s(size) / curl_md5.mib_s(size)
        ok &= ratio >= DOWNLOAD_VS_CURL_MD5SUM
        verdicts = [
            (
                f'- score-client download (whole-file MD5 validated) vs "curl, then md5sum": {ratio:.2f}x '
                f"(target >= {DOWNLOAD_VS_CURL_MD5SUM:.2f}x): {_pass(ratio >= DOWNLOAD_VS_CURL_MD5SUM)}"
            ),
            f"- not a target: download with MD5 validation vs the faster curl {down.mib_s(size) / best_curl:.2f}x",
        ]
        sweep_rows: list[list[object]] = []
        if args.sweep:
            for n in (1, 2, 4, 8):
                u = _median(lambda n=n: b.client_upload(src, n)[1], args.repeat)
                d = _median(lambda n=n: b.client_download(oid, src_md5, n), args.repeat)
                sweep_rows.append(
                    [n, _fmt(u.mib_s(size)), _fmt(d.mib_s(size)), _fmt(max(u.peak_rss_mib, d.peak_rss_mib))]
                )
        if args.rss_size_mib:
            big = random_file(work / "big.bin", args.rss_size_mib * MIB)
            big_md5 = md5_of(big)
            big_oid, big_up = b.client_upload(big)
            big_down = b.client_download(big_oid, big_md5)
            peak = max(big_up.peak_rss_mib, big_down.peak_rss_mib)
            ok &= peak < RSS_TARGET_MIB
            rows += [
                [
                    f"score-client upload, {args.rss_size_mib / 1024:g} GiB",
                    _fmt(big_up.mib_s(big.stat().st_size)),
                    "",
                    _fmt(big_up.peak_rss_mib),
                ],
                [
                    f"score-client download, {args.rss_size_mib / 1024:g} GiB",
                    _fmt(big_down.mib_s(big.stat().st_size)),
                    "",
                    _fmt(big_down.peak_rss_mib),
                ],
            ]
            verdicts.append(
                f"- client peak RSS for a {args.rss_size_mib / 1024:g} GiB file: {peak:.0f} MiB "
                f"(target < {RSS_TARGET_MIB:.0f} MiB): {_pass(peak < RSS_TARGET_MIB)}"
            )
    print(
        f"\n{args.size_mib} MiB random file, embedded local store on 127.0.0.1, median of {args.repeat}; "
        "every round trip MD5-checked.\n"
    )
    print(markdown_table(["transfer", "MiB/s", "ratio to curl", "peak RSS MiB"], rows))
    if sweep_rows:
        print("\nscore-client by --parallel:\n")
        print(markdown_table(["--parallel", "upload MiB/s", "download MiB/s", "peak RSS MiB"], sweep_rows))
    print("\ntargets (issue 23, restated for this machine):\n" + "\n".join(verdicts))
    return 0 if ok else 1


def _pass(met: bool) -> str:
    return "PASS" if met else "MISS"


if __name__ == "__main__":
    sys.exit(main())
