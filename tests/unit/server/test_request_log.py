"""The request log and request metrics of the app, in process (httpx's ASGI transport, no sockets)."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from score.config.settings import load_server_settings
from score.server.app import create_app


def _requests_counted(metrics_text: str, route: str) -> dict[str, float]:
    return {
        s.labels["status"]: s.value
        for family in text_string_to_metric_families(metrics_text)
        for s in family.samples
        if s.name == "score_http_requests_total" and s.labels["route"] == route
    }


def test_unhandled_errors_are_logged_and_counted_as_500(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 20, defect 9: an unhandled error was logged and counted with status 0."""
    app = create_app(load_server_settings(None, data_dir=tmp_path / "data"))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    async def run() -> tuple[httpx.Response, str]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://score") as client:
            return await client.get("/boom"), (await client.get("/metrics")).text

    with caplog.at_level(logging.INFO, logger="score.access"):
        answer, metrics = anyio.run(run)
    assert answer.status_code == 500
    assert answer.json() == {"code": "internal", "message": "internal server error", "retryable": True}
    logged = [r for r in caplog.records if r.name == "score.access" and getattr(r, "fields", {}).get("path") == "/boom"]
    assert [r.fields["status"] for r in logged] == [500]  # type: ignore[attr-defined]
    assert _requests_counted(metrics, "/boom") == {"500": 1.0}
