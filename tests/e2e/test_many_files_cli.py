"""A manifest of many small files through score-client, as a subprocess against a live score-server: killed with
SIGKILL part-way, the batch is run again and finishes with every file MD5-checked, the files the first run had
finished skipped (not fetched again), no partial file ever under a final name, and no state left behind."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.kit.checks import ok
from tests.kit.files import md5_of
from tests.kit.servers import run_client, start_client

pytestmark = pytest.mark.e2e

FILES = 150


def test_a_killed_batch_resumes_where_it_stopped(server_factory: Any, tmp_path: Path) -> None:
    srv = server_factory()
    token = srv.token("score.READ", "score.WRITE")
    src = tmp_path / "src"
    src.mkdir()
    sources: dict[str, str] = {}
    lines = ["an-analysis\t\t"]
    for i in range(FILES):
        path = src / f"f{i:03d}.bin"
        path.write_bytes(os.urandom(1024 + 37 * i))
        oid = str(uuid.uuid4())
        sources[oid] = hashlib.md5(path.read_bytes()).hexdigest()
        lines.append(f"{oid}\t{path}\t{sources[oid]}")
    manifest = tmp_path / "manifest.txt"
    manifest.write_text("\n".join(lines) + "\n")
    ok(run_client(["upload", "--manifest", str(manifest)], server=srv.url, token=token))

    out = tmp_path / "out"
    down = ["download", "--manifest", str(manifest), "--output-dir", str(out), "--output-layout", "id", "--json"]
    proc = start_client([*down, "--parallel", "1"], server=srv.url, token=token)
    deadline = time.monotonic() + 120
    while len([p for p in out.glob("*") if not p.name.startswith(".")] if out.exists() else []) < FILES // 5:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    finished = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    assert FILES // 5 <= len(finished) < FILES
    for oid in finished:  # what has its name is complete and right, even though the client was killed
        assert md5_of(out / oid) == sources[oid]

    rerun = ok(run_client(down, server=srv.url, token=token))
    results = [json.loads(line) for line in rerun.splitlines() if line.startswith('{"object_id"')]
    status = {r["object_id"]: r["status"] for r in results}
    assert set(status) == set(sources)
    assert {oid for oid, s in status.items() if s == "skipped"} == finished
    assert all(s == "ok" for oid, s in status.items() if oid not in finished)
    for oid, md5 in sources.items():
        assert md5_of(out / oid) == md5
    assert sorted(p.name for p in out.iterdir()) == sorted(sources)  # no .part files or state directories left
