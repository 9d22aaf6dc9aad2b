"""Use cases of the embedded registry: submit, read, publish/unpublish/suppress, entity queries.

Writes need the upload scope (system or the study's); reads are public, as Song's are (Score and
Song call them without a token). Publishing checks, as Song does, that every file is in the
store with the registered size and MD5.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread

from score.domain.errors import ConflictError, NotFoundError
from score.domain.model import Access, AnalysisRow, AnalysisState, FileRow, ObjectRecord, Principal
from score.domain.ports import AnalysisRegistry
from score.services.auditing import check_upload
from score.services.context import ServiceContext
from score.services.state import UploadStateRepository

MAX_PAGE = 2000
MAX_PAGE_NUMBER = 10**9  # page * size must fit SQLite's 64-bit OFFSET; a billion pages is beyond any registry


_STATE_VERBS = {
    AnalysisState.PUBLISHED: "publishing an analysis",
    AnalysisState.UNPUBLISHED: "unpublishing an analysis",
    AnalysisState.SUPPRESSED: "suppressing an analysis",
}


class RegistryService:
    """The registry's operations over its store and the object store."""

    def __init__(self, ctx: ServiceContext, store: AnalysisRegistry) -> None:
        """Bind to *ctx* (policy, audit, object store) and the registry *store*."""
        self._ctx = ctx
        self._store = store
        self._state = UploadStateRepository(ctx.store)

    def _authorize_write(self, principal: Principal, study: str, analysis_id: str, verb: str) -> None:
        check_upload(self._ctx, principal, analysis_id, ObjectRecord("", study, Access.CONTROLLED), verb)

    async def submit(self, principal: Principal, study: str, payload: dict[str, Any]) -> AnalysisRow:
        """Register an UNPUBLISHED analysis; its files get object ids."""
        self._authorize_write(principal, study, "(new analysis)", "registering an analysis")
        return await anyio.to_thread.run_sync(self._store.submit, study, payload)

    async def analysis(self, study: str, analysis_id: str) -> AnalysisRow:
        """Read one analysis."""
        return await anyio.to_thread.run_sync(self._store.analysis, study, analysis_id)

    async def set_state(self, principal: Principal, study: str, analysis_id: str, state: AnalysisState) -> AnalysisRow:
        """Publish (after checking the store), unpublish or suppress.

        Raises:
            ConflictError: publishing with files missing or differing in the store.
        """
        self._authorize_write(principal, study, analysis_id, _STATE_VERBS[state])
        current = await self.analysis(study, analysis_id)
        if state is AnalysisState.PUBLISHED:
            problems = [p for f in current.files if (p := await self._publish_problem(f))]
            if problems:
                raise ConflictError("cannot publish: " + "; ".join(problems[:10]))
        return await anyio.to_thread.run_sync(self._store.set_state, study, analysis_id, state)

    async def _publish_problem(self, f: FileRow) -> str | None:
        spec = await self._state.object_spec(f.object_id)
        if spec is None:
            return f"{f.name} ({f.object_id}) has not been uploaded"
        if spec.objectSize != f.size:
            return f"{f.name} has {spec.objectSize} bytes in the store, {f.size} registered"
        if spec.objectMd5 and spec.objectMd5 != f.md5:
            return f"{f.name} has MD5 {spec.objectMd5} in the store, {f.md5} registered"
        return None

    async def entity(self, object_id: str) -> FileRow:
        """One file by object id.

        Raises:
            NotFoundError: unknown object id.
        """
        f = await anyio.to_thread.run_sync(self._store.entity, object_id)
        if f is None:
            raise NotFoundError(f"entity {object_id[:64]!r} not found")
        return f

    async def entities(
        self, analysis_id: str | None, study: str | None, page: int, size: int
    ) -> tuple[list[FileRow], int]:
        """A page of files."""
        return await anyio.to_thread.run_sync(self._store.entities, analysis_id, study, page, min(size, MAX_PAGE))
