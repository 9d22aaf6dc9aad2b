"""A throw-away PostgreSQL cluster from Debian's packages (``initdb`` + ``pg_ctl``) on a free 127.0.0.1 port.

The cluster lives in a temporary directory and listens on loopback only, with ``trust`` authentication for
its one superuser; :meth:`Postgres.stop` stops it and removes the directory. PostgreSQL refuses to run as
root, so under root the cluster belongs to the ``postgres`` account (Debian's package creates it) and its
programs run through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from tests.kit.servers import free_port

SUPERUSER = "score"


def bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding ``initdb``, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def available() -> bool:
    """True when Debian's PostgreSQL server is installed (``scripts/setup`` installs it)."""
    return bin_dir() is not None


class Postgres:
    """One cluster; :meth:`database` hands out fresh, empty databases in it."""

    def __init__(self) -> None:
        """Prepare; :meth:`start` brings it up."""
        found = bin_dir()
        if found is None:
            raise RuntimeError("PostgreSQL is not installed: run scripts/setup (apt: postgresql)")
        self.bin = found
        self.dir = Path(tempfile.mkdtemp(prefix="score-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, tool: str, *args: str, timeout: float = 120) -> str:
        cmd = [*self._as, str(self.bin / tool), *args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.dir)
        if r.returncode != 0:
            log = self.dir / "postgres.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}\n{tail}")
        return r.stdout

    def start(self) -> Postgres:
        """``initdb`` (no fsync: a test cluster), then :meth:`resume`."""
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "-A", "trust", "--no-sync", "-E", "UTF8")
        self.resume()
        return self

    def url(self, database: str = "postgres") -> str:
        """The libpq URL of *database* (no password: ``trust`` on loopback)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """A new empty database's URL."""
        name = "t_" + uuid.uuid4().hex[:12]
        self.sql(f"CREATE DATABASE {name}")
        return self.url(name)

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement with ``psql`` and return its unaligned output."""
        return self._run(
            "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.url(database), "-c", statement
        )

    def halt(self) -> None:
        """Stop the server, cutting every connection (fast shutdown), keeping its data: :meth:`resume` brings it back.

        Not ``immediate``: with ``synchronous_commit=off`` that could drop the last commits, which a test of an
        outage would then see as lost writes.
        """
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        """``pg_ctl start`` (again, after :meth:`halt`) on the same port and data, waiting until it accepts
        connections; no fsync or full-page writes: a test cluster.
        """
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "postgres.log"), "-w", "start")

    def stop(self) -> None:
        """Stop the cluster (fast shutdown) and remove its directory."""
        if (self.data / "postmaster.pid").exists():
            cmd = [*self._as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]
            subprocess.run(cmd, capture_output=True, timeout=60, cwd=self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)
