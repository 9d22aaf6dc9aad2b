"""The whole Overture flow from the CLI: submit, upload --manifest, publish, download --analysis-id;
on the embedded registry, and again with the server's metadata from the Song adapter over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.kit.checks import ok
from tests.kit.files import MIB, md5_of, random_file
from tests.kit.servers import ServerProcess, run_client

pytestmark = pytest.mark.e2e


def _flow(meta: ServerProcess, data_srv: ServerProcess, tmp_path: Path, study: str) -> None:
    writer = meta.token(f"PROGRAMDATA-{study}.WRITE")
    reader = meta.token(f"PROGRAMDATA-{study}.READ")
    inputs = tmp_path / "in"
    inputs.mkdir()
    bam = random_file(inputs / "sample.bam", 9 * MIB + 11)
    bai = random_file(inputs / "sample.bam.bai", 4000)
    payload = {
        "studyId": study,
        "analysisType": {"name": "sequencingRead"},
        "files": [
            {
                "fileName": "sample.bam",
                "fileSize": bam.stat().st_size,
                "fileMd5sum": md5_of(bam),
                "fileType": "BAM",
                "fileAccess": "controlled",
            },
            {
                "fileName": "sample.bam.bai",
                "fileSize": bai.stat().st_size,
                "fileMd5sum": md5_of(bai),
                "fileType": "BAI",
                "fileAccess": "controlled",
            },
        ],
    }
    (inputs / "analysis.json").write_text(json.dumps(payload))
    manifest = tmp_path / "manifest.txt"
    env = {"METADATA_URL": meta.url}
    out = ok(
        run_client(
            ["submit", "--study-id", study, "--file", str(inputs / "analysis.json"), "--manifest", str(manifest)],
            server=data_srv.url,
            token=writer,
            env=env,
        )
    )
    analysis = out.split("submitted analysis ")[1].split()[0]
    lines = manifest.read_text().splitlines()
    assert lines[0] == f"{analysis}\t\t" and len(lines) == 3
    out = ok(run_client(["upload", "--manifest", str(manifest)], server=data_srv.url, token=writer, env=env))
    assert out.count("uploaded ") == 2
    early = run_client(
        ["download", "--analysis-id", analysis, "--study-id", study, "--output-dir", str(tmp_path / "early")],
        server=data_srv.url,
        token=reader,
        env=env,
    )
    assert early.returncode != 0 and "PUBLISHED" in early.stderr and "Traceback" not in early.stderr
    ok(
        run_client(
            ["publish", "--study-id", study, "--analysis-id", analysis], server=data_srv.url, token=writer, env=env
        )
    )
    out = ok(
        run_client(
            ["download", "--analysis-id", analysis, "--study-id", study, "--output-dir", str(tmp_path / "out")],
            server=data_srv.url,
            token=reader,
            env=env,
        )
    )
    assert out.count("md5 verified") == 2
    got = sorted(md5_of(p) for p in (tmp_path / "out").iterdir() if p.is_file())
    assert got == sorted([md5_of(bam), md5_of(bai)])
    other = run_client(
        ["download", "--analysis-id", analysis, "--study-id", study, "--output-dir", str(tmp_path / "x")],
        server=data_srv.url,
        token=meta.token("PROGRAMDATA-OTHER.READ"),
        env=env,
    )
    assert other.returncode == 3 and "Traceback" not in other.stderr


def test_flow_on_the_embedded_registry(server_factory: Any, tmp_path: Path) -> None:
    srv = server_factory(SCORE_METADATA__KIND="registry", SCORE_STORAGE__MIN_PART_SIZE_BYTES=str(4 * MIB))
    _flow(srv, srv, tmp_path, "FLOW1")


def test_flow_through_the_song_adapter(server_factory: Any, tmp_path: Path) -> None:
    registry = server_factory(SCORE_METADATA__KIND="registry", SCORE_STORAGE__MIN_PART_SIZE_BYTES=str(4 * MIB))
    songside = server_factory(
        data_dir=registry.data_dir,
        SCORE_METADATA__KIND="song",
        SCORE_METADATA__URL=registry.url,
        SCORE_METADATA__CACHE_TTL="0",
        SCORE_STORAGE__MIN_PART_SIZE_BYTES=str(4 * MIB),
    )
    _flow(registry, songside, tmp_path, "FLOW2")


def test_quick_start_flow_on_the_default_server(tmp_path: Path) -> None:
    """The README's Quick start: out of the box the registry is on, and --files builds the analysis."""
    from tests.kit.servers import free_port

    srv = ServerProcess(tmp_path / "data", free_port())
    del srv.env["SCORE_METADATA__KIND"]  # the true default, as scripts/serve runs it
    srv.start()
    try:
        token = srv.token("score.READ", "score.WRITE")
        sample = random_file(tmp_path / "sample.bam", 3 * MIB)
        manifest = tmp_path / "manifest.txt"
        bare = run_client(
            ["upload", "--object-id", "5b7a1c9e-3f4d-4e2a-9b8c-0d1e2f3a4b5c", "--file", str(sample)],
            server=srv.url,
            token=token,
        )
        assert bare.returncode == 4 and "not registered" in bare.stderr  # registration comes first
        out = ok(
            run_client(
                ["submit", "--study-id", "DEMO", "--files", str(sample), "--manifest", str(manifest)],
                server=srv.url,
                token=token,
            )
        )
        analysis = out.split("submitted analysis ")[1].split()[0]
        ok(run_client(["upload", "--manifest", str(manifest)], server=srv.url, token=token))
        ok(run_client(["publish", "--study-id", "DEMO", "--analysis-id", analysis], server=srv.url, token=token))
        out = ok(
            run_client(
                ["download", "--study-id", "DEMO", "--analysis-id", analysis, "--output-dir", str(tmp_path / "out")],
                server=srv.url,
                token=token,
            )
        )
        assert "md5 verified" in out
        [got] = [p for p in (tmp_path / "out").iterdir() if p.is_file()]
        assert md5_of(got) == md5_of(sample)
    finally:
        srv.stop()
