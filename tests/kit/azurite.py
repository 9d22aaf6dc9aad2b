"""Start and stop a throw-away Azurite (Azure Blob emulator, npm azurite 3.35.0) on a free loopback port."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.kit.daemon import start_daemon, stop_daemon
from tests.kit.servers import free_port

ROOT = Path(__file__).resolve().parent / "azurite"
BINARY = ROOT / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
# Azurite's published development key (the same in every Azurite); not a secret.
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
API_VERSION = "2025-01-05"  # Azurite 3.35 refuses the SDK's newer default


def available() -> bool:
    """True when scripts/setup has installed Azurite."""
    return BINARY.exists()


class Azurite:
    """One Azurite blob service with its data in a temporary directory."""

    def __init__(self) -> None:
        """Prepare; :meth:`start` launches it."""
        self.dir = Path(tempfile.mkdtemp(prefix="score-azurite-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """The account URL (Azurite puts the account name in the path)."""
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    def start(self, timeout: float = 30.0) -> Azurite:
        """Launch (telemetry off, loopback only) and wait until it accepts connections."""
        cmd = [
            str(BINARY),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(self.port),
            "--location",
            str(self.dir / "data"),
            "--disableTelemetry",
            "--silent",
        ]
        self.proc = start_daemon(cmd, self.dir / "azurite.log", self.port, "azurite", timeout)
        return self

    def stop(self) -> None:
        """Stop it and remove its data."""
        stop_daemon(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)

    def service(self) -> Any:
        """A BlobServiceClient with the account key (for tests that look at the store directly)."""
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient(
            self.endpoint, credential={"account_name": ACCOUNT, "account_key": ACCOUNT_KEY}, api_version=API_VERSION
        )

    def settings(self, container: str, **extra: Any) -> dict[str, Any]:
        """Storage settings (as keyword arguments of AzureStorageSettings) for this emulator."""
        return {
            "kind": "azure",
            "account_name": ACCOUNT,
            "account_key": ACCOUNT_KEY,
            "endpoint": self.endpoint,
            "container": container,
            "api_version": API_VERSION,
            **extra,
        }

    def server_env(self, container: str, **extra: str) -> dict[str, str]:
        """Environment for a score-server on this emulator."""
        env = {f"SCORE_STORAGE__{k.upper()}": str(v) for k, v in self.settings(container).items()}
        env["SCORE_STORAGE__CREATE_BUCKETS"] = "true"
        env.update(extra)
        return env
