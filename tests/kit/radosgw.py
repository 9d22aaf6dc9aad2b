"""Start and stop a throw-away Ceph radosgw through ``scripts/radosgw`` (tests and bench)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.kit.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "radosgw"
ACCESS_KEY = "test"
SECRET_KEY = "testsecret"


def available() -> bool:
    """True when Debian's Ceph packages are installed."""
    return all(shutil.which(t) for t in ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin"))


class Radosgw:
    """A single-node cluster (memstore OSD) on free loopback ports."""

    def __init__(self, store_gib: int = 4) -> None:
        """Prepare; :meth:`start` brings it up."""
        self.dir = Path(tempfile.mkdtemp(prefix="score-rgw-"))
        self.port = free_port()
        self.mon_port = free_port()
        self.store_gib = store_gib
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def start(self, attempts: int = 2) -> Radosgw:
        """Run ``scripts/radosgw up`` (about 10-15 s); a failed bring-up is retried on new ports."""
        for attempt in range(attempts):
            cmd = [str(SCRIPT), "up", str(self.dir), str(self.port), str(self.mon_port), str(self.store_gib)]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=400)
            if r.returncode == 0:
                return self
            logs = self._logs()
            self.stop()
            if attempt + 1 == attempts:
                raise RuntimeError(f"radosgw did not start:\n{r.stdout}\n{r.stderr}\n{logs}")
            self.port, self.mon_port = free_port(), free_port()
            self.endpoint = f"http://127.0.0.1:{self.port}"
        return self

    def _logs(self) -> str:
        out = []
        for name in ("osd.0.log", "client.rgw.log"):
            path = self.dir / "log" / name
            if path.exists():
                out.append(f"--- {name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-15:]))
        return "\n".join(out)

    def stop(self) -> None:
        """Stop the daemons and remove the cluster's directory."""
        subprocess.run([str(SCRIPT), "down", str(self.dir)], capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)

    def stop_gateway(self) -> None:
        """Stop radosgw alone (SIGTERM, then SIGKILL after 10 s); the cluster, and the data, stay up."""
        r = subprocess.run(
            [str(SCRIPT), "gw-stop", str(self.dir)], capture_output=True, text=True, timeout=30, check=False
        )
        if r.returncode != 0:
            raise RuntimeError(f"radosgw did not stop:\n{r.stderr}")

    def start_gateway(self) -> None:
        """Start radosgw again on the same port, over the same cluster; returns once it answers."""
        r = subprocess.run(
            [str(SCRIPT), "gw-start", str(self.dir)], capture_output=True, text=True, timeout=60, check=False
        )
        if r.returncode != 0:
            raise RuntimeError(f"radosgw did not start again:\n{r.stderr}\n{self._logs()}")

    def client(self) -> Any:
        """A boto3 client with the cluster's credentials."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def server_env(self, bucket: str, **extra: str) -> dict[str, str]:
        """Environment for a score-server on this cluster."""
        env = {
            "SCORE_STORAGE__KIND": "s3",
            "SCORE_STORAGE__ENDPOINT": self.endpoint,
            "SCORE_STORAGE__ACCESS_KEY": ACCESS_KEY,
            "SCORE_STORAGE__SECRET_KEY": SECRET_KEY,
            "SCORE_STORAGE__OBJECT_BUCKET": bucket,
            "SCORE_STORAGE__CREATE_BUCKETS": "true",
        }
        env.update(extra)
        return env
