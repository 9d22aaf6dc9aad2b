"""score-client's fixed cost stays small (issue 23): ``version`` and ``--help`` import no command module and
none of httpx, pysam, rich or pydantic; a command imports its own module only. What is imported is checked,
never how long it takes (``bench/startup.py`` times it). Each case runs ``client_main.main`` in a fresh
Python (``-c``), as tests/unit/wire/test_client_models.py does: a module imported once stays imported.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("httpx", "httpcore", "h11", "pysam", "rich", "pydantic", "fastapi", "click", "mfusepy")
COMMAND_MODULES = (
    "score.cli.client_download",
    "score.cli.client_upload",
    "score.cli.client_view",
    "score.cli.client_mount",
    "score.client.transfer",
    "score.slicing",
    "score.fuse",
    "score.rangeio",
)

PROBE = """
import contextlib, json, sys
from score.cli import client_main
with contextlib.suppress(SystemExit):
    code = client_main.main(sys.argv[1:])
imported = sorted(name for name, module in sys.modules.items() if module is not None)  # None: blocked
sys.__stdout__.write("\\n@@" + json.dumps(imported) + "\\n")
"""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _modules(argv: list[str], tmp_path: Path, server_url: str | None = None) -> set[str]:
    """The modules imported by ``score-client *argv*`` (no config file, no token, no proxy)."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and not k.startswith("SCORE_")}
    for name in ("STORAGE_URL", "ACCESSTOKEN", "CLIENT_ACCESSTOKEN", "METADATA_URL", "STORAGE_PROFILE"):
        env.pop(name, None)
    env |= {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    env["STORAGE_URL"] = server_url or f"http://127.0.0.1:{_closed_port()}"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    assert "@@" in done.stdout, done.stdout + done.stderr
    modules: list[str] = json.loads(done.stdout.rsplit("@@", 1)[1])
    return set(modules)


def _loaded(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m in prefixes or m.startswith(tuple(p + "." for p in prefixes)))


@pytest.mark.parametrize("argv", [["version"], ["--help"], ["help"], ["--version"]])
def test_version_and_help_import_nothing_heavy(argv: list[str], tmp_path: Path) -> None:
    modules = _modules(argv, tmp_path)
    assert "score.cli.client_main" in modules
    assert _loaded(modules, HEAVY) == []
    assert _loaded(modules, COMMAND_MODULES) == []


def test_version_asks_a_plain_http_server_without_ssl_or_http_client(tmp_path: Path) -> None:
    """The /health of an http:// server needs no TLS context, so neither ssl nor http.client is imported."""
    modules = _modules(["version"], tmp_path)
    assert _loaded(modules, ("ssl", "http.client", "email", "tomllib")) == []
    assert "score.client.http.server_health" in modules  # it did ask


@pytest.mark.parametrize(
    ("command", "own", "others"),
    [
        ("download", "score.cli.client_download", ("score.cli.client_view", "score.cli.client_mount", "pysam")),
        ("view", "score.cli.client_view", ("score.cli.client_download", "score.cli.client_mount")),
        (
            "upload",
            "score.cli.client_manifest",
            ("score.cli.client_view", "score.cli.client_mount", "pysam"),
        ),  # flags of main
    ],
)
def test_a_command_imports_its_own_module_only(command: str, own: str, others: tuple[str, ...], tmp_path: Path) -> None:
    modules = _modules([command, "--help"], tmp_path)
    assert own in modules
    assert _loaded(modules, others) == []


def test_a_transfer_imports_httpx_without_its_command_line(tmp_path: Path) -> None:
    """httpx's __init__ would import its CLI (click, rich, pygments) when installed; score-client blocks it."""
    oid = "9a0b3a8e-3f1f-5d0e-9c7e-8e5f0d3b1a2c"
    modules = _modules(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], tmp_path)
    assert "httpx" in modules  # it tried (the server's port is closed)
    assert _loaded(modules, ("rich", "click", "pygments", "httpx._main")) == []
