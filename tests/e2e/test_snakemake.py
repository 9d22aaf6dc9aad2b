"""The Snakemake storage plugin (plugins/snakemake-storage-plugin-score) from the real ``snakemake`` command line
against a live score-server with the embedded registry (issue 26): ``storage.score("score://<object-id>")`` as an
input (downloaded, MD5-verified; a second run has nothing to do), a token of another study (Score's error, non-zero
exit), and outputs uploaded to registered objects, by id and by ``<study>/<analysis-id>/<file-name>``, their
analysis published once both are stored; a forced rerun is refused rather than deleting an object.

Everything Snakemake writes stays in tmp dirs: the workdir (``-d``, with its ``.snakemake``), the storage
plugin's local copies (``--local-storage-prefix``), and HOME / XDG_CACHE_HOME.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from score import Client
from tests.kit.files import MIB, md5_of, random_file
from tests.kit.registered import publish_file
from tests.kit.servers import ServerProcess, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STUDY = "SMK"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


@dataclass
class Live:
    """A server, a published object of study SMK and the file it was made from."""

    srv: ServerProcess
    object_id: str
    source: Path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    if not SNAKEMAKE.exists():
        pytest.fail(f"{SNAKEMAKE} is missing: scripts/setup installs plugins/snakemake-storage-plugin-score[test]")
    root = tmp_path_factory.mktemp("smk")
    srv = ServerProcess(root / "data", free_port(), env={"SCORE_METADATA__KIND": "registry"}).start()
    try:
        source = random_file(root / "reads.bam", 2 * MIB + 777)
        oid = publish_file(srv.url, srv.token("score.READ", "score.WRITE"), STUDY, source)
        yield Live(srv, oid, source)
    finally:
        srv.stop()


def snakemake(
    work: Path, snakefile: str, url: str, token: str, *extra: str, token_env: str = "ACCESSTOKEN"
) -> subprocess.CompletedProcess[str]:
    """Run ``snakemake --cores 1`` on *snakefile* in *work*, the token in *token_env* (ACCESSTOKEN: as score-client
    reads it; SNAKEMAKE_STORAGE_SCORE_TOKEN: the plugin's token setting).
    """
    work.mkdir(parents=True, exist_ok=True)
    (work / "Snakefile").write_text(snakefile)
    home = work.parent / f"{work.name}-home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, token_env: token, "HOME": str(home), "XDG_CACHE_HOME": str(home / "cache")}
    cmd = [
        str(SNAKEMAKE),
        "--cores",
        "1",
        "--nocolor",
        "-d",
        str(work),
        "-s",
        str(work / "Snakefile"),
        "--local-storage-prefix",
        str(work.parent / f"{work.name}-storage"),
        "--storage-score-server-url",
        url,
        *extra,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, cwd=work)


def output_of(done: subprocess.CompletedProcess[str]) -> str:
    return f"rc={done.returncode}\nstdout={done.stdout[-4000:]}\nstderr={done.stderr[-6000:]}"


def test_an_input_is_downloaded_md5_verified_and_a_second_run_has_nothing_to_do(live: Live, tmp_path: Path) -> None:
    analysis = httpx.get(f"{live.srv.url}/entities/{live.object_id}", timeout=30).json()["gnosId"]
    snakefile = f"""
rule copy:
    input:
        by_id=storage.score("score://{live.object_id}"),
        by_name=storage.score("score://{STUDY}/{analysis}/{live.source.name}"),
    output: "out/copy.bam", "out/copy.md5", "out/name.txt"
    shell:
        "cp {{input.by_id}} {{output[0]}} && md5sum {{input.by_name}} | cut -d' ' -f1 > {{output[1]}} && "
        "basename {{input.by_name}} > {{output[2]}}"
"""
    reader = live.srv.token(f"PROGRAMDATA-{STUDY}.READ")
    done = snakemake(tmp_path / "work", snakefile, live.srv.url, reader)
    assert done.returncode == 0, output_of(done)
    want = md5_of(live.source)
    assert md5_of(tmp_path / "work" / "out" / "copy.bam") == want
    assert (tmp_path / "work" / "out" / "copy.md5").read_text().strip() == want
    assert (tmp_path / "work" / "out" / "name.txt").read_text().strip() == live.source.name  # the file's own name
    again = snakemake(tmp_path / "work", snakefile, live.srv.url, reader)
    assert again.returncode == 0, output_of(again)
    assert "Nothing to be done" in again.stdout + again.stderr, output_of(again)


def test_a_token_of_another_study_fails_the_workflow_with_scores_error(live: Live, tmp_path: Path) -> None:
    snakefile = f"""
rule copy:
    input: storage.score("score://{live.object_id}")
    output: "out/copy.bam"
    shell: "cp {{input}} {{output}}"
"""
    other = live.srv.token("PROGRAMDATA-OTHER.READ")
    done = snakemake(tmp_path / "work", snakefile, live.srv.url, other, token_env="SNAKEMAKE_STORAGE_SCORE_TOKEN")
    assert done.returncode != 0, output_of(done)
    said = done.stdout + done.stderr
    assert "the token lacks the scope needed for a download" in said, output_of(done)
    assert "PROGRAMDATA-<study>.READ" in said and f"score://{live.object_id}" in said, output_of(done)
    assert not (tmp_path / "work" / "out" / "copy.bam").exists()
    assert not any((tmp_path / "work-storage").rglob(live.object_id))  # nothing downloaded


def register(srv: ServerProcess, token: str, files: list[Path]) -> tuple[str, dict[str, str]]:
    """Submit an analysis of *files* (their names, sizes and MD5s) to study SMK: its id and the object ids."""
    entries = [
        {"fileName": f.name, "fileSize": f.stat().st_size, "fileMd5sum": md5_of(f), "fileAccess": "controlled"}
        for f in files
    ]
    r = httpx.post(
        f"{srv.url}/submit/{STUDY}",
        headers={"Authorization": f"Bearer {token}"},
        json={"studyId": STUDY, "analysisType": {"name": "variantCall"}, "files": entries},
        timeout=30,
    )
    r.raise_for_status()
    return r.json()["analysisId"], {f["fileName"]: f["objectId"] for f in r.json()["files"]}


def test_outputs_are_uploaded_and_their_analysis_published_and_a_rerun_is_refused(live: Live, tmp_path: Path) -> None:
    work = tmp_path / "work"
    made = tmp_path / "made"
    made.mkdir()
    vcf = random_file(made / "calls.vcf.gz", 3 * MIB + 5)  # what the rules will produce, registered beforehand
    tbi = random_file(made / "calls.vcf.gz.tbi", 4321)
    writer = live.srv.token(f"PROGRAMDATA-{STUDY}.WRITE")  # may write the study, not read it
    analysis, ids = register(live.srv, writer, [vcf, tbi])
    work.mkdir()
    (work / "calls.vcf.gz").write_bytes(vcf.read_bytes())
    (work / "calls.vcf.gz.tbi").write_bytes(tbi.read_bytes())
    snakefile = f"""
rule all:  # retrieve=False: the targets stay in Score (this token could not read them anyway)
    input:
        storage.score("score://{STUDY}/{analysis}/calls.vcf.gz", retrieve=False),
        storage.score("score://{ids["calls.vcf.gz.tbi"]}", retrieve=False),

rule vcf:
    input: "calls.vcf.gz"
    output: storage.score("score://{STUDY}/{analysis}/calls.vcf.gz")
    shell: "cp {{input}} {{output}}"

rule index:
    input: "calls.vcf.gz.tbi"
    output: storage.score("score://{ids["calls.vcf.gz.tbi"]}")
    shell: "cp {{input}} {{output}}"
"""
    done = snakemake(work, snakefile, live.srv.url, writer, "--storage-score-publish")
    assert done.returncode == 0, output_of(done)
    said = done.stdout + done.stderr
    assert "1 file(s) not uploaded yet" in said and f"published analysis {analysis} of study {STUDY}" in said, (
        output_of(done)
    )
    r = httpx.get(f"{live.srv.url}/studies/{STUDY}/analysis/{analysis}", timeout=30)
    assert r.json()["analysisState"] == "PUBLISHED"
    with Client(live.srv.url, token=live.srv.token(f"PROGRAMDATA-{STUDY}.READ")) as score:
        for name, oid in ids.items():
            got = score.download(oid, tmp_path / "check")
            assert got.verified and hashlib.md5(got.path.read_bytes()).hexdigest() == md5_of(made / name)
    again = snakemake(work, snakefile, live.srv.url, writer, "--storage-score-publish")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr, output_of(again)
    broken = snakemake(work, snakefile, live.srv.url, "not-a-token")  # the outputs' times cannot be asked
    said = broken.stdout + broken.stderr
    assert broken.returncode != 0 and "UnauthenticatedError: the access token is not valid" in said, output_of(broken)
    assert "Traceback" not in said, output_of(broken)  # Score's message, not Snakemake's stack
    forced = snakemake(work, snakefile, live.srv.url, writer, "--forcerun", "index")
    assert forced.returncode != 0, output_of(forced)
    assert f"refusing to remove score://{ids['calls.vcf.gz.tbi']}" in forced.stdout + forced.stderr, output_of(forced)
