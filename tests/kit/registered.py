"""One published object on a score-server with the embedded registry: submitted, uploaded, published.

Submit and publish go through the registry's REST API (Song's paths); the bytes go up with
``score-client upload``, as a user would send them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx

from tests.kit.servers import run_client


def publish_file(url: str, writer_token: str, study: str, path: Path, access: str = "controlled") -> str:
    """Register *path* in a new analysis of *study*, upload it and publish the analysis; return its object id.

    *writer_token* needs the study's (or the system) write scope.
    """
    data = path.read_bytes()
    auth = {"Authorization": f"Bearer {writer_token}"}
    files = [
        {
            "fileName": path.name,
            "fileSize": len(data),
            "fileAccess": access,
            "fileMd5sum": hashlib.md5(data).hexdigest(),
        }
    ]
    r = httpx.post(
        f"{url}/submit/{study}",
        headers=auth,
        timeout=30,
        json={"studyId": study, "analysisType": {"name": "variantCall"}, "files": files},
    )
    r.raise_for_status()
    analysis, object_id = r.json()["analysisId"], r.json()["files"][0]["objectId"]
    up = run_client(["upload", "--object-id", object_id, "--file", str(path)], server=url, token=writer_token)
    if up.returncode != 0:
        raise RuntimeError(f"score-client upload exited {up.returncode}: {up.stderr}")
    httpx.put(f"{url}/studies/{study}/analysis/publish/{analysis}", headers=auth, timeout=30).raise_for_status()
    return str(object_id)
