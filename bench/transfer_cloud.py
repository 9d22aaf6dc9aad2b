"""Transfer benchmark on the cloud emulators: score-client against rclone and curl on Azurite and fake-gcs-server.

    .venv/bin/python bench/transfer_cloud.py [--size-mib 512] [--repeat 3] [--parallel N]

For each emulator it starts a throw-away instance and a score-server on it, then moves one random
file up and down with score-client (MD5 validated), rclone (Debian package; Azure through its
emulator options, GCS through ``--gcs-endpoint`` without credentials) and curl (one stream, on a
pre-signed URL the server's own store adapter signs). Every round trip is MD5-checked before a
figure is printed. Prints a markdown table per emulator: median MiB/s, ratios to rclone and curl,
peak RSS. The emulators are slow single processes; the ratios, not the absolute figures, are the
point. See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import statistics
import sys
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from _kit import MIB, PYTHON, Server, Timed, markdown_table, md5_of, random_file, run_timed  # noqa: E402
from tests.kit.azurite import ACCOUNT, ACCOUNT_KEY, Azurite  # noqa: E402
from tests.kit.gcs_emulator import FakeGcs  # noqa: E402


def _store(kind: str, emulator: Any, container: str) -> Any:
    """Our own adapter over the emulator, used to sign curl's URLs."""
    import anyio

    if kind == "azure":
        from score.config.settings import AzureStorageSettings
        from score.server.stores.azure import make_azure_store

        store: Any = make_azure_store(AzureStorageSettings(**emulator.settings(container)))
    else:
        from score.config.settings import GcsStorageSettings
        from score.server.stores.gcs import make_gcs_store

        store = make_gcs_store(GcsStorageSettings(**emulator.settings(container)))
    anyio.run(store.ensure_buckets)
    return store


def _rclone_remote(kind: str, emulator: Any, container: str) -> tuple[str, dict[str, str]]:
    if kind == "azure":
        # rclone 1.60 takes an endpoint only as a domain suffix; a container SAS URL reaches any port.
        from azure.storage.blob import generate_container_sas

        sas = generate_container_sas(
            ACCOUNT,
            container,
            account_key=ACCOUNT_KEY,
            permission="racwdl",
            expiry=datetime.now(UTC) + timedelta(hours=6),
        )
        return f":azureblob:{container}", {"RCLONE_AZUREBLOB_SAS_URL": f"{emulator.endpoint}/{container}?{sas}"}
    return f":gcs:{container}", {
        "RCLONE_GCS_ANONYMOUS": "true",
        "RCLONE_GCS_ENDPOINT": emulator.endpoint + "/storage/v1/",
        "RCLONE_GCS_BUCKET_POLICY_ONLY": "true",
    }


def _check(tool: str, got: Path, want: str) -> None:
    if md5_of(got) != want:
        raise RuntimeError(f"{tool}: the round trip is corrupt (MD5 differs)")


def bench_one(
    kind: str, emulator: Any, args: argparse.Namespace, work: Path, src: Path
) -> dict[str, list[tuple[Timed, Timed]]]:
    """All tools' round trips on one emulator."""
    want = md5_of(src)
    container = f"bench-{uuid.uuid4().hex[:10]}"
    store = _store(kind, emulator, container)
    env = emulator.server_env(container)
    runs: dict[str, list[tuple[Timed, Timed]]] = {"score-client": [], "rclone": [], "curl": []}
    with Server(work / f"score-{kind}", env) as server:
        token = server.token("score.READ", "score.WRITE")
        score_env = {"STORAGE_URL": server.url, "ACCESSTOKEN": token}
        extra = ["--parallel", str(args.parallel)] if args.parallel else []
        remote, rclone_env = _rclone_remote(kind, emulator, container)
        for _ in range(args.repeat):
            oid = str(uuid.uuid4())
            client = [PYTHON, "-m", "score.cli.client_main"]
            up = run_timed([*client, "upload", "--quiet", "--object-id", oid, "--file", str(src), *extra], score_env)
            out = work / "out-score"
            down = run_timed(
                [*client, "download", "--quiet", "--object-id", oid, "--output-dir", str(out), *extra], score_env
            )
            if "md5 verified" not in down.stdout:
                raise RuntimeError("score-client: the download did not report a verified MD5")
            _check("score-client", out / oid, want)
            shutil.rmtree(out)
            runs["score-client"].append((up, down))

            name = f"rclone/{uuid.uuid4().hex}"
            up = run_timed(["rclone", "copyto", str(src), f"{remote}/{name}"], rclone_env)
            got = work / "rclone.out"
            down = run_timed(["rclone", "copyto", f"{remote}/{name}", str(got)], rclone_env)
            _check("rclone", got, want)
            got.unlink()
            runs["rclone"].append((up, down))

            runs["curl"].append(_curl(kind, store, src, work, want))
    return runs


def _curl(kind: str, store: Any, src: Path, work: Path, want: str) -> tuple[Timed, Timed]:
    """One-stream PUT and GET of the whole file on URLs our adapter signs (Put Blob on Azure)."""
    from score.domain.model import GetTarget

    key = f"curl/{uuid.uuid4().hex}"
    soon = datetime.now(UTC) + timedelta(hours=1)
    if kind == "azure":
        url = store._url(key, "w", soon)  # noqa: SLF001 - a whole-blob write SAS, for the reference tool only
        headers = ["-H", "x-ms-blob-type: BlockBlob"]
    else:
        url = store._sign(key, "PUT", soon, {})  # noqa: SLF001
        headers = []
    md5_b64 = base64.b64encode(bytes.fromhex(want)).decode()
    up = run_timed(
        [
            "curl",
            "-sSf",
            "-X",
            "PUT",
            "-T",
            str(src),
            *headers,
            "-H",
            f"Content-MD5: {md5_b64}",
            "-H",
            "Expect:",
            "-o",
            "/dev/null",
            url,
        ]
    )
    got = work / "curl.out"
    down = run_timed(["curl", "-sSf", "-o", str(got), store.sign_get(GetTarget(key), soon)])
    _check("curl", got, want)
    got.unlink()
    return up, down


def _report(kind: str, size: int, runs: dict[str, list[tuple[Timed, Timed]]]) -> None:
    def median(name: str, i: int) -> float:
        return statistics.median(pair[i].mib_s(size) for pair in runs[name])

    rows = []
    for name, pairs in runs.items():
        up, down = median(name, 0), median(name, 1)
        rss = (max(p[0].peak_rss_mib for p in pairs), max(p[1].peak_rss_mib for p in pairs))
        rows.append(
            [
                name,
                f"{up:.0f}",
                f"{down:.0f}",
                f"{up / median('rclone', 0):.2f}x",
                f"{down / median('rclone', 1):.2f}x",
                f"{up / median('curl', 0):.2f}x",
                f"{down / median('curl', 1):.2f}x",
                f"{rss[0]:.0f} / {rss[1]:.0f}",
            ]
        )
    title = "Azurite 3.35.0" if kind == "azure" else "fake-gcs-server 1.54.0"
    print(f"\n### {title}\n")
    print(
        markdown_table(
            [
                "tool",
                "upload MiB/s",
                "download MiB/s",
                "up vs rclone",
                "down vs rclone",
                "up vs curl",
                "down vs curl",
                "peak RSS MiB up / down",
            ],
            rows,
        )
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; non-zero only when a round trip is corrupt or a tool fails."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=512, help="file size in MiB (default 512)")
    ap.add_argument("--repeat", type=int, default=3, help="round trips per tool; the median is shown (default 3)")
    ap.add_argument("--parallel", type=int, help="score-client --parallel (default: the client's own default)")
    ap.add_argument("--only", choices=["azure", "gcs"], help="one emulator only")
    args = ap.parse_args(argv)
    missing = [t for t in ("rclone", "curl") if shutil.which(t) is None]
    if missing:
        print(f"missing reference tools: {', '.join(missing)} (scripts/setup --bench)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="score-bench-cloud-") as tmp:
        work = Path(tmp)
        src = random_file(work / "src.bin", args.size_mib * MIB)
        size = src.stat().st_size
        print(
            f"{args.size_mib} MiB random file, emulators on 127.0.0.1, median of {args.repeat}; "
            "every round trip MD5-checked; score-client validates MD5 on download, rclone and curl do not."
        )
        starters: dict[str, Callable[[], Any]] = {"azure": Azurite, "gcs": FakeGcs}
        for kind, make in starters.items():
            if args.only and kind != args.only:
                continue
            emulator = make().start()
            try:
                _report(kind, size, bench_one(kind, emulator, args, work, src))
            finally:
                emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
