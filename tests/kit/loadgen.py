"""A small HTTP/1.1 load generator: many keep-alive connections, one asyncio loop, little CPU per request.

Shared by the load tier (``tests/load``) and ``bench/control_plane.py``. It speaks just enough HTTP/1.1
for score-server's JSON and text answers (a ``Content-Length`` body; chunked bodies are refused as a
protocol error), so that on a small machine the client spends a fraction of what the server spends per
request: httpx's ``AsyncClient`` costs several times more CPU per request, and that CPU is taken from
the server under test when both share two cores. Requests are encoded once per kind, not per send.

Every answer is handed to a ``check`` callback as it arrives (bodies are not kept), so a run of tens of
thousands of requests holds no more than its counters and, if asked, its latencies.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

MAX_FAILURES_KEPT = 20


@dataclass(frozen=True)
class Call:
    """One kind of request: a GET of *target* (path and query) with *headers*."""

    kind: str
    target: str
    headers: tuple[tuple[str, str], ...] = ()

    def encode(self, host: str) -> bytes:
        """The request's bytes on the wire (keep-alive)."""
        lines = [f"GET {self.target} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in self.headers)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# check(call, status, body) -> None when the answer is right, else what is wrong with it
Check = Callable[[Call, int, bytes], "str | None"]


@dataclass
class LoadResult:
    """What a run saw: answers by (kind, status), wrong answers, transport errors, latencies."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    wrong: int = 0
    transport_errors: int = 0
    failures: list[str] = field(default_factory=list)  # the first few, for the assertion message
    latencies: dict[str, list[float]] = field(default_factory=dict)  # seconds, by kind (only when kept)
    seconds: float = 0.0

    @property
    def answered(self) -> int:
        """Requests that got a complete answer, right or wrong."""
        return sum(self.statuses.values())

    def _fail(self, message: str) -> None:
        if len(self.failures) < MAX_FAILURES_KEPT:
            self.failures.append(message)


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.1 this generator understands."""


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Read one response: its status, body and whether the server keeps the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ProtocolError(f"bad status line {lines[0][:80]!r}")
    status = int(parts[1])
    length = -1
    keep_alive = parts[0] == b"HTTP/1.1"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            raise ProtocolError("chunked answers are not supported")
        elif name == b"connection":
            keep_alive = value.strip().lower() != b"close"
    if length < 0:
        raise ProtocolError(f"status {status} without Content-Length")
    body = await reader.readexactly(length) if length else b""
    return status, body, keep_alive


async def _worker(
    host: str,
    port: int,
    calls: Iterator[Call],
    wires: dict[Call, bytes],
    check: Check,
    result: LoadResult,
    keep_latencies: bool,
    timeout: float,
) -> None:
    """Send calls one after another on one kept-alive connection, reconnecting when it closes."""
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    for call in calls:
        start = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                if conn is None:
                    conn = await asyncio.open_connection(host, port)
                reader, writer = conn
                writer.write(wires[call])
                status, body, keep_alive = await _read_answer(reader)
        except (
            OSError,
            EOFError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            TimeoutError,
            ProtocolError,
            ValueError,
        ) as exc:
            result.transport_errors += 1
            result._fail(f"{call.kind}: {type(exc).__name__}: {exc}")
            if conn is not None:
                conn[1].close()
            conn = None
            continue
        if keep_latencies:
            result.latencies.setdefault(call.kind, []).append(time.perf_counter() - start)
        result.statuses[(call.kind, status)] += 1
        problem = check(call, status, body)
        if problem is not None:
            result.wrong += 1
            result._fail(f"{call.kind}: {status}: {problem}: {body[:200]!r}")
        if not keep_alive:
            writer.close()
            conn = None
    if conn is not None:
        conn[1].close()
        await conn[1].wait_closed()


async def run_load_async(
    host: str,
    port: int,
    calls: Sequence[Call],
    *,
    connections: int,
    check: Check,
    keep_latencies: bool = False,
    timeout: float = 30.0,
) -> LoadResult:
    """Send *calls* in order over *connections* concurrent keep-alive connections (each takes the next call)."""
    result = LoadResult()
    wires = {c: c.encode(f"{host}:{port}") for c in set(calls)}
    shared = iter(calls)  # one iterator: each worker takes the next call when it is free
    start = time.perf_counter()
    await asyncio.gather(
        *(_worker(host, port, shared, wires, check, result, keep_latencies, timeout) for _ in range(connections))
    )
    result.seconds = time.perf_counter() - start
    return result


def run_load(
    host: str,
    port: int,
    calls: Sequence[Call],
    *,
    connections: int,
    check: Check,
    keep_latencies: bool = False,
    timeout: float = 30.0,
) -> LoadResult:
    """``run_load_async`` on a fresh event loop."""
    return asyncio.run(
        run_load_async(
            host, port, calls, connections=connections, check=check, keep_latencies=keep_latencies, timeout=timeout
        )
    )


def interleave(counts: dict[Call, int]) -> list[Call]:
    """*counts* calls of each kind, spread evenly through the run (not in blocks of one kind)."""
    total = sum(counts.values())
    # each call's i-th copy sits at fraction (i + 0.5) / n of the run; sort by that position
    placed = sorted(((i + 0.5) / n, order, call) for order, (call, n) in enumerate(counts.items()) for i in range(n))
    out = [call for _, _, call in placed]
    assert len(out) == total
    return out


def rss_bytes(pid: int) -> int:
    """The process's resident set size now (``VmRSS`` of ``/proc/<pid>/status``)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


__all__ = ["Call", "Check", "LoadResult", "ProtocolError", "interleave", "rss_bytes", "run_load", "run_load_async"]
