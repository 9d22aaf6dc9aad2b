"""``/docs`` works without internet access: the page references only its own origin, which serves the assets.

Issue 24: FastAPI's page loaded Swagger UI from a public CDN, a blank page on a platform without internet access.
In process (httpx's ASGI transport); ``tests/integration/test_docs_browser.py`` renders it in a real Chromium.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from score.config.settings import load_server_settings
from score.server.app import create_app
from score.server.docs_page import swagger_ui_dir


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_app(load_server_settings(None, data_dir=tmp_path_factory.mktemp("data")))


def _get(app: FastAPI, path: str, **kwargs: Any) -> httpx.Response:
    async def run() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://score") as client:
            return await client.get(path, **kwargs)

    return anyio.run(run)


def _references(html: str) -> list[str]:
    """Every URL the page loads or links: src=, href=, and the quoted URLs of its inline script."""
    attrs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    quoted = re.findall(r"""["']((?:https?:)?//[^"']+|/[^"'\s]*)["']""", html)
    return sorted(set(attrs) | set(quoted))


def test_docs_references_only_same_origin_assets_and_each_is_served(app: FastAPI) -> None:
    page = _get(app, "/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    refs = _references(page.text)
    assert refs, page.text
    foreign = [r for r in refs if "//" in r or not r.startswith("/")]
    assert foreign == [], f"/docs loads from another origin: {foreign}"
    assert set(refs) == {
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
        "/docs/assets/favicon-32x32.png",
        "/docs/oauth2-redirect",
        "/openapi.json",
    }
    for ref in refs:
        r = _get(app, ref)
        assert r.status_code == 200, ref
        assert r.content, ref


def test_assets_are_swagger_ui_5_with_their_types(app: FastAPI) -> None:
    js = _get(app, "/docs/assets/swagger-ui-bundle.js")
    assert js.headers["content-type"] == "text/javascript; charset=utf-8"
    assert js.content == (swagger_ui_dir() / "swagger-ui-bundle.js").read_bytes()
    assert "max-age" in js.headers["cache-control"]
    css = _get(app, "/docs/assets/swagger-ui.css")
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert b".swagger-ui" in css.content
    # Swagger UI 5 renders OpenAPI 3.1, the version of FastAPI's document (4.x shows "unable to render")
    assert swagger_ui_dir().name.startswith("swagger-ui-5.")
    assert _get(app, "/openapi.json").json()["openapi"].startswith("3.1")


def test_only_the_pages_assets_are_served(app: FastAPI) -> None:
    for path in ("/docs/assets/index.html", "/docs/assets/..%2F..%2F__init__.py", "/docs/assets/swagger-ui.js.map"):
        assert _get(app, path).status_code == 404, path
    assert _get(app, "/redoc").status_code == 404, "ReDoc (a CDN page) is not offered"


def test_the_licence_of_the_served_files_is_installed_with_them() -> None:
    dist = Path(str(swagger_ui_dir())).parents[2]
    licences = list(dist.glob("swagger_ui_bundle_v2-*.dist-info/licenses/LICENSE"))
    assert licences, dist
    assert "Apache License" in licences[0].read_text()
