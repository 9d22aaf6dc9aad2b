"""Song's API as the client needs it (works with Song and with score-server's embedded registry)."""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import quote

import httpx

from score import __version__
from score.client.http.server_api import error_from_response, transport_error
from score.client.http.tokens import BearerAuth, TokenSource, as_source
from score.domain import errors as e

PAGE_SIZE = 2000
MAX_ANALYSIS_PAGES = 100  # an analysis is a handful of files: a service paging past this is broken (as the server)


class MetadataApi:
    """Submit, read, publish; find an analysis's files."""

    def __init__(
        self,
        base_url: str,
        token: str | TokenSource | None,
        *,
        timeout: float = 60.0,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        """Talk to the metadata service at *base_url* (the token is sent for writes and reads alike)."""
        headers = {"User-Agent": f"score-client/{__version__}"}
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=timeout,
            auth=BearerAuth(as_source(token)),
            verify=verify,
        )

    def close(self) -> None:
        """Release connections."""
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            r = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise transport_error(exc, "the metadata service", self._http.base_url) from exc
        if r.status_code >= 400:
            raise error_from_response(r)
        try:
            return r.json()
        except ValueError:
            raise e.UpstreamUnavailableError("the metadata service sent malformed JSON") from None

    def submit(self, study: str, payload: dict[str, Any]) -> dict[str, Any]:
        """``POST /submit/{study}``: returns ``analysisId`` (and, from our registry, the files)."""
        out: dict[str, Any] = self._call("POST", f"/submit/{quote(study, safe='')}", json=payload)
        return out

    def analysis(self, study: str, analysis_id: str) -> dict[str, Any]:
        """``GET /studies/{study}/analysis/{id}``."""
        out: dict[str, Any] = self._call(
            "GET", f"/studies/{quote(study, safe='')}/analysis/{quote(analysis_id, safe='')}"
        )
        return out

    def set_state(self, study: str, analysis_id: str, action: str) -> dict[str, Any]:
        """``PUT /studies/{study}/analysis/{publish|unpublish|suppress}/{id}``."""
        if action not in ("publish", "unpublish", "suppress"):
            raise ValueError(action)
        out: dict[str, Any] = self._call(
            "PUT", f"/studies/{quote(study, safe='')}/analysis/{action}/{quote(analysis_id, safe='')}"
        )
        return out

    def entity(self, object_id: str) -> dict[str, object] | None:
        """``GET /entities/{id}``; None when the service does not know the object (or has no registry)."""
        try:
            out: dict[str, object] = self._call("GET", f"/entities/{quote(object_id, safe='')}")
        except e.NotFoundError:
            return None
        return out

    def analysis_entities(self, analysis_id: str, study: str, page_size: int = PAGE_SIZE) -> list[dict[str, Any]]:
        """Every file entity of an analysis (``GET /entities``, all pages, de-duplicated by id).

        Raises:
            UpstreamUnavailableError: not retryable, when the service pages past :data:`MAX_ANALYSIS_PAGES`.
        """
        return self.find_entities({"gnosId": analysis_id, "projectCode": study}, page_size, MAX_ANALYSIS_PAGES)

    def find_entities(
        self, filters: dict[str, str] | None = None, page_size: int = PAGE_SIZE, max_pages: int | None = None
    ) -> list[dict[str, Any]]:
        """Every file entity matching *filters* (Song's ``gnosId``, ``projectCode``; none = all), all pages.

        A page that adds no new entity while the service says it is not the last ends the walk as
        nonsense, and so does a walk past *max_pages* (None: no bound).

        Raises:
            UpstreamUnavailableError: a malformed page (retryable), or one of the above (not retryable).
        """
        seen: dict[str, dict[str, Any]] = {}
        page = 0
        while True:
            data = self._call("GET", "/entities", params={**(filters or {}), "page": page, "size": page_size})
            if not isinstance(data, dict):
                raise e.UpstreamUnavailableError("the metadata service sent a malformed page of entities")
            before = len(seen)
            for entity in data.get("content", []):
                if isinstance(entity, dict) and entity.get("id"):
                    seen.setdefault(str(entity["id"]), entity)
            if data.get("last", True) or not data.get("content"):
                return list(seen.values())
            page += 1
            if len(seen) == before or (max_pages is not None and page >= max_pages):
                what = "repeated a page of entities" if len(seen) == before else f"sent {page} pages of entities"
                raise e.UpstreamUnavailableError(
                    f"the metadata service {what} without saying which was the last", retryable=False
                )
