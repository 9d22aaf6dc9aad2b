"""Every ```python example of docs/python.md, run as written against a live server (registry): each is a script
run by a fresh interpreter in its own directory, with the environment the page says it reads (STORAGE_URL,
ACCESSTOKEN, OBJECT_ID, NEW_OBJECT_ID, NEW_FILE), in the page's order. A page example that breaks fails here.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.kit.bam import HTSLIB_TEST, require_test_data, samtools
from tests.kit.checks import bearer, ok
from tests.kit.files import MIB, md5_of, random_file
from tests.kit.registered import publish_file
from tests.kit.servers import ServerProcess, free_port, run_client

pytestmark = pytest.mark.integration
PAGE = Path(__file__).resolve().parents[2] / "docs" / "python.md"
REGION = "CHROMOSOME_I:1000-2000"  # the region docs/python.md's slice example reads
BLOCKS = re.findall(r"^```python\n(.*?)^```$", PAGE.read_text(), flags=re.MULTILINE | re.DOTALL)


@pytest.fixture(scope="module")
def page_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A server with a published BAM (OBJECT_ID) and a registered, not yet uploaded file (NEW_OBJECT_ID)."""
    require_test_data()
    root = tmp_path_factory.mktemp("docs")
    srv = ServerProcess(root / "data", free_port(), env={"SCORE_METADATA__KIND": "registry"}).start()
    token = srv.token("score.READ", "score.WRITE")
    bam, bai = root / "range.bam", root / "range.bam.bai"
    shutil.copyfile(HTSLIB_TEST / "range.bam", bam)
    shutil.copyfile(HTSLIB_TEST / "range.bam.bai", bai)
    oid = _publish_with_index(srv.url, token, bam, bai)
    tsv = root / "calls.tsv"
    tsv.write_text("sample\tgene\tdepth\n" + "".join(f"S{i}\tG{i % 7}\t{i * 3}\n" for i in range(200)))
    tsv_oid = publish_file(srv.url, token, "DOCS", tsv)
    new = random_file(root / "new.vcf.gz", 2 * MIB + 1)
    files = [
        {"fileName": new.name, "fileSize": new.stat().st_size, "fileMd5sum": hashlib.md5(new.read_bytes()).hexdigest()}
    ]
    r = httpx.post(f"{srv.url}/submit/DOCS", json={"files": files}, headers=bearer(token))
    r.raise_for_status()
    env = {
        **os.environ,
        "STORAGE_URL": srv.url,
        "ACCESSTOKEN": token,
        "OBJECT_ID": oid,
        "OBJECT_MD5": hashlib.md5(bam.read_bytes()).hexdigest(),
        "NEW_OBJECT_ID": r.json()["files"][0]["objectId"],
        "NEW_FILE": str(new),
        "NEW_MD5": files[0]["fileMd5sum"],
        "TSV_OBJECT_ID": tsv_oid,
        "TSV_MD5": md5_of(tsv),
        "REGION_RECORDS": samtools("view", "-c", str(bam), REGION).strip(),
    }
    yield env
    srv.stop()


def _publish_with_index(url: str, token: str, bam: Path, bai: Path) -> str:
    """One analysis holding the BAM and its index, uploaded and published; the BAM's object id."""
    files = [{"fileName": p.name, "fileSize": p.stat().st_size, "fileMd5sum": md5_of(p)} for p in (bam, bai)]
    r = httpx.post(f"{url}/submit/DOCS", json={"files": files}, headers=bearer(token))
    r.raise_for_status()
    ids = {f["fileName"]: f["objectId"] for f in r.json()["files"]}
    for p in (bam, bai):
        ok(run_client(["upload", "--object-id", ids[p.name], "--file", str(p)], server=url, token=token))
    publish = f"{url}/studies/DOCS/analysis/publish/{r.json()['analysisId']}"
    httpx.put(publish, headers=bearer(token)).raise_for_status()
    return str(ids[bam.name])


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_each_example_runs_as_written(index: int, page_env: dict[str, str], tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-c", BLOCKS[index]], cwd=tmp_path, env=page_env, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, f"docs/python.md example {index + 1} failed:\n{BLOCKS[index]}\n{r.stdout}\n{r.stderr}"
    code = BLOCKS[index]
    if "score.stat(" in code or "score.download(" in code:
        assert page_env["OBJECT_MD5"] in r.stdout  # the object's real MD5, from the server or the verified file
    if "score.download(" in code:
        assert (tmp_path / "data" / page_env["OBJECT_ID"]).is_file() and "True" in r.stdout
    if "score.upload(" in code:
        assert page_env["NEW_MD5"] in r.stdout
    if "score.slice(" in code:
        assert REGION in code and r.stdout.split()[0] == page_env["REGION_RECORDS"] != "0"
        assert samtools("view", "-c", str(tmp_path / "region.bam")).strip() == page_env["REGION_RECORDS"]
    if "read_csv(" in code:
        assert "(200, 3)" in r.stdout and page_env["TSV_MD5"] in r.stdout
    if "score.open(" in code:
        assert r.stdout.split()[:3] == ["1f8b0804", "28", "True"]  # BGZF magic, the EOF block's 28 bytes
