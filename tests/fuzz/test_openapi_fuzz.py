"""Fuzzing tier (issue 20): schemathesis against a live score-server's own /openapi.json.

Every operation of the document is called with generated requests, schema-valid (positive) and
schema-invalid (negative), with and without a bearer token, on the embedded registry and on
``SCORE_METADATA__KIND=none``; generated object ids are unknown ones, so every operation on an object
is fuzzed again on objects the server holds (BAM, CRAM and VCF files published in the registry).
schemathesis's coverage phase adds each parameter's boundary values. Each answer must be no 5xx at
all (503/507 cannot happen here either), a status the document declares for that operation, in the
declared content type, with the declared body schema and headers; invalid requests must be refused.
Undeclared methods answer 405 with an ``Allow`` naming exactly the path's methods.

The run is deterministic (hypothesis ``derandomize``, schemathesis ``--seed``) and bounded by
:data:`MAX_EXAMPLES` per operation, mode and caller (about two minutes in all on 2 cores);
the data plane (``/_store/...``) and ``/metrics`` are not in the document.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from score.storage.local import STORE_ROUTE
from tests.kit.bam import HTSLIB_TEST, require_test_data
from tests.kit.files import random_file
from tests.kit.servers import ServerProcess, free_port, run_client

pytestmark = pytest.mark.fuzz

MAX_EXAMPLES = 25  # per operation (and stored object), mode and caller
REQUEST_TIMEOUT_S = 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
MODES = {
    "positive": (schemathesis.GenerationMode.POSITIVE, CHECKS),
    "negative": (schemathesis.GenerationMode.NEGATIVE, [*CHECKS, negative_data_rejection]),
}
PROBE_METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH")


@pytest.fixture(scope="module", params=["registry", "none"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """score-server on the local store, with the embedded registry or no metadata service."""
    kind = request.param
    srv = ServerProcess(
        tmp_path_factory.mktemp(f"fuzz-{kind}") / "data", free_port(), env={"SCORE_METADATA__KIND": kind}
    ).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def stored(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Object ids the server holds: published open-access BAM, CRAM and VCF files (registry), or one object."""
    require_test_data()
    work = tmp_path_factory.mktemp("stored")
    token = server.token("score.READ", "score.WRITE")

    def client(*args: str) -> str:
        run = run_client(args, server=server.url, token=token, cwd=work, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
        return run.stdout

    if server.env["SCORE_METADATA__KIND"] == "none":
        oid = str(uuid.UUID(int=20))
        client("upload", "--object-id", oid, "--file", str(random_file(work / "object.bin", 3000)))
        return [oid]
    for name in ("range.bam", "range.bam.bai", "range.cram", "range.cram.crai"):
        shutil.copy(HTSLIB_TEST / name, work / name)
    subprocess.run(["sh", "-c", f'bgzip -c "{HTSLIB_TEST / "index.vcf"}" > "{work}/index.vcf.gz"'], check=True)
    subprocess.run(["tabix", "-p", "vcf", str(work / "index.vcf.gz")], check=True)
    files = sorted(str(p) for p in work.iterdir())
    out = client("submit", "--study-id", "FUZZ", "--files", *files, "--manifest", "manifest.txt", "--access", "open")
    analysis = out.split("submitted analysis ")[1].split()[0]
    client("upload", "--manifest", "manifest.txt")
    client("publish", "--study-id", "FUZZ", "--analysis-id", analysis)
    ids = {}  # file -> object id; the manifest's lines are "object id <TAB> file <TAB> md5"
    for line in (work / "manifest.txt").read_text().splitlines()[1:]:
        oid, path = line.split("\t")[:2]
        ids[path] = oid
    return [ids[str(work / name)] for name in ("range.bam", "range.cram", "index.vcf.gz")]


@pytest.fixture(scope="module")
def document(server: ServerProcess) -> dict[str, Any]:
    """The server's OpenAPI document, as it serves it."""
    r = httpx.get(server.url + "/openapi.json")
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    # the data plane answers signed URLs only, and /metrics Prometheus: neither is an API operation
    assert not [p for p in body["paths"] if p.startswith(STORE_ROUTE) or p == "/metrics"]
    return body


def _settings() -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


def _fuzz(
    operation: Any,
    mode: schemathesis.GenerationMode,
    checks: list[Any],
    base_url: str,
    headers: dict[str, str],
    path_parameters: dict[str, str] | None,
) -> None:
    """Run *operation* with generated requests; raises the first check failure (shrunk)."""

    @_settings()
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case: Any) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=checks, timeout=REQUEST_TIMEOUT_S)

    run()


def _fuzz_all(
    server: ServerProcess, document: dict[str, Any], caller: str, mode: str, object_ids: list[str] | None = None
) -> int:
    """Fuzz every operation (with *object_ids*: each operation on an object, once per id); returns their count.

    Raises:
        AssertionError: naming every operation that answered otherwise than documented.
    """
    schema = schemathesis.openapi.from_dict(document)
    headers = {"Authorization": f"Bearer {server.token('score.READ', 'score.WRITE')}"} if caller == "token" else {}
    generation_mode, checks = MODES[mode]
    failures: list[str] = []
    runs = 0
    started = time.monotonic()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the document does not load: {result}"
        operation = result.ok()
        if object_ids is not None and "{object_id}" not in operation.path:
            continue
        for fixed in [{"object_id": oid} for oid in object_ids] if object_ids is not None else [None]:
            runs += 1
            try:
                _fuzz(operation, generation_mode, checks, server.url, headers, fixed)
            except hypothesis.errors.Unsatisfiable:
                assert mode == "negative", operation.label  # nothing to get wrong: no parameters, or any string goes
            except Exception as exc:
                failures.append(f"--- {operation.label} {fixed or ''}\n{exc}")
    print(f"{runs} runs, {mode}, {caller}: {time.monotonic() - started:.1f} s")
    assert not failures, "\n".join(failures) + f"\n\nserver log:\n{server.log()[-4000:]}"
    return runs


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("caller", ["anonymous", "token"])
def test_every_operation_answers_as_documented(
    server: ServerProcess, document: dict[str, Any], caller: str, mode: str
) -> None:
    assert _fuzz_all(server, document, caller, mode) >= 20


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("caller", ["anonymous", "token"])
def test_operations_on_stored_objects_answer_as_documented(
    server: ServerProcess, document: dict[str, Any], stored: list[str], caller: str, mode: str
) -> None:
    """Random ids are unknown ids (404s); these requests reach downloads, uploads over a finished object,
    and htsget slicing of real BAM, CRAM and VCF files."""
    assert _fuzz_all(server, document, caller, mode, stored) >= 10


@pytest.mark.parametrize("caller", ["anonymous", "token"])
def test_boundary_values_answer_as_documented(server: ServerProcess, caller: str, tmp_path: Path) -> None:
    """schemathesis's coverage phase: each parameter's edges (empty, huge, wrong type, missing), one at a time.

    Undeclared methods are left to the test below, which knows that htsget's ``service-info`` is also an id.
    """
    cmd = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        server.url + "/openapi.json",
        "--phases",
        "coverage",
        "--checks",
        ",".join(c.__name__ for c in [*CHECKS, negative_data_rejection]),
        "--seed",
        "1",
        "--no-color",
        "--request-timeout",
        str(REQUEST_TIMEOUT_S),
    ]
    if caller == "token":
        cmd += ["-H", f"Authorization: Bearer {server.token('score.READ', 'score.WRITE')}"]
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False)
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-4000:]


def _template_regex(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")


def test_undeclared_methods_answer_405_with_allow(server: ServerProcess, document: dict[str, Any]) -> None:
    """RFC 9110: a 405 lists the methods the resource supports; Starlette named only its first route's."""
    templates = {path: {m.upper() for m in ops} for path, ops in document["paths"].items()}
    sample = str(uuid.uuid4())
    probed = 0
    for path in templates:
        concrete = re.sub(r"\{[^/]+?\}", sample, path)
        # every documented path whose template this URL matches (htsget's service-info is also an {object_id})
        declared = set().union(*(ms for p, ms in templates.items() if _template_regex(p).match(concrete)))
        for method in PROBE_METHODS:
            if method in declared:
                continue
            r = httpx.request(method, server.url + concrete)
            probed += 1
            assert r.status_code == 405, (method, concrete, r.status_code, r.text)
            allow = {m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()}
            assert allow - {"HEAD"} == declared, (method, concrete, allow)
            body = r.json()
            assert body.get("code") == "method_not_allowed" or body.get("status_code") == 405, body  # DRS's shape
    assert probed > 50
