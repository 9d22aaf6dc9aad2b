"""Song over HTTP: the object's entity (study, access, analysis) and its analysis (state, size, MD5).

Song's read endpoints are public (Score calls them without a token). Answers are cached for a
few seconds in a bounded cache, so a burst of part requests does not become a burst of Song
calls, while a publish or unpublish is seen quickly.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import anyio
import httpx

from score.domain.errors import NotFoundError, UpstreamUnavailableError
from score.domain.model import Access, AnalysisState, ObjectRecord
from score.wire.upstream import json_object, unreachable

SERVICE = "the metadata service (Song)"
PAGE_SIZE = 2000
# An analysis is a handful of files; a Song that keeps paging past these is broken, not big.
MAX_PAGES = 100
MAX_ANALYSIS_FILES = 20_000


class SongMetadata:
    """The :class:`score.domain.ports.MetadataSource` backed by a Song server (or our registry)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        cache_ttl: timedelta = timedelta(seconds=10),
        cache_size: int = 10_000,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Ask the Song at *base_url*; each request must be answered, body included, within *timeout* seconds."""
        # httpx's timeouts bound each read, so a Song that trickles its body would never time out: the
        # deadline is on the whole request, and httpx's own a little later so that the deadline speaks first.
        self._timeout = timeout
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout + 1, transport=transport)
        self._ttl = cache_ttl.total_seconds()
        self._size = cache_size
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, ObjectRecord]] = OrderedDict()

    async def aclose(self) -> None:
        """Release connections."""
        await self._http.aclose()

    async def _get_json(self, path: str, what: str) -> dict[str, Any]:
        try:
            with anyio.fail_after(self._timeout):
                r = await self._http.get(path)
        except TimeoutError:
            raise UpstreamUnavailableError(f"{SERVICE} did not answer within {self._timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise unreachable(SERVICE, exc) from exc
        if r.status_code in (400, 404):
            raise NotFoundError(f"{what} is not registered in the metadata service (Song)")
        return json_object(r, SERVICE)

    async def _fetch(self, object_id: str) -> ObjectRecord:
        entity = await self._get_json(f"/entities/{quote(object_id, safe='')}", f"object {object_id}")
        if entity.get("id") != object_id:
            raise UpstreamUnavailableError("the metadata service (Song) answered for another object", retryable=False)
        study, analysis_id = str(entity.get("projectCode") or ""), str(entity.get("gnosId") or "")
        raw_access = str(entity.get("access") or "controlled").lower()
        access = Access.OPEN if raw_access == "open" else Access.CONTROLLED  # Score: empty/"null" = controlled
        analysis = await self._get_json(
            f"/studies/{quote(study, safe='')}/analysis/{quote(analysis_id, safe='')}", f"analysis {analysis_id}"
        )
        try:
            state = AnalysisState(str(analysis.get("analysisState")))
        except ValueError:
            raise UpstreamUnavailableError(
                "the metadata service (Song) sent an unknown analysis state", retryable=False
            ) from None
        size: int | None = None
        md5: str | None = None
        siblings = tuple(
            (str(f["objectId"]), str(f["fileName"]))
            for f in analysis.get("files") or []
            if isinstance(f, dict) and f.get("objectId") and f.get("fileName")
        )
        for f in analysis.get("files") or []:
            if isinstance(f, dict) and f.get("objectId") == object_id:
                size = f.get("fileSize") if isinstance(f.get("fileSize"), int) else None
                md5 = str(f["fileMd5sum"]).lower() if f.get("fileMd5sum") else None
        return ObjectRecord(
            object_id=object_id,
            study_id=study,
            access=access,
            analysis_id=analysis_id,
            analysis_state=state,
            file_name=entity.get("fileName"),
            file_size=size,
            file_md5=md5,
            analysis_files=siblings,
        )

    async def analysis_objects(self, analysis_id: str) -> list[str]:
        """The object ids of the analysis's files (Song's ``GET /entities?gnosId=``, every page).

        The walk is bounded: at most :data:`MAX_PAGES` pages and :data:`MAX_ANALYSIS_FILES` ids, and a
        page that adds no new id while Song says it is not the last one ends it as nonsense. Each page
        is awaited, so a cancelled request (its client went away) stops the walk there.

        Raises:
            NotFoundError: Song knows no files of that analysis.
            UpstreamUnavailableError: Song is down or answered nonsense, or paged past the bounds.
        """
        out: dict[str, None] = {}  # ordered, without repeats
        for page in range(MAX_PAGES):
            query = f"gnosId={quote(analysis_id, safe='')}&page={page}&size={PAGE_SIZE}"
            data = await self._get_json(f"/entities?{query}", f"analysis {analysis_id}")
            content = data.get("content")
            if not isinstance(content, list):
                raise UpstreamUnavailableError(f"{SERVICE} sent a malformed page of entities", retryable=False)
            before = len(out)
            out.update((str(x["id"]), None) for x in content if isinstance(x, dict) and x.get("id"))
            if data.get("last", True) or not content:
                break
            if len(out) == before:
                raise UpstreamUnavailableError(
                    f"{SERVICE} repeated page {page} of analysis {analysis_id[:64]!r} without saying it was the last",
                    retryable=False,
                )
            if len(out) > MAX_ANALYSIS_FILES:
                raise UpstreamUnavailableError(
                    f"{SERVICE} listed more than {MAX_ANALYSIS_FILES} files for analysis {analysis_id[:64]!r}",
                    retryable=False,
                )
        else:
            raise UpstreamUnavailableError(
                f"{SERVICE} sent {MAX_PAGES} pages of analysis {analysis_id[:64]!r} without saying which was the last",
                retryable=False,
            )
        if not out:
            raise NotFoundError(f"{analysis_id} is neither an object nor an analysis with files")
        return list(out)

    async def get(self, object_id: str) -> ObjectRecord:
        """The object's record, from the cache or Song.

        Raises:
            NotFoundError: Song does not know the object or its analysis.
            UpstreamUnavailableError: Song is down or answered nonsense (retryable when down).
        """
        now = self._clock()
        hit = self._cache.get(object_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        record = await self._fetch(object_id)
        self._cache[object_id] = (now + self._ttl, record)
        self._cache.move_to_end(object_id)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return record
