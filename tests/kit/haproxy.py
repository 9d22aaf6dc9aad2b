"""HAProxy from Debian's packages in front of score-server replicas, with ``deploy/haproxy.cfg`` as shipped."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tests.kit.daemon import start_daemon, stop_daemon
from tests.kit.servers import free_port

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "haproxy.cfg"


def available() -> bool:
    """True when ``haproxy`` is installed (``scripts/setup`` installs it)."""
    return shutil.which("haproxy") is not None


class HAProxy:
    """One HAProxy on a free 127.0.0.1 port, balancing over *replicas* (host:port each)."""

    def __init__(self, replicas: Sequence[str]) -> None:
        """Prepare; :meth:`start` brings it up."""
        if len(replicas) != 3:
            raise ValueError("deploy/haproxy.cfg names three replicas")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="score-haproxy-"))
        self.env = {f"SCORE_REPLICA_{i}": r for i, r in enumerate(replicas, start=1)}
        self.env["SCORE_LB_BIND"] = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """What clients use as the server URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HAProxy:
        """Check the configuration, then run HAProxy in the foreground (``-db``) until :meth:`stop`."""
        env = {**os.environ, **self.env}
        check = subprocess.run(["haproxy", "-c", "-f", str(CONFIG)], capture_output=True, text=True, env=env)
        if check.returncode != 0:
            raise RuntimeError(f"deploy/haproxy.cfg is invalid:\n{check.stdout}{check.stderr}")
        cmd = ["haproxy", "-db", "-f", str(CONFIG)]
        self.proc = start_daemon(cmd, self.dir / "haproxy.log", self.port, "haproxy", env=env)
        return self

    def log(self) -> str:
        """What HAProxy printed (server state changes among it)."""
        path = self.dir / "haproxy.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop it and remove its directory."""
        stop_daemon(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)
