"""Start and stop score-server as a real process on 127.0.0.1, on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PYTHON = sys.executable


def free_port() -> int:
    """A port nobody listens on right now (bind to 0 and release)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    """A running score-server."""

    data_dir: Path
    port: int
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def __post_init__(self) -> None:
        """Transfer tests move unregistered object ids, so metadata is off unless a test asks for it."""
        self.env.setdefault("SCORE_METADATA__KIND", "none")

    @property
    def url(self) -> str:
        """Base URL of the API (https when the server has a certificate)."""
        scheme = "https" if self.env.get("SCORE_TLS_CERT") else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> ServerProcess:
        """Launch and wait until /health answers."""
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        env = {**os.environ, **self.env}
        cmd = [
            PYTHON,
            "-m",
            "score.cli.server_main",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"score-server exited early:\n{self.log()}")
            try:
                if httpx.get(self.url + "/health", timeout=1, verify=False).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"score-server did not become healthy:\n{self.log()}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would; :meth:`start` then restarts it on the same port and data."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.kill()
        self.proc.wait(10)

    def log(self) -> str:
        """Everything the server wrote so far."""
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def token(self, *scopes: str, ttl: str = "1h", subject: str | None = None) -> str:
        """A token from this server's embedded issuer."""
        return mint_token(self.data_dir, scopes, ttl, subject)


def mint_token(
    data_dir: Path, scopes: Sequence[str], ttl: str = "1h", subject: str | None = None, *, create_key: bool = False
) -> str:
    """Run ``score-server token`` for *data_dir* (with *create_key*, one that no server has used yet)."""
    cmd = [PYTHON, "-m", "score.cli.server_main", "token", "--data-dir", str(data_dir), "--ttl", ttl]
    if create_key:
        cmd.append("--create-key")
    if subject:
        cmd += ["--subject", subject]
    for s in scopes:
        cmd += ["--scope", s]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=dict(os.environ))
    return out.stdout.strip()


def run_client(
    args: Sequence[str],
    *,
    server: str,
    token: str | None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``score-client`` as a user would, with Score's environment names."""
    full_env = {**os.environ, "STORAGE_URL": server, **(env or {})}
    if token:
        full_env["ACCESSTOKEN"] = token
    return subprocess.run(
        [PYTHON, "-m", "score.cli.client_main", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd,
    )


def start_client(
    args: Sequence[str], *, server: str, token: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[str]:
    """Start ``score-client`` in the background (to be killed)."""
    full_env = {**os.environ, "STORAGE_URL": server, "ACCESSTOKEN": token, **(env or {})}
    return subprocess.Popen(
        [PYTHON, "-m", "score.cli.client_main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        cwd=cwd,
    )


def owner_headers(token: str, object_id: str, path: Path) -> dict[str, str]:
    """The headers of the score-client that uploads *path* as *object_id* (its bearer and upload tokens)."""
    from score.client.transfer.upload import upload_token
    from score.wire.headers import UPLOAD_TOKEN_HEADER

    return {"Authorization": f"Bearer {token}", UPLOAD_TOKEN_HEADER: upload_token(object_id, path)}


def confirmed_parts(srv: ServerProcess, token: str, object_id: str, path: Path) -> int:
    """Parts of the upload of *path* confirmed so far, asked as its score-client (only the owner may ask)."""
    r = httpx.get(
        f"{srv.url}/upload/{object_id}/status",
        params={"fileSize": path.stat().st_size},
        headers=owner_headers(token, object_id, path),
    )
    return sum(1 for p in r.json()["parts"] if p["md5"]) if r.status_code == 200 else 0
