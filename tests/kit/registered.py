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
    _, ids = publish_files(url, writer_token, study, [path], access)
    return ids[path.name]


def publish_files(
    url: str, writer_token: str, study: str, paths: list[Path], access: str = "controlled"
) -> tuple[str, dict[str, str]]:
    """Register *paths* as one new analysis of *study*, upload them and publish it; return the analysis id and
    each file's object id by file name.
    """
    auth = {"Authorization": f"Bearer {writer_token}"}
    files = []
    for path in paths:
        data = path.read_bytes()
        files.append(
            {
                "fileName": path.name,
                "fileSize": len(data),
                "fileAccess": access,
                "fileMd5sum": hashlib.md5(data).hexdigest(),
            }
        )
    r = httpx.post(
        f"{url}/submit/{study}",
        headers=auth,
        timeout=30,
        json={"studyId": study, "analysisType": {"name": "variantCall"}, "files": files},
    )
    r.raise_for_status()
    analysis = r.json()["analysisId"]
    ids = {str(f["fileName"]): str(f["objectId"]) for f in r.json()["files"]}
    for path in paths:
        up = run_client(["upload", "--object-id", ids[path.name], "--file", str(path)], server=url, token=writer_token)
        if up.returncode != 0:
            raise RuntimeError(f"score-client upload exited {up.returncode}: {up.stderr}")
    httpx.put(f"{url}/studies/{study}/analysis/publish/{analysis}", headers=auth, timeout=30).raise_for_status()
    return str(analysis), ids
