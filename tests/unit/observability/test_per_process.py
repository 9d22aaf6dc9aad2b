"""Per-process state under ``serve --workers N`` (issue 25): each log or audit line is one whole write, and
metrics summed over the workers' files are refused where prometheus_client keeps values in memory."""

from __future__ import annotations

import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from score.domain.errors import ConfigError
from score.observability import logging as score_logging
from score.observability.logging import LineHandler
from score.observability.metrics import Metrics


def _record(msg: str) -> logging.LogRecord:
    return logging.LogRecord("score.audit", logging.INFO, __file__, 1, msg, None, None)


def _json_lines(handler: LineHandler) -> LineHandler:
    handler.setFormatter(logging.Formatter("%(message)s"))
    return handler


def test_each_record_is_one_write_of_the_whole_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[bytes] = []
    real_write = os.write

    def write(fd: int, data: bytes) -> int:
        writes.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(score_logging.os, "write", write)
    handler = _json_lines(LineHandler.appending(tmp_path / "audit.jsonl"))
    try:
        for i in range(3):
            handler.handle(_record(json.dumps({"n": i, "pad": "x" * 3000})))
    finally:
        handler.close()
    assert len(writes) == 3
    assert all(w.endswith(b"\n") and w.count(b"\n") == 1 for w in writes)
    assert [json.loads(line)["n"] for line in (tmp_path / "audit.jsonl").read_text().splitlines()] == [0, 1, 2]


def test_a_line_the_kernel_took_in_part_is_finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    monkeypatch.setattr(score_logging.os, "write", lambda fd, data: real_write(fd, data[:7]))
    handler = _json_lines(LineHandler.appending(tmp_path / "audit.jsonl"))
    try:
        handler.handle(_record('{"decision": "deny"}'))
    finally:
        handler.close()
    assert (tmp_path / "audit.jsonl").read_text() == '{"decision": "deny"}\n'


def test_appenders_of_one_file_keep_their_lines_whole(tmp_path: Path) -> None:
    """Two handlers, each with its own O_APPEND descriptor, as two workers have."""
    path = tmp_path / "audit.jsonl"
    handlers = [_json_lines(LineHandler.appending(path)) for _ in range(2)]

    def burst(k: int) -> None:
        for i in range(300):
            handlers[k % 2].handle(_record(json.dumps({"writer": k, "i": i, "pad": "y" * (200 + k * 50)})))

    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(burst, range(4)))
    finally:
        for h in handlers:
            h.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted((x["writer"], x["i"]) for x in lines) == [(k, i) for k in range(4) for i in range(300)]


def test_summed_metrics_need_prometheus_client_in_multiprocess_mode(tmp_path: Path) -> None:
    """This test process imported prometheus_client without PROMETHEUS_MULTIPROC_DIR: its values are in memory,
    so a /metrics summing the directory's files would leave them out."""
    with pytest.raises(ConfigError, match="PROMETHEUS_MULTIPROC_DIR"):
        Metrics(multiprocess_dir=tmp_path)
