"""Load tier: 20,000 download-spec requests over 50 kept-alive connections to one real score-server.

Every request must get exactly its answer, none may fail in transport, and the server's resident
memory may not grow past a stated bound while it answers them. Timings are not asserted here: the
rates are measured by ``bench/control_plane.py``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from tests.kit.controlplane import ControlPlane, control_plane
from tests.kit.loadgen import LoadResult, rss_bytes, run_load

pytestmark = pytest.mark.load
MIB = 1024 * 1024
CONNECTIONS = 50
WARM_UP = 1_000
REQUESTS = 20_000
REFUSED_SHARE = 0.2  # 1,000 each of: no token, another study's token, an unknown id, an unknown id (system scope)
RSS_GROWTH_BOUND = 10 * MIB


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A registry server with one published controlled object of four parts."""
    with control_plane(tmp_path_factory.mktemp("load")) as cp:
        yield cp


def _send(cp: ControlPlane, total: int) -> LoadResult:
    calls = cp.mix(total, REFUSED_SHARE)
    result = run_load("127.0.0.1", cp.server.port, calls, connections=CONNECTIONS, check=cp.check)
    expected = Counter((c.kind, cp.expected_status(c)) for c in calls)
    assert result.transport_errors == 0, result.failures
    assert result.wrong == 0, result.failures
    assert result.statuses == expected
    return result


def test_download_specs_under_load_without_errors_or_memory_growth(plane: ControlPlane) -> None:
    """20,000 download-spec requests from 50 connections: every answer exact, RSS growth under 10 MiB.

    The mix is 80% allowed requests (a study reader's spec of a four-part controlled object: each part
    with its signed URL) and 20% refused ones, because a refusal builds an error body, an audit line and
    a log line of its own and must not leak either: no token (401), another study's token (403), an
    unknown id (403, as another study's object: no existence oracle) and an unknown id with the system
    scope (404).

    The bound: RSS is read after a warm-up of 1,000 requests of the same mix and again after the 20,000.
    Measured on this 2-core machine over five runs, the growth was 1.3 to 1.6 MiB (the allocator settling;
    a second and third 20,000 on the same server added 0.1 to 0.2 MiB each). A server made to keep 512
    bytes per request grew 13.8 MiB. 10 MiB is over five times the growth seen, and catches any leak of
    about 500 bytes or more per request (a kept request scope, log record or response is larger).
    """
    _send(plane, WARM_UP)
    before = rss_bytes(plane.pid)
    _send(plane, REQUESTS)
    after = rss_bytes(plane.pid)
    assert plane.server.proc is not None and plane.server.proc.poll() is None, plane.server.log()[-3000:]
    assert "Traceback" not in plane.server.log()
    growth = after - before
    assert growth < RSS_GROWTH_BOUND, (
        f"score-server's RSS grew {growth / MIB:.1f} MiB over {REQUESTS} requests "
        f"({before / MIB:.1f} -> {after / MIB:.1f} MiB); bound {RSS_GROWTH_BOUND / MIB:.0f} MiB"
    )
