"""The API's documentation page, ``/docs`` (Swagger UI), served with its assets from this server.

FastAPI's own ``/docs`` loads Swagger UI's JavaScript and CSS from a public CDN, so on a platform without internet
access (most controlled-data environments) it is a blank page. Here the assets come from PyPI's
``swagger-ui-bundle-v2`` (Swagger UI's ``dist`` files and their Apache-2.0 licence, a dependency of the ``server``
extra) and are served under ``/docs/assets/``: the page references nothing but its own origin.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

from score.domain.errors import ConfigError

DOCS_URL = "/docs"
ASSETS_URL = f"{DOCS_URL}/assets"
OAUTH2_REDIRECT_URL = f"{DOCS_URL}/oauth2-redirect"
# The files the page loads; nothing else of the bundle is served.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}


def swagger_ui_dir() -> Path:
    """The directory of Swagger UI's files in the installed ``swagger-ui-bundle-v2``.

    Raises:
        ConfigError: the package is missing or holds no Swagger UI (install the ``server`` extra).
    """
    try:
        vendor = Path(str(files("swagger_ui_bundle") / "vendor"))
    except ModuleNotFoundError as exc:
        raise ConfigError(
            "Swagger UI's files are missing: install score's server extra (swagger-ui-bundle-v2)"
        ) from exc
    found = sorted(vendor.glob("swagger-ui-*/swagger-ui-bundle.js")) if vendor.is_dir() else []
    if not found:
        raise ConfigError(f"no Swagger UI in {vendor}: reinstall score's server extra (swagger-ui-bundle-v2)")
    return found[-1].parent


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and its assets from *app* (build the app with ``docs_url=None``)."""
    assets = swagger_ui_dir()
    title = f"{app.title} - Swagger UI"

    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon-32x32.png",
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
        )

    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def asset(name: str) -> FileResponse:
        media_type = ASSETS.get(name)
        if media_type is None:
            raise HTTPException(status_code=404, detail="Not Found")
        # The files change only with the installed package: a day of caching spares every reload 1.7 MB.
        return FileResponse(assets / name, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})

    app.add_api_route(DOCS_URL, docs, methods=["GET"], include_in_schema=False)
    app.add_api_route(OAUTH2_REDIRECT_URL, oauth2_redirect, methods=["GET"], include_in_schema=False)
    app.add_api_route(f"{ASSETS_URL}/{{name}}", asset, methods=["GET"], include_in_schema=False)
