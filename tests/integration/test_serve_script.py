"""``scripts/serve``, the quick start: its options, its help, and the URL it prints is the one it listens on.

Issue 24: `--help` minted a token first, and `SCORE_PORT=...` started on that port but printed 5431. Under
scripts/test the repository's .venv is complete, so the script installs nothing here.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests.kit.daemon import stop_daemon
from tests.kit.servers import free_port

pytestmark = pytest.mark.integration
SERVE = Path(__file__).resolve().parents[2] / "scripts" / "serve"


def test_help_prints_the_options_and_does_nothing_else(tmp_path: Path) -> None:
    done = subprocess.run([str(SERVE), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith("Usage: scripts/serve [--port PORT] [--host HOST] [--data-dir DIR]")
    for text in ("--port PORT", "SCORE_PORT", "--host HOST", "--data-dir DIR", "submit   --study-id DEMO --files"):
        assert text in done.stdout
    assert "ACCESSTOKEN" not in done.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "message"), [(["--port"], "--port needs a value"), (["--prot", "1"], "unknown")])
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    done = subprocess.run([str(SERVE), *args], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert message in done.stderr


@pytest.fixture
def started() -> Iterator[list[tuple[subprocess.Popen[str], IO[str]]]]:
    """The scripts/serve processes a test started, with their logs, stopped after it."""
    procs: list[tuple[subprocess.Popen[str], IO[str]]] = []
    yield procs
    for proc, log in procs:
        stop_daemon(proc)
        log.close()


def _start(procs: list[tuple[subprocess.Popen[str], IO[str]]], log: Path, args: list[str], env: dict[str, str]) -> str:
    """Run scripts/serve; return what it printed once /health answers on the URL it printed."""
    out = open(log, "w")  # noqa: SIM115 - closed by the fixture, after the process
    proc = subprocess.Popen([str(SERVE), *args], stdout=out, stderr=subprocess.STDOUT, text=True, env=env)
    procs.append((proc, out))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_text()
        url = re.search(r"export STORAGE_URL=(\S+)", text)
        if url:
            try:
                if httpx.get(f"{url.group(1)}/health", timeout=2).status_code == 200:
                    return text
            except httpx.TransportError:
                pass
        assert proc.poll() is None, text
        time.sleep(0.2)
    raise AssertionError(log.read_text())


def test_port_and_data_dir_flags_and_score_port_are_what_it_prints_and_listens_on(
    started: list[tuple[subprocess.Popen[str], IO[str]]], tmp_path: Path
) -> None:
    procs, tmp = started, tmp_path
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCORE_")}
    port = free_port()
    text = _start(procs, tmp / "a.log", ["--port", str(port), "--data-dir", str(tmp / "a")], env)
    assert f"score-server is starting on http://127.0.0.1:{port} (data in {tmp / 'a'};" in text
    assert f"API docs: http://127.0.0.1:{port}/docs" in text
    assert (tmp / "a" / "secrets" / "jwt-signing-key.pem").exists()
    token = re.search(r"export ACCESSTOKEN=(\S+)", text)
    assert token
    # the printed token is signed by this server's key
    ping = httpx.get(f"http://127.0.0.1:{port}/download/ping", timeout=10)
    assert ping.status_code == 200
    r = httpx.get(
        f"http://127.0.0.1:{port}/upload/3cf3a3f6-66f0-4c5a-8780-7a18bb3f39cd/status",
        headers={"Authorization": f"Bearer {token.group(1)}"},
        timeout=10,
    )
    assert r.status_code != 401, r.text
    other = free_port()
    text = _start(procs, tmp / "b.log", ["--data-dir", str(tmp / "b")], {**env, "SCORE_PORT": str(other)})
    assert f"export STORAGE_URL=http://127.0.0.1:{other}\n" in text


def test_a_busy_port_or_an_unwritable_data_dir_is_one_line_before_any_banner(tmp_path: Path) -> None:
    """New-user trial: on a busy port scripts/serve printed the banner and a fresh token, then died with a JSON
    log line (exit 3); a data directory that cannot be written ended in an OSError traceback."""
    import socket

    env = {k: v for k, v in os.environ.items() if not k.startswith("SCORE_")}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        message = f"port {port} on 127.0.0.1 is in use (another score-server?): stop it, or give another --port\n"
        done = subprocess.run(
            [str(SERVE), "--port", str(port), "--data-dir", str(tmp_path / "d")],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert (done.returncode, done.stdout, done.stderr) == (2, "", f"scripts/serve: {message}")
        server = Path(SERVE).parents[1] / ".venv" / "bin" / "score-server"
        direct = subprocess.run(
            [str(server), "serve", "--port", str(port), "--data-dir", str(tmp_path / "d")],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert (direct.returncode, direct.stderr) == (2, f"score-server: {message}")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    for args in (["serve", "--port", str(free_port())], ["token", "--create-key"]):
        r = subprocess.run(
            [str(server), *args, "--data-dir", str(blocker / "data")],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.startswith(f"score-server: cannot write {blocker / 'data'}"), r.stderr
        assert "give a writable --data-dir" in r.stderr
