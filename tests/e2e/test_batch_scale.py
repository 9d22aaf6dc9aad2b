"""A real batch through the CLI: 50 small and 2 large files from one Song manifest, one object
corrupt in the store, the batch SIGKILLed half-way and run again."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.kit.checks import ok
from tests.kit.files import MIB, md5_of, random_file
from tests.kit.proxy import FaultProxy
from tests.kit.servers import free_port, run_client, start_client

pytestmark = pytest.mark.e2e
SMALL, LARGE = 50, 2


def _finished(out: Path) -> set[str]:
    return {p.name for p in out.iterdir() if p.is_file()} if out.exists() else set()


def test_batch_of_52_with_a_corrupt_object_killed_and_resumed(server_factory: Any, tmp_path: Path) -> None:
    port = free_port()
    proxy = FaultProxy(port).start()
    try:
        srv = server_factory(
            port=port,
            SCORE_PUBLIC_URL=proxy.url,
            SCORE_METADATA__KIND="registry",
            SCORE_STORAGE__MIN_PART_SIZE_BYTES=str(4 * MIB),
        )
        token = srv.token("score.READ", "score.WRITE")
        src = tmp_path / "src"
        src.mkdir()
        files = [random_file(src / f"small-{i:02d}.txt", 1000 + 997 * i) for i in range(SMALL)]
        files += [random_file(src / f"large-{i}.bam", 24 * MIB + i) for i in range(LARGE)]
        manifest = tmp_path / "manifest.txt"
        out = ok(
            run_client(
                [
                    "submit",
                    "--study-id",
                    "BIG",
                    "--files",
                    *map(str, files),
                    "--manifest",
                    str(manifest),
                    "--access",
                    "open",
                ],
                server=srv.url,
                token=token,
            )
        )
        analysis = out.split("submitted analysis ")[1].split()[0]
        ok(run_client(["upload", "--manifest", str(manifest)], server=srv.url, token=token, timeout=600))
        ok(run_client(["publish", "--study-id", "BIG", "--analysis-id", analysis], server=srv.url, token=token))
        ids = {
            line.split("\t")[1].rsplit("/", 1)[-1]: line.split("\t")[0]
            for line in manifest.read_text().splitlines()[1:]
        }
        assert len(ids) == SMALL + LARGE
        corrupt = ids["small-07.txt"]
        stored = srv.data_dir / "objects" / "data" / corrupt
        raw = bytearray(stored.read_bytes())
        raw[len(raw) // 2] ^= 0x01
        stored.write_bytes(bytes(raw))

        # first run: slowed down at the store, killed once some files are complete
        dest = tmp_path / "dest"
        args = ["download", "--manifest", str(manifest), "--output-dir", str(dest), "--json", "--parallel", "4"]
        proxy.store_delay = 0.15
        proc = start_client(args, server=srv.url, token=token)
        deadline = time.monotonic() + 120
        while len(_finished(dest)) < 12 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        done_before = _finished(dest)
        assert 12 <= len(done_before) < SMALL + LARGE - 1, "the kill came too late to test resume"
        assert 2 <= proxy.max_in_flight <= 4  # files in parallel, under the one --parallel bound
        gets_before = dict(proxy.store_get_paths)

        # second run: completes; only the corrupt object fails; finished files are not fetched again
        proxy.store_delay = 0.0
        r = run_client(args, server=srv.url, token=token, timeout=600)
        assert r.returncode == 5, r.stderr
        assert "Traceback" not in r.stderr
        lines = [json.loads(x) for x in r.stdout.splitlines()]
        by_id = {x["object_id"]: x for x in lines if "object_id" in x}
        assert len(by_id) == SMALL + LARGE
        bad = by_id[corrupt]
        assert bad["status"] == "failed" and "MD5" in bad["error"] and bad["exit_code"] == 5
        assert not (dest / "small-07.txt").exists()
        summary = lines[-1]["summary"]
        assert summary["objects"] == SMALL + LARGE and summary["failed"] == 1
        assert summary["succeeded"] == SMALL + LARGE - 1 and summary["exit_code"] == 5
        for name, oid in ids.items():
            if oid == corrupt:
                continue
            assert md5_of(dest / name) == md5_of(src / name), name
            line = by_id[oid]
            assert line["file"] == str(dest / name) and line["md5_verified"] in (True, False)
            if name in done_before:
                assert line["status"] == "skipped"
                assert proxy.store_get_paths[f"/_store/data/{oid}"] == gets_before.get(f"/_store/data/{oid}", 0)
            else:
                assert line["status"] == "ok" and line["md5_verified"] is True
        # nothing left behind but the corrupt object's resume state
        leftovers = {p.name for p in dest.iterdir() if p.is_dir()}
        assert leftovers <= {f".{corrupt}"}
    finally:
        proxy.stop()
