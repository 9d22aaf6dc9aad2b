"""Fixtures for end-to-end tests: random files and a live server."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.kit.bam import HTSLIB_TEST, SAMTOOLS_TEST, require_test_data, samtools
from tests.kit.files import MIB, random_file
from tests.kit.servers import ServerProcess, free_port, run_client


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 256 MiB random file (plus a few bytes, so the last part is short)."""
    return random_file(tmp_path_factory.mktemp("big") / "big.bin", 256 * MIB + 4321)


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[object]:
    """Start servers on demand; all are stopped at the end of the test."""
    started: list[ServerProcess] = []

    def start(data_dir: Path | None = None, port: int | None = None, **env: str) -> ServerProcess:
        srv = ServerProcess(data_dir or tmp_path / "data", port or free_port(), env=dict(env))
        started.append(srv.start())
        return srv

    yield start
    for srv in started:
        srv.stop()


@dataclass
class Served:
    """Debian's BAM/CRAM test files (and broken ones) published in one analysis of a live server."""

    srv: ServerProcess
    token: str
    ids: dict[str, str]  # file name -> object id
    src: Path
    analysis: str


def ok(result: Any) -> str:
    assert result.returncode == 0, f"rc={result.returncode}\nstdout={result.stdout}\nstderr={result.stderr}"
    assert "Traceback" not in result.stderr
    return str(result.stdout)


def publish(
    srv: ServerProcess,
    token: str,
    files: list[Path],
    work: Path,
    study: str = "VIEW",
    *,
    access: str = "controlled",
    published: bool = True,
) -> tuple[str, dict[str, str]]:
    manifest = work / f"manifest-{study}.txt"
    out = ok(
        run_client(
            [
                "submit",
                "--study-id",
                study,
                "--files",
                *map(str, files),
                "--manifest",
                str(manifest),
                "--access",
                access,
            ],
            server=srv.url,
            token=token,
        )
    )
    analysis = out.split("submitted analysis ")[1].split()[0]
    ok(run_client(["upload", "--manifest", str(manifest)], server=srv.url, token=token))
    if published:
        ok(run_client(["publish", "--study-id", study, "--analysis-id", analysis], server=srv.url, token=token))
    ids = {}
    for line in manifest.read_text().splitlines()[1:]:
        oid, path = line.split("\t")[:2]
        ids[Path(path).name] = oid
    return analysis, ids


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    require_test_data()
    src = tmp_path_factory.mktemp("bams")
    mp = SAMTOOLS_TEST / "mpileup"
    for path in (
        HTSLIB_TEST / "range.bam",
        HTSLIB_TEST / "range.bam.bai",
        HTSLIB_TEST / "range.cram",
        HTSLIB_TEST / "range.cram.crai",
        HTSLIB_TEST / "colons.bam",
        HTSLIB_TEST / "colons.bam.bai",
        mp / "mpileup.1.bam",
        mp / "mpileup.1.bam.bai",
        mp / "ce#unmap2.bam",
    ):
        shutil.copy(path, src / path.name)
    samtools("index", str(src / "ce#unmap2.bam"))  # 10 placed and 9 unplaced reads
    # colons.bam has no reference: one of random bases, so that CRAM output can be tested on it too
    rng = random.Random(3)
    (src / "colons.fa").write_text(
        "".join(
            f">{name}\n{''.join(rng.choices('ACGT', k=1000))}\n"
            for name in ("chr1", "chr1:100", "chr1:100-200", "chr2:100-200", "chr3", "chr1,chr3")
        )
    )
    samtools("faidx", str(src / "colons.fa"))
    shutil.copy(src / "range.bam", src / "noindex.bam")
    (src / "truncated.bam").write_bytes((src / "range.bam").read_bytes()[:7000])
    shutil.copy(src / "range.bam.bai", src / "truncated.bam.bai")
    (src / "notbam.bam").write_text("this is not a BAM file\n" * 50)
    shutil.copy(src / "range.bam.bai", src / "notbam.bam.bai")
    (src / "notes.txt").write_text("not an alignment file\n")
    data = tmp_path_factory.mktemp("data")
    srv = ServerProcess(
        data, free_port(), env={"SCORE_METADATA__KIND": "registry", "SCORE_AUDIT_LOG": str(data / "audit.jsonl")}
    )
    srv.start()
    try:
        token = srv.token("score.READ", "score.WRITE")
        files = sorted(p for p in src.iterdir() if p.name != "manifest-VIEW.txt")
        analysis, ids = publish(srv, token, files, src)
        yield Served(srv, token, ids, src, analysis)
    finally:
        srv.stop()
