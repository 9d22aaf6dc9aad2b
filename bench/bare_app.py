"""A bare FastAPI app answering ``GET /download/ping`` with a constant string, served by uvicorn exactly as
score-server serves its app (h11 with the same request-head cap, no access log, no server header, no proxy
headers, the same number of workers): the floor ``bench/control_plane.py`` compares ``/download/ping`` with.

    .venv/bin/python bench/bare_app.py PORT [WORKERS]
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from score.config.settings import ServerSettings
from score.server.limits import HeadCappedH11Protocol

URL = "http://127.0.0.1:5431/_store/data/heliograph?expires=1&signature=0123456789abcdef"


def create() -> FastAPI:
    """The app: one route, no middleware of ours."""
    app = FastAPI()

    @app.get("/download/ping", response_class=PlainTextResponse)
    async def ping() -> str:
        return URL

    return app


def main(argv: list[str]) -> int:
    """Serve on 127.0.0.1:*PORT* with *WORKERS* processes (1 by default)."""
    port, workers = int(argv[0]), int(argv[1]) if len(argv) > 1 else 1
    uvicorn.run(
        "bare_app:create",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers if workers > 1 else None,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        http=HeadCappedH11Protocol,
        h11_max_incomplete_event_size=ServerSettings().max_header_bytes,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
