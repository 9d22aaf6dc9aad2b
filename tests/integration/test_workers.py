"""``score-server serve --workers 2`` on the embedded default: both worker processes answer, a URL one of them
signed is honoured by the other (the URL-signing and token keys are files shared by every worker), and an upload
and a download go through it as through one process."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.kit.files import md5_of, random_file
from tests.kit.registered import publish_file
from tests.kit.servers import PYTHON, free_port, mint_token, run_client

SENTINEL_PREFIX = b"score sentinel object"


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """The server's URL, its data directory and its log."""
    with _started(tmp_path) as server:
        yield server


@contextlib.contextmanager
def _started(tmp_path: Path, env: dict[str, str] | None = None) -> Iterator[tuple[str, Path, Path]]:
    """``serve --workers 2`` (with *env* added), stopped on exit: its URL, data directory and log (both workers'
    stdout and stderr)."""
    port, data, log_path = free_port(), tmp_path / "data", tmp_path / "server.log"
    env = {**os.environ, "SCORE_METADATA__KIND": "registry", **(env or {})}
    cmd = [PYTHON, "-m", "score.cli.server_main", "serve", "--workers", "2", "--port", str(port)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([*cmd, "--data-dir", str(data)], stdout=log, stderr=log, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        yield url, data, log_path
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _workers_by_request(log_path: Path) -> dict[str, int]:
    out = {}
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and doc.get("msg") == "request" and "worker" in doc:
            out[doc["request_id"]] = doc["worker"]
    return out


def _fresh(url: str) -> httpx.Response:
    """One GET on a connection of its own (so that either worker may accept it)."""
    with httpx.Client(timeout=30) as client:
        return client.get(url, headers={"Connection": "close"})


def test_urls_signed_by_one_worker_are_honoured_by_the_other(two_workers: tuple[str, Path, Path]) -> None:
    url, _, log_path = two_workers
    with ThreadPoolExecutor(16) as pool:
        pings = list(pool.map(_fresh, [f"{url}/download/ping"] * 160))
        assert all(r.status_code == 200 for r in pings)
        fetched = list(pool.map(_fresh, [r.text for r in pings]))
    assert all(r.status_code == 200 and r.content.startswith(SENTINEL_PREFIX) for r in fetched)
    time.sleep(0.5)  # the last log lines
    worker = _workers_by_request(log_path)
    signers = [worker[r.headers["x-request-id"]] for r in pings]
    servers = [worker[r.headers["x-request-id"]] for r in fetched]
    assert len(set(signers) | set(servers)) == 2, "both workers answer"
    assert any(a != b for a, b in zip(signers, servers, strict=True)), "a URL signed by one worker, served by the other"


def test_upload_and_download_through_two_workers(two_workers: tuple[str, Path, Path], tmp_path: Path) -> None:
    url, data, _ = two_workers
    path = random_file(tmp_path / "reads.bam", 3 * 1024 * 1024 + 17)
    writer = mint_token(data, ["PROGRAMDATA-W.WRITE", "PROGRAMDATA-W.READ"])
    object_id = publish_file(url, writer, "W", path)
    out = tmp_path / "out"
    done = run_client(["download", "--object-id", object_id, "--output-dir", str(out)], server=url, token=writer)
    assert done.returncode == 0, done.stderr
    got = [p for p in out.rglob("*") if p.is_file() and p.name == path.name]
    assert len(got) == 1 and md5_of(got[0]) == md5_of(path)


def _requests_total(exposition: str, route: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
        if s.name == "score_http_requests_total" and s.labels.get("route") == route
    )


def test_metrics_count_the_requests_of_both_workers(two_workers: tuple[str, Path, Path]) -> None:
    """Issue 25: whichever worker answers /metrics, it reports the requests every worker served (one
    multiprocess directory), not only its own."""
    url, _, log_path = two_workers
    sent = 200
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(_fresh, [f"{url}/download/ping"] * sent))
        assert all(r.status_code == 200 for r in answers)
        scrapes = list(pool.map(_fresh, [f"{url}/metrics"] * 24))
    assert all(r.status_code == 200 for r in scrapes)
    time.sleep(0.5)  # the last log lines
    worker = _workers_by_request(log_path)
    assert len({worker[r.headers["x-request-id"]] for r in answers}) == 2, "both workers answer the requests"
    assert len({worker[r.headers["x-request-id"]] for r in scrapes}) == 2, "both workers answer /metrics"
    assert [_requests_total(r.text, "/download/ping") for r in scrapes] == [sent] * len(scrapes)


@pytest.mark.parametrize("audit_file", [False, True], ids=["stderr", "SCORE_AUDIT_LOG"])
def test_audit_lines_of_two_workers_never_interleave(tmp_path: Path, audit_file: bool) -> None:
    """Issue 25: under concurrent load on two workers, each audit record is one whole JSON line (one write of
    the full line by each process), on the shared stderr or in the audit file each worker appends to."""
    audit = tmp_path / "audit.jsonl"
    ids = [str(uuid.uuid4()) for _ in range(200)]
    with _started(tmp_path, {"SCORE_AUDIT_LOG": str(audit)} if audit_file else {}) as (url, _, log_path):
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(_fresh, [f"{url}/download/{i}" for i in ids]))  # no token: denied, audited
        assert all(r.status_code in (401, 403) for r in answers)
        time.sleep(0.5)  # the last log lines
        worker = _workers_by_request(log_path)
        assert len({worker[r.headers["x-request-id"]] for r in answers}) == 2, "both workers answer"
    logged = [json.loads(line) for line in log_path.read_text().splitlines()]  # every line of the output
    if audit_file:
        records = [json.loads(line) for line in audit.read_text().splitlines()]
        assert not any(x.get("logger") == "score.audit" for x in logged)
    else:
        records = [json.loads(x["msg"]) for x in logged if x.get("logger") == "score.audit"]
    assert sorted(x["object_id"] for x in records) == sorted(ids)
    assert all(x["type"] == "audit" and x["decision"] == "deny" and x["action"] == "download" for x in records)
    assert {x["request_id"] for x in records} == {r.headers["x-request-id"] for r in answers}
