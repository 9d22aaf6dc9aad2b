"""Fixtures for end-to-end tests: random files and a live server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kit.files import MIB, random_file
from tests.kit.servers import ServerProcess, free_port


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
