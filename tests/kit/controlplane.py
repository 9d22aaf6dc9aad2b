"""The control plane under load: a registry server with one published controlled object, and the
download-spec requests to send it, allowed and refused, each with the one answer it must get.

Shared by the load tier (``tests/load``) and ``bench/control_plane.py``, so that both send the same
requests to the same server.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.kit.files import md5_of, random_file
from tests.kit.loadgen import Call, interleave
from tests.kit.registered import publish_file
from tests.kit.servers import ServerProcess, free_port

STUDY, OTHER = "LOAD", "OTHER"
PART_BYTES = 64 * 1024
PARTS = 4  # three whole parts and a short last one
SPEC_QUERY = "?offset=0&length=-1&external=false"

# kind -> (status, error code): the only answer each kind of request may get
EXPECTED: dict[str, tuple[int, str | None]] = {
    "spec": (200, None),  # the study's reader: every part with a signed URL
    "no token": (401, "unauthenticated"),
    "other study": (403, "forbidden"),
    "unknown id": (403, "forbidden"),  # no existence oracle: as another study's object
    "unknown id, system scope": (404, "not_found"),  # who may read any object learns it is unknown
}


@dataclass
class ControlPlane:
    """A running server, its published object and one request of each kind."""

    server: ServerProcess
    object_id: str
    object_md5: str
    calls: dict[str, Call] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        """The server process's id (for its RSS)."""
        assert self.server.proc is not None
        return self.server.proc.pid

    def mix(self, total: int, refused_share: float) -> list[Call]:
        """*total* download-spec requests, *refused_share* of them spread over the refused kinds."""
        refused = [k for k in EXPECTED if EXPECTED[k][0] != 200]
        each = round(total * refused_share / len(refused))
        counts = {self.calls[k]: each for k in refused}
        counts[self.calls["spec"]] = total - each * len(refused)
        return interleave(counts)

    def expected_status(self, call: Call) -> int:
        """The status *call*'s kind must get (200 for reference requests that are not download specs)."""
        return EXPECTED.get(call.kind, (200, None))[0]

    def check(self, call: Call, status: int, body: bytes) -> str | None:
        """None when *status* and *body* are what *call*'s kind must get, else what is wrong."""
        want_status, want_code = EXPECTED.get(call.kind, (200, None))
        if status != want_status:
            return f"status {status}, expected {want_status}"
        if call.kind not in EXPECTED:
            return None  # reference requests (bench): the status is enough
        try:
            doc = json.loads(body)
        except ValueError:
            return "not JSON"
        if want_code is not None:
            return None if doc.get("code") == want_code else f"error code {doc.get('code')!r}, expected {want_code!r}"
        return self._spec_problem(doc)

    def _spec_problem(self, doc: dict[str, object]) -> str | None:
        if doc.get("objectId") != self.object_id or doc.get("objectMd5") != self.object_md5:
            return "another object's id or MD5"
        parts = doc.get("parts")
        if not isinstance(parts, list) or len(parts) != PARTS:
            return f"{len(parts) if isinstance(parts, list) else 'no'} parts, expected {PARTS}"
        for number, part in enumerate(parts, 1):
            url = part.get("url") if isinstance(part, dict) else None
            if not isinstance(url, str) or not url.startswith(self.server.url + "/") or "signature=" not in url:
                return f"part {number} has no signed URL"
            if part.get("partNumber") != number or part.get("offset") != (number - 1) * PART_BYTES:
                return f"part {number} is numbered or placed wrongly"
        return None


def _get(kind: str, object_id: str, token: str | None) -> Call:
    headers = (("Authorization", f"Bearer {token}"),) if token else ()
    return Call(kind, f"/download/{object_id}{SPEC_QUERY}", headers)


@contextmanager
def control_plane(root: Path, env: dict[str, str] | None = None) -> Iterator[ControlPlane]:
    """Start a registry server in *root* (with *env* added to its environment), publish one controlled
    object of ``PARTS`` parts, and stop the server at exit."""
    srv = ServerProcess(
        root / "data",
        free_port(),
        env={
            "SCORE_METADATA__KIND": "registry",
            "SCORE_STORAGE__MIN_PART_SIZE_BYTES": str(PART_BYTES),
            **(env or {}),
        },
    ).start()
    try:
        path = random_file(root / "reads.bam", (PARTS - 1) * PART_BYTES + 1000)
        object_id = publish_file(srv.url, srv.token(f"PROGRAMDATA-{STUDY}.WRITE"), STUDY, path)
        reader = srv.token(f"PROGRAMDATA-{STUDY}.READ", ttl="6h")
        unknown = str(uuid.uuid4())
        cp = ControlPlane(srv, object_id, md5_of(path))
        cp.calls = {
            "spec": _get("spec", object_id, reader),
            "no token": _get("no token", object_id, None),
            "other study": _get("other study", object_id, srv.token(f"PROGRAMDATA-{OTHER}.READ", ttl="6h")),
            "unknown id": _get("unknown id", unknown, reader),
            "unknown id, system scope": _get("unknown id, system scope", unknown, srv.token("score.READ", ttl="6h")),
        }
        yield cp
    finally:
        srv.stop()
