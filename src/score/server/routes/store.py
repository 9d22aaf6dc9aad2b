"""The local store's data plane: serves the pre-signed URLs it issues (PUT part, GET/HEAD range).

This is what S3 would be for an S3 deployment; only signatures authorize these requests.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable

import anyio.to_thread
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect

from score.server.deps import AppClock, AppMetrics, LocalStore
from score.storage.local import STORE_ROUTE, ServedRange

router = APIRouter(include_in_schema=False)
CHUNK_BYTES = 1024 * 1024
CLIENT_CLOSED_REQUEST = 499  # nginx's status for a request its client abandoned (as the request log's)


def _query(request: Request) -> dict[str, str]:
    return dict(request.query_params)


@router.put(STORE_ROUTE + "{key:path}")
async def put_part(key: str, request: Request, store: LocalStore, clock: AppClock, app_metrics: AppMetrics) -> Response:
    """Receive one part of a multipart upload; answers with its ETag like S3."""
    query = _query(request)
    store.verify("PUT", key, query, clock.now())
    counter = app_metrics.store_bytes.labels("received")

    async def counted() -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            counter.inc(len(chunk))
            yield chunk

    try:
        etag = await store.receive_part(key, query, counted(), request.headers.get("content-md5"))
    except ClientDisconnect:
        # The client left mid-body (killed, or it gave the part up): nothing of the part was kept, and
        # nobody reads this answer; it is for the request log and metrics, as for a cancelled read.
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    return Response(status_code=200, headers={"ETag": f'"{etag}"'})


async def _file_chunks(served: ServedRange, sent: Callable[[float], None]) -> AsyncIterator[bytes]:
    fd = await anyio.to_thread.run_sync(os.open, served.path, os.O_RDONLY)
    try:
        pos = served.byte_range.start
        left = served.byte_range.length
        while left > 0:
            chunk = await anyio.to_thread.run_sync(os.pread, fd, min(CHUNK_BYTES, left), pos)
            if not chunk:
                break
            pos += len(chunk)
            left -= len(chunk)
            sent(len(chunk))
            yield chunk
    finally:
        os.close(fd)


def _headers(served: ServedRange) -> dict[str, str]:
    rng = served.byte_range
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(rng.length)}
    if served.partial:
        end = rng.end - 1 if rng.length else rng.start
        headers["Content-Range"] = f"bytes {rng.start}-{end}/{served.size}"
    if served.etag:
        headers["ETag"] = f'"{served.etag}"'
    return headers


@router.get(STORE_ROUTE + "{key:path}")
async def get_object(
    key: str, request: Request, store: LocalStore, clock: AppClock, app_metrics: AppMetrics
) -> Response:
    """Serve the signed object or range."""
    query = _query(request)
    store.verify("GET", key, query, clock.now())
    served = store.resolve_get(key, query, request.headers.get("range"))
    return StreamingResponse(
        _file_chunks(served, app_metrics.store_bytes.labels("sent").inc),
        status_code=206 if served.partial else 200,
        headers=_headers(served),
        media_type="application/octet-stream",
    )


@router.head(STORE_ROUTE + "{key:path}")
async def head_object(key: str, request: Request, store: LocalStore, clock: AppClock) -> Response:
    """The headers a GET of the URL would answer (Content-Length, Accept-Ranges, ETag), no body.

    A URL signed for GET admits HEAD too (unlike S3's): htsjdk's SeekableHTTPStream, which Score's
    ``view`` uses, sends HEAD first and takes the object's length from whatever answers.
    """
    query = _query(request)
    store.verify_head(key, query, clock.now())
    served = store.resolve_get(key, query, request.headers.get("range"))
    return Response(status_code=206 if served.partial else 200, headers=_headers(served))
