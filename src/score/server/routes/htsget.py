"""GA4GH htsget 1.3 for reads and variants: tickets (GET, POST with regions) and service-info.

Service-info answers at the API's root (``/ga4gh/htsget/v1/service-info``, where GA4GH's service-info
clients look) and per datatype (``/reads/service-info``, ``/variants/service-info``, htsget's own). A
ticket's pre-signed URLs expire at its ``Expires`` header (htsget's ticket has no field for it).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from score import __version__
from score.domain import errors as e
from score.domain.model import Principal
from score.formats.pieces import MAX_POSITION, UNPLACED, Wanted
from score.server.deps import CurrentPrincipal, HtsgetSvc
from score.server.errors import HtsgetRoute
from score.server.openapi import HTSGET, HTSGET_MEDIA_TYPE, ObjectIdPath, errors, expiry_headers, signed_urls
from score.services.htsget import HtsgetService, Ticket
from score.services.htsget import Request as TicketRequest
from score.wire.schemas import ErrorBody, HtsgetTicket

PREFIX = "/ga4gh/htsget/v1"


class HtsgetResponse(JSONResponse):
    """JSON in htsget's media type (tickets, service-info)."""

    media_type = HTSGET_MEDIA_TYPE


router = APIRouter(
    prefix=PREFIX, tags=["htsget"], default_response_class=HtsgetResponse, route_class=HtsgetRoute
)  # errors in htsget's shape
TICKET_RESPONSES = signed_urls(
    HtsgetTicket,
    "The ticket: pre-signed byte ranges of the object and inline data",
    errors(400, 401, 403, 404, 409, 503, shape=HTSGET),
)


class RegionIn(BaseModel):
    """One region of a POST body."""

    model_config = ConfigDict(extra="ignore")
    referenceName: str
    start: int | None = None
    end: int | None = None


class TicketIn(BaseModel):
    """The POST body of htsget 1.3."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    format: str | None = None
    klass: str | None = Field(default=None, alias="class")
    fields: list[str] | None = None
    tags: list[str] | None = None
    notags: list[str] | None = None
    regions: list[RegionIn] | None = None


MAX_UINT32 = (1 << 32) - 1  # htsget's start and end are 32-bit unsigned
# GET's query parameters, which a POST must not use (htsget 1.3: "POST requests MUST NOT use any of the query
# parameters defined for GET"); besides format, none may go with class=header
GET_PARAMETERS = ("format", "class", "referenceName", "start", "end", "fields", "tags", "notags")


def wanted(name: str, start: int | None, end: int | None, *, empty_is_invalid: bool = False) -> Wanted:
    """One region, checked as htsget asks (0-based, half-open, 32-bit unsigned; ``*`` takes no coordinates);
    *empty_is_invalid*: ``start == end`` is InvalidRange too (POST's rule; GET's is only ``start > end``).

    Raises:
        InvalidRequestError / RangeNotSatisfiableError (htsget's InvalidInput / InvalidRange).
    """
    if not name:
        raise e.InvalidRequestError("referenceName must not be empty")
    if name == UNPLACED and (start is not None or end is not None):
        raise e.InvalidRequestError("referenceName '*' (unplaced reads) takes no start or end")
    for value, what in ((start, "start"), (end, "end")):
        if value is not None and not 0 <= value <= MAX_UINT32:
            raise e.RangeNotSatisfiableError(f"{what} must be between 0 and {MAX_UINT32}")
    if start is not None and end is not None and (start > end or (empty_is_invalid and start == end)):
        relation = "greater than" if start > end else "equal to"
        raise e.RangeNotSatisfiableError(f"start {start} is {relation} end {end}")
    # positions past 2**31 - 1 are past the end of any contig BAI, CSI or CRAI can index
    lo, hi = min(start or 0, MAX_POSITION), MAX_POSITION if end is None else min(end, MAX_POSITION)
    return Wanted(name, lo, hi)


def check_options(
    klass: str | None, fields: list[str] | None, tags: list[str] | None, notags: list[str] | None, *, region: str | None
) -> None:
    """The rules between htsget parameters: ``class=header`` takes nothing but format; tags and notags are disjoint.
    *region* names the region parameter given (referenceName for GET, regions for POST), None when none is.

    Raises:
        InvalidRequestError (htsget's InvalidInput).
    """
    if klass == "header":
        given = [region] if region else []
        given += [n for n, v in (("fields", fields), ("tags", tags), ("notags", notags)) if v is not None]
        if given:
            raise e.InvalidRequestError(f"class=header takes no other parameter than format; drop {', '.join(given)}")
    both = sorted(set(tags or ()) & set(notags or ()))
    if both:
        raise e.InvalidRequestError(f"tags and notags must not share a tag: {', '.join(both)}")


def _split(value: str | None) -> list[str] | None:
    """A GET list parameter (comma-separated), None when absent."""
    return None if value is None else [x for x in value.split(",") if x]


def _ticket(ticket: Ticket) -> JSONResponse:
    return HtsgetResponse(ticket.body, headers=expiry_headers(ticket.expires_at))


_KINDS = {
    "reads": (["BAM", "CRAM"], "Slices of BAM and CRAM objects"),
    "variants": (["VCF", "BCF"], "Slices of bgzipped VCF and BCF objects"),
    "": (["BAM", "CRAM", "VCF", "BCF"], "Slices of BAM and CRAM (reads) and bgzipped VCF and BCF (variants) objects"),
}


def _service_info(datatype: str) -> JSONResponse:
    """GA4GH service-info with htsget's block; *datatype* "" is the root's (both datatypes)."""
    formats, what = _KINDS[datatype]
    block: dict[str, Any] = {"datatype": datatype} if datatype else {}
    return HtsgetResponse(
        {
            "id": "org.overture.score.htsget" + (f".{datatype}" if datatype else ""),
            "name": "Score htsget" + (f" ({datatype})" if datatype else ""),
            "type": {"group": "org.ga4gh", "artifact": "htsget", "version": "1.3.0"},
            "description": f"{what} as pre-signed byte ranges of the object store",
            "organization": {"name": "Score", "url": "https://github.com/overture-stack/score"},
            "version": __version__,
            "htsget": {
                **block,
                "formats": formats,
                "fieldsParameterEffective": False,  # htsget 1.3 spells it so (and "tagsParameters")
                "tagsParametersEffective": False,
            },
        }
    )


def _get_only() -> JSONResponse:
    """A 405 for a service-info path, which ``POST /{datatype}/{id}`` would otherwise take for an id."""
    body = ErrorBody(code="method_not_allowed", message="service-info answers GET only")
    return JSONResponse(body.model_dump(), status_code=405, headers={"Allow": "GET"})


@router.get("/service-info", responses=errors())
async def root_service_info() -> JSONResponse:
    """GA4GH service-info of the whole htsget API (reads and variants), where GA4GH clients look first."""
    return _service_info("")


@router.get("/reads/service-info", responses=errors())
async def service_info() -> JSONResponse:
    """GA4GH service-info with htsget's block (reads)."""
    return _service_info("reads")


@router.get("/variants/service-info", responses=errors())
async def variants_service_info() -> JSONResponse:
    """GA4GH service-info with htsget's block (variants)."""
    return _service_info("variants")


@router.post("/reads/service-info", include_in_schema=False)
@router.post("/variants/service-info", include_in_schema=False)
async def post_service_info() -> JSONResponse:
    """405, not a ticket for the object id "service-info" (a 400)."""
    return _get_only()


async def _get(
    datatype: str,
    object_id: str,
    principal: Principal,
    svc: HtsgetService,
    format: str | None,  # noqa: A002
    klass: str | None,
    name: str | None,
    start: int | None,
    end: int | None,
    fields: str | None = None,
    tags: str | None = None,
    notags: str | None = None,
) -> JSONResponse:
    if name is None and (start is not None or end is not None):
        raise e.InvalidRequestError("start and end need referenceName")
    check_options(klass, _split(fields), _split(tags), _split(notags), region=None if name is None else "referenceName")
    regions = None if name is None else (wanted(name, start, end),)
    return _ticket(await svc.ticket(principal, TicketRequest(object_id, format, klass, regions, datatype)))


async def _post(
    datatype: str, object_id: str, principal: Principal, svc: HtsgetService, body: TicketIn | None, query: list[str]
) -> JSONResponse:
    misplaced = [name for name in GET_PARAMETERS if name in query]
    if misplaced:
        raise e.InvalidRequestError(
            f"a POST takes its parameters in the JSON body, not the query string: move {', '.join(misplaced)}"
        )
    body = body or TicketIn()
    check_options(body.klass, body.fields, body.tags, body.notags, region=None if body.regions is None else "regions")
    regions = None
    if body.regions is not None:
        if not body.regions:
            raise e.InvalidRequestError("regions must not be empty when given")
        regions = tuple(wanted(r.referenceName, r.start, r.end, empty_is_invalid=True) for r in body.regions)
    return _ticket(await svc.ticket(principal, TicketRequest(object_id, body.format, body.klass, regions, datatype)))


def _add_ticket_routes(datatype: str) -> None:
    """``GET`` and ``POST /{datatype}/{id}``: the same handlers for reads and variants."""

    async def ticket_get(
        object_id: ObjectIdPath,
        principal: CurrentPrincipal,
        svc: HtsgetSvc,
        format: Annotated[str | None, Query()] = None,  # noqa: A002 - htsget's name
        klass: Annotated[str | None, Query(alias="class")] = None,
        referenceName: Annotated[str | None, Query()] = None,  # noqa: N803
        start: Annotated[int | None, Query()] = None,
        end: Annotated[int | None, Query()] = None,
        fields: Annotated[str | None, Query()] = None,
        tags: Annotated[str | None, Query()] = None,
        notags: Annotated[str | None, Query()] = None,
    ) -> JSONResponse:
        """A ticket for the whole file, its header, or one region (fields, tags and notags are checked, then
        ignored: whole records are sent).
        """
        return await _get(
            datatype, object_id, principal, svc, format, klass, referenceName, start, end, fields, tags, notags
        )

    async def ticket_post(
        object_id: ObjectIdPath,
        principal: CurrentPrincipal,
        svc: HtsgetSvc,
        request: Request,
        body: Annotated[TicketIn | None, Body()] = None,
    ) -> JSONResponse:
        """A ticket for several regions at once (htsget 1.3); overlapping regions are merged, file order kept."""
        return await _post(datatype, object_id, principal, svc, body, list(request.query_params))

    router.add_api_route(
        f"/{datatype}/{{object_id}}", ticket_get, methods=["GET"], name=f"{datatype}_get", responses=TICKET_RESPONSES
    )
    router.add_api_route(
        f"/{datatype}/{{object_id}}", ticket_post, methods=["POST"], name=f"{datatype}_post", responses=TICKET_RESPONSES
    )


_add_ticket_routes("reads")
_add_ticket_routes("variants")
