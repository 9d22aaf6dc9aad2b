"""The client's plain wire classes against the server's pydantic schemas: same fields, same values."""

from __future__ import annotations

import dataclasses
import typing
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from score.client.http.server_api import ServerApi
from score.domain import errors as e
from score.wire import client_models, schemas

PAIRS = [
    (schemas.Part, client_models.Part),
    (schemas.ObjectSpecification, client_models.ObjectSpecification),
    (schemas.UploadProgress, client_models.UploadProgress),
    (schemas.PartUrl, client_models.PartUrl),
    (schemas.ObjectInfoOut, client_models.ObjectInfoOut),
    (schemas.ErrorBody, client_models.ErrorBody),
    (schemas.ObjectError, client_models.ObjectError),
    (schemas.DownloadSpecs, client_models.DownloadSpecs),
]

WHEN = datetime(2026, 11, 25, 3, 4, 5, 678000, tzinfo=UTC)
PART = schemas.Part(partNumber=2, partSize=10, offset=10, url="http://s/x?sig=1", md5="a" * 32, sourceMd5="b" * 32)
SAMPLES: list[Any] = [
    PART,
    schemas.Part(partNumber=1, partSize=0, offset=0),
    schemas.ObjectSpecification(
        objectKey="data/x",
        objectId="x",
        uploadId="u",
        parts=[PART],
        objectSize=20,
        objectMd5="c" * 32,
        urlsExpireAt=WHEN,
    ),
    schemas.ObjectSpecification(objectKey="data/x", objectId="x", uploadId="", objectSize=0),
    schemas.UploadProgress(objectId="x", uploadId="u", parts=[PART], objectSize=20, urlsExpireAt=WHEN),
    schemas.UploadProgress(objectId="x", uploadId="u"),
    schemas.PartUrl(
        partNumber=3, partSize=5, offset=20, url="http://s/p", md5="d" * 32, expiresAt=WHEN, etagIsMd5=False
    ),
    schemas.ObjectInfoOut(id="x", lastModified=1764039845000, size=7),
    schemas.ErrorBody(code="not_found", message="no such object", retryable=True),
    schemas.DownloadSpecs(
        specs=[schemas.ObjectSpecification(objectKey="data/x", objectId="x", uploadId="x", objectSize=0)],
        errors=[schemas.ObjectError(objectId="y", status=403, code="forbidden", message="no")],
    ),
    schemas.DownloadSpecs(),
]


def _values(value: Any) -> Any:
    """A model's field values as dicts and lists (model_dump would apply the wire serializers)."""
    if isinstance(value, list):
        return [_values(v) for v in value]
    if isinstance(value, BaseModel):
        return {name: _values(getattr(value, name)) for name in type(value).model_fields}
    return value


def _hints(cls: type) -> dict[str, str]:
    return {k: str(v).replace("typing.", "") for k, v in typing.get_type_hints(cls).items() if k != "model_config"}


@pytest.mark.parametrize(("model", "dc"), PAIRS, ids=[m.__name__ for m, _ in PAIRS])
def test_same_fields_and_types(model: Any, dc: Any) -> None:
    plain_hints = _hints(dc)
    wire_hints = {k: v.replace("schemas.", "client_models.") for k, v in _hints(model).items()}
    assert plain_hints == wire_hints
    required = {
        f.name
        for f in dataclasses.fields(dc)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    assert required == {name for name, f in model.model_fields.items() if f.is_required()}


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: type(s).__name__)
def test_what_the_server_sends_parses_to_the_same_values(sample: Any) -> None:
    parsed = getattr(client_models, type(sample).__name__).parse(client_models.loads(sample.model_dump_json()))
    assert dataclasses.asdict(parsed) == _values(sample)


def test_unknown_fields_are_ignored() -> None:
    parsed = client_models.ObjectInfoOut.parse({"id": "x", "lastModified": 1, "size": 2, "storageClass": "GLACIER"})
    assert parsed == client_models.ObjectInfoOut(id="x", lastModified=1, size=2)


@pytest.mark.parametrize(
    "raw",
    [
        [],
        "x",
        {"partNumber": 1, "partSize": 2},
        {"partNumber": "1", "partSize": 2, "offset": 0},
        {"partNumber": True, "partSize": 2, "offset": 0},
        {"partNumber": 1, "partSize": 2, "offset": 0, "url": 5},
    ],
)
def test_a_malformed_part_is_refused(raw: Any) -> None:
    with pytest.raises(client_models.MalformedError):
        client_models.Part.parse(raw)


def test_malformed_times_lists_and_json_are_refused() -> None:
    base = {"objectId": "x", "uploadId": "u"}
    with pytest.raises(client_models.MalformedError, match="urlsExpireAt"):
        client_models.UploadProgress.parse({**base, "urlsExpireAt": "yesterday"})
    with pytest.raises(client_models.MalformedError, match="parts"):
        client_models.UploadProgress.parse({**base, "parts": {"1": {}}})
    with pytest.raises(client_models.MalformedError, match="not JSON"):
        client_models.loads(b"<html>proxy error</html>")
    with pytest.raises(client_models.MalformedError, match="retryable"):
        client_models.ErrorBody.parse({"code": "x", "message": "m", "retryable": "yes"})


def test_the_client_reports_a_body_that_is_not_the_contract() -> None:
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/listing":
            return httpx.Response(200, json={"not": "a list"})
        return httpx.Response(200, text="<html>welcome to the proxy</html>")

    api = ServerApi("http://score.invalid", None, transport=httpx.MockTransport(handler))
    try:
        with pytest.raises(e.UpstreamUnavailableError, match="GET /download/x answered with an unexpected body") as got:
            api.download_spec("x")
        assert not got.value.retryable
        with pytest.raises(e.UpstreamUnavailableError, match="/listing answered with an unexpected body"):
            api.listing()
    finally:
        api.close()


def test_the_client_does_not_import_pydantic_or_the_server() -> None:
    """score-client installs without pydantic (``score`` alone) and starts without paying for it."""
    import subprocess
    import sys

    code = (
        "import sys; import score.cli.client_main, score.client.transfer.download, score.client.transfer.upload, "
        "score.slicing.viewer, score.fuse.catalog, score.fuse.ops; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'fastapi') "
        "or m.startswith(('score.server', 'score.services', 'score.config', 'score.wire.schemas'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
