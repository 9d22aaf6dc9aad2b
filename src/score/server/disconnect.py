"""Stop work on a read-only request whose client has gone (ASGI middleware; no routes, no settings).

Starlette lets a handler run to its end after the client disconnects, so a slow upstream (a Song
that pages forever, a hanging store) keeps the server busy for nobody. For requests that change
nothing (GET, HEAD, and the POST forms of the GA4GH read APIs) this middleware watches the
connection once the request body has been read and cancels the handler when the client leaves
before the response is complete. Requests that change state are never cancelled half-way: an
upload or finalize always runs to its end, and the client learns the outcome by asking again.
"""

from __future__ import annotations

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

READ_ONLY_METHODS = frozenset({"GET", "HEAD"})
READ_ONLY_POST_PREFIXES = ("/ga4gh/drs/", "/ga4gh/htsget/")  # DRS passports, htsget queries: reads


def _read_only(scope: Scope) -> bool:
    method = scope["method"]
    return method in READ_ONLY_METHODS or (method == "POST" and scope["path"].startswith(READ_ONLY_POST_PREFIXES))


def _has_body(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"", b"0")):
            return True
    return False


class CancelOnDisconnect:
    """Cancel a read-only request's handler when its client disconnects before the response ends."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap *app*."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http" or not _read_only(scope):
            await self.app(scope, receive, send)
            return
        gone = anyio.Event()
        finished = False  # the response's last byte was handed on: nothing left to spare
        body_read = not _has_body(scope)
        empty_body_given = False
        error: Exception | None = None  # raised as itself below, not wrapped in the task group's ExceptionGroup

        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                # After the body, the server's receive() answers only when the client disconnects
                # (or the response is complete); anything else is an empty body chunk to skip.
                while (await receive())["type"] != "http.disconnect":
                    pass
                gone.set()
                if not finished:
                    tg.cancel_scope.cancel()

            async def app_receive() -> Message:
                nonlocal body_read, empty_body_given
                if not body_read:
                    message = await receive()
                    if message["type"] == "http.disconnect" or not message.get("more_body", False):
                        body_read = True
                        tg.start_soon(watch)
                    return message
                if not empty_body_given and not _has_body(scope):
                    empty_body_given = True
                    return {"type": "http.request", "body": b"", "more_body": False}
                await gone.wait()
                return {"type": "http.disconnect"}

            async def app_send(message: Message) -> None:
                nonlocal finished
                if message["type"] == "http.response.body" and not message.get("more_body", False):
                    finished = True
                await send(message)

            if body_read:
                tg.start_soon(watch)
            try:
                await self.app(scope, app_receive, app_send)
            except Exception as exc:  # noqa: BLE001 - re-raised below, outside the task group
                error = exc
            tg.cancel_scope.cancel()
        if error is not None:
            raise error
