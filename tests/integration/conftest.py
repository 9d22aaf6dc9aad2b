"""A score-server process shared by the integration tests of a module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kit.servers import ServerProcess, free_port

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """score-server on the embedded default, with 5 MiB parts so tests stay small."""
    root = tmp_path_factory.mktemp("srv")
    srv = ServerProcess(
        root / "data", free_port(), env={"SCORE_STORAGE__MIN_PART_SIZE_BYTES": str(5 * MIB), "SCORE_AUTH__LEEWAY": "1"}
    )
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def rw_token(server: ServerProcess) -> str:
    """A token with score.READ and score.WRITE."""
    return server.token("score.READ", "score.WRITE")
