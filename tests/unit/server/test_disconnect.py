"""CancelOnDisconnect: read-only handlers stop when their client leaves; writes always finish."""

from __future__ import annotations

import anyio
import pytest
from starlette.types import Message, Receive, Scope, Send

from score.server.disconnect import CancelOnDisconnect


def _scope(method: str, path: str = "/download/x", headers: list[tuple[bytes, bytes]] | None = None) -> Scope:
    return {"type": "http", "method": method, "path": path, "headers": headers or []}


async def _run(scope: Scope, app_body: object, messages: list[Message], leave_after: float = 0.05) -> list[str]:
    """Run *app_body* behind the middleware; the client sends *messages*, then leaves after *leave_after* s."""
    events: list[str] = []
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        await anyio.sleep(leave_after)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        events.append(message["type"])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await app_body(receive, send, events)  # type: ignore[operator]

    with anyio.fail_after(5):
        await CancelOnDisconnect(app)(scope, receive, send)
    return events


async def _slow(receive: Receive, send: Send, events: list[str]) -> None:
    try:
        await anyio.sleep(2)
        events.append("finished")
    except anyio.get_cancelled_exc_class():
        events.append("cancelled")
        raise


@pytest.mark.anyio
async def test_a_read_is_cancelled_when_its_client_leaves() -> None:
    assert await _run(_scope("GET"), _slow, [{"type": "http.request", "body": b"", "more_body": False}]) == [
        "cancelled"
    ]


@pytest.mark.anyio
async def test_a_drs_post_with_a_body_is_cancelled_once_the_body_is_read() -> None:
    async def app(receive: Receive, send: Send, events: list[str]) -> None:
        assert (await receive())["body"] == b"{}"
        await _slow(receive, send, events)

    scope = _scope("POST", "/ga4gh/drs/v1/objects/x", [(b"content-length", b"2")])
    assert await _run(scope, app, [{"type": "http.request", "body": b"{}", "more_body": False}]) == ["cancelled"]


@pytest.mark.anyio
@pytest.mark.parametrize(("method", "path"), [("POST", "/upload/x"), ("PUT", "/store/part"), ("DELETE", "/upload/x")])
async def test_a_write_always_runs_to_its_end(method: str, path: str) -> None:
    async def app(receive: Receive, send: Send, events: list[str]) -> None:
        await anyio.sleep(0.2)
        events.append("finished")

    assert await _run(_scope(method, path), app, []) == ["finished"]


@pytest.mark.anyio
async def test_an_answered_read_is_not_cancelled_and_a_bodyless_read_sees_an_empty_body() -> None:
    async def app(receive: Receive, send: Send, events: list[str]) -> None:
        assert await receive() == {"type": "http.request", "body": b"", "more_body": False}
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        await anyio.sleep(0.2)  # e.g. a background task after the response
        events.append("finished")

    events = await _run(_scope("GET"), app, [{"type": "http.request", "body": b"", "more_body": False}])
    assert events == ["http.response.start", "http.response.body", "finished"]


@pytest.mark.anyio
async def test_a_handlers_error_is_raised_as_itself() -> None:
    async def app(receive: Receive, send: Send, events: list[str]) -> None:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match="^bug$"):
        await _run(_scope("GET"), app, [])
