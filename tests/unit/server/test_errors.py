"""Each router's error format follows its routes, wherever the router is mounted (not the request's path)."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import httpx
import pytest
from fastapi import APIRouter, FastAPI, Query

from score.domain import errors as e
from score.server.errors import DrsRoute, HtsgetRoute, install_error_handlers

htsget = APIRouter(prefix="/elsewhere/reads", route_class=HtsgetRoute)
drs = APIRouter(prefix="/other/drs", route_class=DrsRoute)
score = APIRouter(prefix="/ga4gh/htsget/v1")  # Score's format, under the path htsget has in the real app


@htsget.get("/{object_id}")
async def ticket(object_id: str, start: Annotated[int | None, Query()] = None) -> dict[str, Any]:
    raise e.NotFoundError(f"no object {object_id} from {start}")


@drs.get("/objects/{object_id}")
async def drs_object(object_id: str) -> dict[str, Any]:
    raise e.ForbiddenError(f"not {object_id}")


@score.get("/{object_id}")
async def score_route(object_id: str) -> dict[str, Any]:
    raise e.NotFoundError(f"no {object_id}")


def app() -> FastAPI:
    """Routers mounted at paths the prefix rule of old would have given other formats."""
    application = FastAPI()
    install_error_handlers(application)
    for router in (htsget, drs, score):
        application.include_router(router)
    return application


def get(path: str, method: str = "GET") -> httpx.Response:
    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://test") as client:
            return await client.request(method, path)

    return anyio.run(call)


def test_htsget_routes_mounted_elsewhere_answer_htsget_errors() -> None:
    r = get("/elsewhere/reads/x")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/vnd.ga4gh.htsget.v1.3.0+json")
    assert r.json() == {"htsget": {"error": "NotFound", "message": "no object x from None"}}


def test_parameter_errors_take_the_routes_format() -> None:
    r = get("/elsewhere/reads/x?start=nope")
    assert r.status_code == 400
    assert r.json()["htsget"]["error"] == "InvalidInput"


def test_drs_routes_mounted_elsewhere_answer_drs_errors() -> None:
    r = get("/other/drs/objects/x")
    assert (r.status_code, r.json()) == (403, {"msg": "not x", "status_code": 403})


def test_a_405_takes_the_format_of_the_route_whose_path_matched() -> None:
    r = get("/other/drs/objects/x", "DELETE")
    assert (r.status_code, r.json()["status_code"], r.headers["allow"]) == (405, 405, "GET")


def test_unknown_paths_under_an_api_take_its_format() -> None:
    r = get("/elsewhere/reads/x/y")
    assert r.status_code == 404
    assert r.json() == {"htsget": {"error": "NotFound", "message": "no such htsget endpoint: /elsewhere/reads/x/y"}}
    assert get("/other/drs/objects/x/y").json() == {"msg": "Not Found", "status_code": 404}


@pytest.mark.parametrize("path", ["/ga4gh/htsget/v1/x", "/nowhere"])
def test_everything_else_answers_in_scores_format(path: str) -> None:
    r = get(path)
    assert r.status_code == 404
    assert r.json()["code"] == "not_found" and r.json()["retryable"] is False
