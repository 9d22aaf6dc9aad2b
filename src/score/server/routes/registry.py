"""The embedded registry's Song-compatible endpoints (mounted when ``metadata.kind = "registry"``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from score.domain.model import AnalysisState
from score.registry import wire
from score.server.deps import AuthenticatedPrincipal
from score.server.deps import RegistrySvc as Svc
from score.server.openapi import ObjectIdPath, errors
from score.services.registry import MAX_PAGE_NUMBER, RegistryService

router = APIRouter(tags=["registry (Song-compatible)"])

STATE_ERRORS = errors(400, 401, 403, 404, 409, 503)


@router.post("/submit/{study}", responses=errors(400, 401, 403, 503))
async def submit(
    study: str, principal: AuthenticatedPrincipal, svc: Svc, payload: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Song's submit: register an analysis (UNPUBLISHED) and mint its files' object ids."""
    a = await svc.submit(principal, study, payload)
    return {"analysisId": a.analysis_id, "status": "OK", "files": [wire.file_json(f) for f in a.files]}


@router.get("/studies/{study}/analysis/{analysis_id}", responses=errors(404))
async def get_analysis(study: str, analysis_id: str, svc: Svc) -> dict[str, Any]:
    """One analysis with its state and files."""
    return wire.analysis_json(await svc.analysis(study, analysis_id))


@router.get("/studies/{study}/analysis/{analysis_id}/files", responses=errors(404))
async def get_files(study: str, analysis_id: str, svc: Svc) -> list[dict[str, Any]]:
    """The analysis's files."""
    return [wire.file_json(f) for f in (await svc.analysis(study, analysis_id)).files]


async def _set(
    principal: Any, svc: RegistryService, study: str, analysis_id: str, state: AnalysisState
) -> dict[str, Any]:
    a = await svc.set_state(principal, study, analysis_id, state)
    return {"analysisId": a.analysis_id, "analysisState": a.state.value, "status": "OK"}


@router.put("/studies/{study}/analysis/publish/{analysis_id}", responses=STATE_ERRORS)
async def publish(study: str, analysis_id: str, principal: AuthenticatedPrincipal, svc: Svc) -> dict[str, Any]:
    """Publish once every file is in the store with its registered size and MD5."""
    return await _set(principal, svc, study, analysis_id, AnalysisState.PUBLISHED)


@router.put("/studies/{study}/analysis/unpublish/{analysis_id}", responses=STATE_ERRORS)
async def unpublish(study: str, analysis_id: str, principal: AuthenticatedPrincipal, svc: Svc) -> dict[str, Any]:
    """Back to UNPUBLISHED (files may be uploaded again)."""
    return await _set(principal, svc, study, analysis_id, AnalysisState.UNPUBLISHED)


@router.put("/studies/{study}/analysis/suppress/{analysis_id}", responses=STATE_ERRORS)
async def suppress(study: str, analysis_id: str, principal: AuthenticatedPrincipal, svc: Svc) -> dict[str, Any]:
    """Withdraw for good."""
    return await _set(principal, svc, study, analysis_id, AnalysisState.SUPPRESSED)


@router.get("/entities/{object_id}", responses=errors(404))
async def get_entity(object_id: ObjectIdPath, svc: Svc) -> dict[str, Any]:
    """Song's legacy entity view of one file."""
    return wire.entity_json(await svc.entity(object_id))


@router.get("/entities", responses=errors(400))
async def find_entities(
    svc: Svc,
    gnosId: str | None = None,  # noqa: N803 - Song's parameter name
    projectCode: str | None = None,  # noqa: N803
    page: Annotated[int, Query(ge=0, le=MAX_PAGE_NUMBER)] = 0,
    size: Annotated[int, Query(ge=1, le=2000)] = 2000,
) -> dict[str, Any]:
    """Files by analysis and/or study, paged as Spring Data pages."""
    rows, total = await svc.entities(gnosId, projectCode, page, size)
    return wire.page_json(rows, total, page, size)
