"""``score-client version`` against a live score-server (issue 23): it shows the server UP without importing
httpx or ssl (its ``/health`` is asked over a socket of its own for a plain http:// URL). What is imported is
checked, never the time (``bench/startup.py`` times it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from score import __version__

pytestmark = pytest.mark.e2e

PROBE = """
import contextlib, json, sys
from score.cli import client_main
with contextlib.suppress(SystemExit):
    client_main.main(sys.argv[1:])
imported = sorted(name for name, module in sys.modules.items() if module is not None)
sys.__stdout__.write("\\n@@" + json.dumps(imported) + "\\n")
"""


def test_version_against_a_live_server_imports_no_http_stack(server_factory: Any, tmp_path: Path) -> None:
    srv = server_factory()
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and not k.startswith("SCORE_")}
    env |= {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"), "STORAGE_URL": srv.url}
    env.pop("ACCESSTOKEN", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "version"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    out, _, modules = done.stdout.rpartition("@@")
    assert f"server:        UP, version {__version__}" in out, done.stdout + done.stderr
    heavy = [m for m in json.loads(modules) if m.split(".")[0] in ("httpx", "httpcore", "h11", "ssl", "pysam", "rich")]
    assert heavy == []
