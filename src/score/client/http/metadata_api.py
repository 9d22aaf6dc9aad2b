"""Song's API as the client needs it (works with Song and with score-server's embedded registry)."""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import quote

import httpx

from score import __version__
from score.client.http.server_api import METADATA_SETTING, error_from_response, transport_error
from score.client.http.song_entities import Analysis, EntityPage, FileEntity, SubmitReceipt
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
        transport: httpx.BaseTransport | None = None,
        service: str = "the metadata service",
        setting: str = METADATA_SETTING,
    ) -> None:
        """Talk to the metadata service at *base_url* (the token is sent for writes and reads alike;
        *transport* replaces the network in tests). Errors name it *service*, its URL coming from *setting*.
        """
        self._service, self._setting = service, setting
        headers = {"User-Agent": f"score-client/{__version__}"}
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=timeout,
            auth=BearerAuth(as_source(token)),
            verify=verify,
            transport=transport,
        )

    def close(self) -> None:
        """Release connections."""
        self._http.close()

    def _call(self, method: str, path: str, *, missing: str | None = None, **kwargs: Any) -> Any:
        """The answer's JSON; *missing* is the reason a 404 gets (what was not found, when not an object).

        Raises:
            ScoreError: the service's error, or malformed JSON.
        """
        try:
            r = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise transport_error(exc, self._service, self._http.base_url, self._setting) from exc
        if r.status_code >= 400:
            error = error_from_response(r, self._setting)
            if missing is not None and type(error) is e.NotFoundError and error.reason is None:
                error.reason = missing
            raise error
        try:
            return r.json()
        except ValueError:
            raise e.UpstreamUnavailableError("the metadata service sent malformed JSON") from None

    def submit(self, study: str, payload: dict[str, Any]) -> SubmitReceipt:
        """``POST /submit/{study}``: the analysis id (and, from our registry, the files)."""
        return SubmitReceipt.parse(
            self._call("POST", f"/submit/{quote(study, safe='')}", missing=e.STUDY_NOT_FOUND, json=payload)
        )

    def analysis(self, study: str, analysis_id: str) -> Analysis:
        """``GET /studies/{study}/analysis/{id}``."""
        return Analysis.parse(
            self._call(
                "GET",
                f"/studies/{quote(study, safe='')}/analysis/{quote(analysis_id, safe='')}",
                missing=e.ANALYSIS_NOT_FOUND,
            )
        )

    def set_state(self, study: str, analysis_id: str, action: str) -> Analysis:
        """``PUT /studies/{study}/analysis/{publish|unpublish|suppress}/{id}``; its state when the answer says it."""
        if action not in ("publish", "unpublish", "suppress"):
            raise ValueError(action)
        return Analysis.parse(
            self._call(
                "PUT",
                f"/studies/{quote(study, safe='')}/analysis/{action}/{quote(analysis_id, safe='')}",
                missing=e.ANALYSIS_NOT_FOUND,
            )
        )

    def entity(self, object_id: str) -> FileEntity | None:
        """``GET /entities/{id}``; None when the service does not know the object (or has no registry).

        Raises:
            UpstreamUnavailableError: the answer is not an entity.
        """
        try:
            raw = self._call("GET", f"/entities/{quote(object_id, safe='')}")
        except e.NotFoundError:
            return None
        entity = FileEntity.parse(raw)
        if entity is None:
            raise e.UpstreamUnavailableError("the metadata service sent a malformed entity")
        return entity

    def analysis_entities(self, analysis_id: str, study: str, page_size: int = PAGE_SIZE) -> list[FileEntity]:
        """Every file entity of an analysis (``GET /entities``, all pages, de-duplicated by id).

        Raises:
            UpstreamUnavailableError: not retryable, when the service pages past :data:`MAX_ANALYSIS_PAGES`.
        """
        return self.find_entities({"gnosId": analysis_id, "projectCode": study}, page_size, MAX_ANALYSIS_PAGES)

    def find_entities(
        self, filters: dict[str, str] | None = None, page_size: int = PAGE_SIZE, max_pages: int | None = None
    ) -> list[FileEntity]:
        """Every file entity matching *filters* (Song's ``gnosId``, ``projectCode``; none = all), all pages.

        A page that adds no new entity while the service says it is not the last ends the walk as
        nonsense, and so does a walk past *max_pages* (None: no bound).

        Raises:
            UpstreamUnavailableError: a malformed page (retryable), or one of the above (not retryable).
        """
        seen: dict[str, FileEntity] = {}
        page = 0
        while True:
            found = EntityPage.parse(
                self._call("GET", "/entities", params={**(filters or {}), "page": page, "size": page_size})
            )
            before = len(seen)
            for entity in found.entities:
                seen.setdefault(entity.object_id, entity)
            if found.last:
                return list(seen.values())
            page += 1
            if len(seen) == before or (max_pages is not None and page >= max_pages):
                what = "repeated a page of entities" if len(seen) == before else f"sent {page} pages of entities"
                raise e.UpstreamUnavailableError(
                    f"the metadata service {what} without saying which was the last", retryable=False
                )
