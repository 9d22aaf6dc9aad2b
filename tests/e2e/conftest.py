"""Fixtures for end-to-end tests: random files and a live server."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kit.servers import ServerProcess, free_port

MIB = 1024 * 1024


def md5_of(path: Path) -> str:
    """MD5 of a file."""
    h = hashlib.md5()  # noqa: S324
    with open(path, "rb") as fh:
        while chunk := fh.read(8 * MIB):
            h.update(chunk)
    return h.hexdigest()


def random_file(path: Path, size: int) -> Path:
    """Write *size* random bytes."""
    with open(path, "wb") as fh:
        left = size
        while left:
            n = min(left, 16 * MIB)
            fh.write(os.urandom(n))
            left -= n
    return path


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 256 MiB random file (plus a few bytes, so the last part is short)."""
    return random_file(tmp_path_factory.mktemp("big") / "big.bin", 256 * MIB + 4321)


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[object]:
    """Start servers on demand; all are stopped at the end of the test."""
    started: list[ServerProcess] = []

    def start(data_dir: Path | None = None, port: int | None = None, **env: str) -> ServerProcess:
        srv = ServerProcess(data_dir or tmp_path / "data", port or free_port(), env=dict(env))
        started.append(srv.start())
        return srv

    yield start
    for srv in started:
        srv.stop()
