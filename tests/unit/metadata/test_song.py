"""The Song adapter's walk through ``GET /entities?gnosId=`` pages is bounded (issue 20, defect 9)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable

import anyio
import httpx
import pytest

from score.domain.errors import UpstreamUnavailableError
from score.metadata import song
from score.metadata.song import SongMetadata

Page = Callable[[int], dict[str, object]]


def _walk(page: Page) -> tuple[list[str] | Exception, list[int]]:
    """Run analysis_objects against a Song answering *page(n)*; return its result and the pages asked."""
    asked: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params["page"])
        asked.append(n)
        return httpx.Response(200, json=page(n))

    async def run() -> list[str] | Exception:
        meta = SongMetadata("http://song.invalid", transport=httpx.MockTransport(handler))
        try:
            return await meta.analysis_objects("AN1")
        except UpstreamUnavailableError as exc:
            return exc
        finally:
            await meta.aclose()

    return anyio.run(run), asked


def _ids(n: int, count: int = 1) -> list[dict[str, str]]:
    return [{"id": str(uuid.UUID(int=n * 100_000 + i))} for i in range(count)]


def test_pages_are_followed_until_song_says_last() -> None:
    result, asked = _walk(lambda n: {"content": _ids(n, 2), "last": n == 2})
    assert asked == [0, 1, 2]
    assert result == [x["id"] for n in range(3) for x in _ids(n, 2)]


def test_a_song_that_never_says_last_is_stopped_after_max_pages() -> None:
    result, asked = _walk(lambda n: {"content": _ids(n), "last": False})
    assert asked == list(range(song.MAX_PAGES))
    assert isinstance(result, UpstreamUnavailableError) and not result.retryable
    assert result.message == (
        "the metadata service (Song) sent 100 pages of analysis 'AN1' without saying which was the last"
    )


def test_a_song_that_repeats_a_page_is_stopped() -> None:
    result, asked = _walk(lambda n: {"content": _ids(0, 3), "last": False})  # ignores ?page=
    assert asked == [0, 1]
    assert isinstance(result, UpstreamUnavailableError)
    assert result.message == (
        "the metadata service (Song) repeated page 1 of analysis 'AN1' without saying it was the last"
    )


def test_a_song_listing_too_many_files_is_stopped() -> None:
    result, asked = _walk(lambda n: {"content": _ids(n, song.PAGE_SIZE), "last": False})
    assert asked == list(range(song.MAX_ANALYSIS_FILES // song.PAGE_SIZE + 1))
    assert isinstance(result, UpstreamUnavailableError)
    assert result.message == "the metadata service (Song) listed more than 20000 files for analysis 'AN1'"


@pytest.mark.parametrize("last", [None, True])
def test_a_page_without_last_is_the_last(last: bool | None) -> None:
    body: dict[str, object] = {"content": _ids(0)}
    if last is not None:
        body["last"] = last
    result, asked = _walk(lambda n: body)
    assert asked == [0] and result == [_ids(0)[0]["id"]]


class _Trickle(httpx.AsyncByteStream):
    """A body that never ends: a byte now and then, each well within httpx's per-read timeout."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            await anyio.sleep(0.05)
            yield b" "


def test_a_song_that_trickles_its_body_is_cut_off_at_the_timeout() -> None:
    """Issue 20 (faults tier): httpx's timeouts bound each read, so a Song that sent its body a byte at a
    time held the request, and the client's, forever."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "application/json"}, stream=_Trickle())

    async def run() -> UpstreamUnavailableError:
        meta = SongMetadata("http://song.invalid", timeout=0.3, transport=httpx.MockTransport(handler))
        try:
            with pytest.raises(UpstreamUnavailableError) as caught:
                await meta.get(str(uuid.uuid4()))
            return caught.value
        finally:
            await meta.aclose()

    started = time.monotonic()
    err = anyio.run(run)
    assert time.monotonic() - started < 2
    assert err.message == "the metadata service (Song) did not answer within 0.3 s" and err.retryable
