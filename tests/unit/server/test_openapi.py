"""The OpenAPI document tells the truth, and routing errors keep their headers (issue 20, fuzzing tier).

In process (httpx's ASGI transport, no sockets); ``tests/fuzz`` checks the same against a live server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from score.config.settings import load_server_settings
from score.server.app import create_app
from score.server.openapi import HTSGET_MEDIA_TYPE

OID = "3cf3a3f6-66f0-4c5a-8780-7a18bb3f39cd"


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    """The app with the embedded registry (every router mounted)."""
    settings = load_server_settings(None, data_dir=tmp_path / "data")
    return create_app(
        settings.model_copy(update={"metadata": settings.metadata.model_copy(update={"kind": "registry"})})
    )


def _call(app: FastAPI, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def run() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://score") as client:
            return await client.request(method, path, **kwargs)

    return anyio.run(run)


def _allow(r: httpx.Response) -> set[str]:
    return {m.strip() for m in r.headers["allow"].split(",")} - {"HEAD"}


def test_a_405_names_every_method_of_the_path(app: FastAPI) -> None:
    """Issue 20: a 405 had no Allow (the error handler dropped it), and Starlette's named one route's methods."""
    r = _call(app, "PUT", f"/upload/{OID}")
    assert r.status_code == 405
    assert _allow(r) == {"GET", "POST", "DELETE"}
    assert r.json()["code"] == "method_not_allowed"
    r = _call(app, "PATCH", f"/upload/{OID}/parts")
    assert (r.status_code, _allow(r)) == (405, {"POST", "DELETE"})


def test_a_405_in_drs_keeps_drs_shape_and_allow(app: FastAPI) -> None:
    r = _call(app, "PUT", f"/ga4gh/drs/v1/objects/{OID}")
    assert r.status_code == 405
    assert _allow(r) == {"GET", "POST", "OPTIONS"}
    assert r.json() == {"msg": "Method Not Allowed", "status_code": 405}


@pytest.mark.parametrize("datatype", ["reads", "variants"])
def test_a_body_that_is_not_json_is_htsgets_invalid_input(app: FastAPI, datatype: str) -> None:
    """Found by the fuzzer: a malformed POST body got Score's error shape (``http_error``) on an htsget route."""
    r = _call(
        app,
        "POST",
        f"/ga4gh/htsget/v1/{datatype}/{OID}",
        content=b"]\xff\x01",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400
    assert r.headers["content-type"] == HTSGET_MEDIA_TYPE
    assert r.json()["htsget"]["error"] == "InvalidInput"


def test_a_body_that_is_not_json_is_an_invalid_request_elsewhere(app: FastAPI) -> None:
    r = _call(app, "POST", "/submit/ABC", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_request"
    r = _call(app, "POST", f"/ga4gh/drs/v1/objects/{OID}", content=b"{", headers={"content-type": "application/json"})
    assert (r.status_code, r.json()["status_code"]) == (400, 400)


def test_object_ids_are_documented_as_uuids_and_malformed_ones_keep_our_400(app: FastAPI) -> None:
    doc = app.openapi()
    for path in (
        "/upload/{object_id}",
        "/download/{object_id}",
        "/ga4gh/htsget/v1/reads/{object_id}",
        "/entities/{object_id}",
    ):
        for operation in doc["paths"][path].values():
            (param,) = [p for p in operation["parameters"] if p["name"] == "object_id"]
            assert (param["schema"]["type"], param["schema"]["format"]) == ("string", "uuid")
    r = _call(app, "GET", "/download/not-a-uuid")
    assert r.status_code == 400
    assert r.json() == {
        "code": "invalid_request",
        "message": "invalid object id 'not-a-uuid': expected a UUID",
        "retryable": False,
    }


def test_every_operation_declares_its_errors_in_its_own_shape(app: FastAPI) -> None:
    doc = app.openapi()
    refs = {}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "431" in responses, (method, path)
            for status, response in responses.items():
                for media in response.get("content", {}).values():
                    refs[(method, path, status)] = media.get("schema", {}).get("$ref", "")
    assert "HTTPValidationError" not in doc["components"]["schemas"]  # parameter errors are 400s here
    assert not any(r.endswith("HTTPValidationError") for r in refs.values())
    assert refs[("post", "/upload/{object_id}", "422")].endswith("/ErrorBody")
    assert refs[("get", "/ga4gh/htsget/v1/reads/{object_id}", "404")].endswith("/HtsgetErrorBody")
    assert refs[("get", "/ga4gh/drs/v1/objects/{object_id}", "401")].endswith("/DrsErrorBody")
    assert doc["paths"]["/download/{object_id}"]["get"]["responses"]["401"]["headers"]["WWW-Authenticate"]
    assert doc["paths"]["/download/ping"]["get"]["responses"]["503"]["headers"]["Retry-After"]
    assert set(doc["paths"]["/download/ping"]["get"]["responses"]) == {"200", "431", "503", "507"}


def test_responses_with_signed_urls_document_their_expiry_header_and_ga4gh_shapes(app: FastAPI) -> None:
    """Issue 22: DRS access URLs and htsget tickets say when their URLs expire (``Expires``); the bodies are
    GA4GH's (no field of ours), documented with their schemas; htsget's service-info is at the API's root too."""
    doc = app.openapi()
    for method, path, model in (
        ("get", "/ga4gh/htsget/v1/reads/{object_id}", "HtsgetTicket"),
        ("post", "/ga4gh/htsget/v1/variants/{object_id}", "HtsgetTicket"),
        ("get", "/ga4gh/drs/v1/objects/{object_id}/access/{access_id}", "DrsAccessUrl"),
        ("post", "/ga4gh/drs/v1/objects/{object_id}/access/{access_id}", "DrsAccessUrl"),
    ):
        ok = doc["paths"][path][method]["responses"]["200"]
        assert set(ok["headers"]) == {"Expires", "Cache-Control"}, (method, path)
        assert [m["schema"]["$ref"].rsplit("/", 1)[1] for m in ok["content"].values()] == [model], (method, path)
    blob = doc["paths"]["/ga4gh/drs/v1/objects/{object_id}"]["get"]["responses"]["200"]
    assert blob["content"]["application/json"]["schema"]["$ref"].endswith("/DrsObject")
    assert "get" in doc["paths"]["/ga4gh/htsget/v1/service-info"]
    assert "post" not in doc["paths"]["/ga4gh/htsget/v1/reads/service-info"]  # the 405 is no operation
