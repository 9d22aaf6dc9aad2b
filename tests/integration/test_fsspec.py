"""``score://`` through fsspec against a live score-server with the embedded registry: the entry point, pandas,
ranges, info, listings (root, study, analysis, bundle paths), pysam, read-only refusals, and Score's refusals as
Python's errors.

fsspec's abstract test suite (``fsspec.tests.abstract``) is not used: every class in it (copy, get, put, pipe, mv,
open) builds its scenario on the file system under test with ``touch``/``pipe``/``mkdir`` and removes it with
``rm``, all refused here, and its trees (files next to sub-directories, nested several deep) cannot be laid out as
``<study>/<analysis>/<file>``. Their reading halves (``get``, ``open``) are covered below on published objects.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import httpx
import pandas as pd
import pysam
import pytest

from tests.kit.bam import HTSLIB_TEST, require_test_data
from tests.kit.files import MIB, random_file
from tests.kit.registered import publish_files
from tests.kit.servers import PYTHON, ServerProcess, free_port, run_client

pytestmark = pytest.mark.integration
MISSING = "5b7a1c9e-3f4d-4e2a-9b8c-0d1e2f3a4b5c"


@dataclass
class Live:
    srv: ServerProcess
    token: str  # reads everything (score.READ)
    files: dict[str, Path]  # local copies by file name
    ids: dict[str, str]  # object ids by file name
    analyses: dict[str, str]  # analysis ids: "tables" (tsv, bam, bai), "blobs" (bin), "other" (another study)

    def options(self, token: str | None = None) -> dict[str, Any]:
        return {"server_url": self.srv.url, "token": token or self.token, "skip_instance_cache": True}

    def fs(self, token: str | None = None) -> Any:
        return fsspec.filesystem("score", **self.options(token))


def _tsv(path: Path, rows: int) -> Path:
    lines = ["sample\tchrom\tpos\tdepth\tnote"]
    lines += [f"S{i % 7}\tchr{1 + i % 22}\t{i * 97}\t{i % 300}\tread {i}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """Two studies: FSS with an analysis of a TSV, a BAM and its index, and one of a 3 MiB binary; OTHER with one
    file.
    """
    require_test_data()
    root = tmp_path_factory.mktemp("fsspec")
    srv = ServerProcess(root / "data", free_port(), env={"SCORE_METADATA__KIND": "registry"}).start()
    writer = srv.token("score.READ", "score.WRITE")
    src = root / "src"
    src.mkdir()
    tsv = _tsv(src / "calls.tsv", 20_000)
    bam = src / "sample.bam"
    shutil.copy(HTSLIB_TEST / "range.bam", bam)
    pysam.index(str(bam))
    blob = random_file(src / "blob.bin", 3 * MIB + 321)
    other = random_file(src / "other.bin", 4096)
    tables, ids = publish_files(srv.url, writer, "FSS", [tsv, bam, Path(f"{bam}.bai")])
    blobs, more = publish_files(srv.url, writer, "FSS", [blob])
    elsewhere, rest = publish_files(srv.url, writer, "OTHER", [other])
    files = {p.name: p for p in (tsv, bam, Path(f"{bam}.bai"), blob, other)}
    yield Live(
        srv,
        srv.token("score.READ"),
        files,
        {**ids, **more, **rest},
        {"tables": tables, "blobs": blobs, "other": elsewhere},
    )
    srv.stop()


def test_the_entry_point_registers_score_for_fsspec_open(live: Live) -> None:
    """A fresh interpreter that imports only fsspec opens score:// (the fsspec.specs entry point), configured from
    Score's environment names as score-client is.
    """
    oid = live.ids["blob.bin"]
    code = (
        "import sys, hashlib, fsspec\n"
        f"with fsspec.open('score://{oid}') as f:\n"
        "    f.seek(1000); part = f.read(10); f.seek(0); whole = f.read()\n"
        "print(hashlib.md5(whole).hexdigest(), part.hex(), type(f).__module__)\n"
        "print('score.sdk.filesystem' in sys.modules)\n"
    )
    env = {**os.environ, "STORAGE_URL": live.srv.url, "ACCESSTOKEN": live.token}
    r = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    data = live.files["blob.bin"].read_bytes()
    first, loaded = r.stdout.splitlines()
    assert first.split() == [hashlib.md5(data).hexdigest(), data[1000:1010].hex(), "score.sdk.filesystem"]
    assert loaded == "True"
    assert fsspec.get_filesystem_class("score").__module__ == "score.sdk.filesystem"


def test_pandas_reads_a_tsv_by_object_id_and_by_bundle_path(live: Live) -> None:
    expected = pd.read_csv(live.files["calls.tsv"], sep="\t")
    by_id = pd.read_csv(f"score://{live.ids['calls.tsv']}", sep="\t", storage_options=live.options())
    by_name = pd.read_csv(f"score://FSS/{live.analyses['tables']}/calls.tsv", sep="\t", storage_options=live.options())
    pd.testing.assert_frame_equal(by_id, expected)
    pd.testing.assert_frame_equal(by_name, expected)
    assert len(expected) == 20_000


def test_cat_file_with_ranges(live: Live) -> None:
    fs = live.fs()
    data = live.files["blob.bin"].read_bytes()
    path = f"score://{live.ids['blob.bin']}"
    assert fs.cat_file(path) == data
    assert fs.cat_file(path, 10, 100) == data[10:100]
    assert fs.cat_file(path, -100) == data[-100:]
    assert fs.cat_file(path, 5, -5) == data[5:-5]
    assert fs.cat_file(path, len(data) + 10) == b"" and fs.cat_file(path, 50, 50) == b""
    assert fs.cat_file(path, start=2 * MIB, end=2 * MIB + 65536) == data[2 * MIB : 2 * MIB + 65536]
    assert fs.head(path, 7) == data[:7] and fs.tail(path, 7) == data[-7:]
    bundle = f"score://FSS/{live.analyses['blobs']}/blob.bin"
    assert fs.cat_file(bundle, 3, 9) == data[3:9]
    assert fs.cat([path, bundle]) == {live.ids["blob.bin"]: data, bundle.removeprefix("score://"): data}


def test_info_size_md5_and_types(live: Live) -> None:
    fs = live.fs()
    for name in ("calls.tsv", "blob.bin"):
        data = live.files[name].read_bytes()
        info = fs.info(f"score://{live.ids[name]}")
        assert info["type"] == "file" and info["size"] == len(data)
        assert info["md5"] == hashlib.md5(data).hexdigest() and info["object_id"] == live.ids[name]
    tables = live.analyses["tables"]
    info = fs.info(f"score://FSS/{tables}/sample.bam")
    assert info["name"] == f"FSS/{tables}/sample.bam" and info["object_id"] == live.ids["sample.bam"]
    assert fs.size(f"score://FSS/{tables}/calls.tsv") == live.files["calls.tsv"].stat().st_size
    assert fs.info("score://")["type"] == "directory" and fs.info("score://FSS")["type"] == "directory"
    assert fs.isdir(f"score://FSS/{tables}") and fs.isfile(f"score://FSS/{tables}/calls.tsv")
    assert fs.exists("score://FSS") and not fs.exists("score://NOPE") and not fs.exists(f"score://{MISSING}")
    assert fs.ukey(f"score://{live.ids['blob.bin']}") == hashlib.md5(live.files["blob.bin"].read_bytes()).hexdigest()


def test_ls_root_study_analysis_and_file(live: Live) -> None:
    fs = live.fs()
    tables, blobs = live.analyses["tables"], live.analyses["blobs"]
    root = fs.ls("score://")
    assert [(x["name"], x["type"]) for x in root] == [("FSS", "directory"), ("OTHER", "directory")]
    assert fs.ls("score://FSS", detail=False) == sorted([f"FSS/{tables}", f"FSS/{blobs}"])
    files = fs.ls(f"score://FSS/{tables}")
    assert [x["name"] for x in files] == [f"FSS/{tables}/{n}" for n in ("calls.tsv", "sample.bam", "sample.bam.bai")]
    assert {x["name"].rsplit("/", 1)[1]: (x["size"], x["object_id"]) for x in files} == {
        n: (live.files[n].stat().st_size, live.ids[n]) for n in ("calls.tsv", "sample.bam", "sample.bam.bai")
    }
    one = fs.ls(f"score://{live.ids['blob.bin']}")  # a file: its own entry
    assert len(one) == 1 and one[0]["type"] == "file" and one[0]["size"] == live.files["blob.bin"].stat().st_size
    assert fs.ls(f"score://FSS/{blobs}/blob.bin", detail=False) == [f"FSS/{blobs}/blob.bin"]
    assert sorted(fs.find("score://FSS")) == sorted(
        [f"FSS/{tables}/{n}" for n in ("calls.tsv", "sample.bam", "sample.bam.bai")] + [f"FSS/{blobs}/blob.bin"]
    )
    assert fs.glob("score://FSS/*/*.bam") == [f"FSS/{tables}/sample.bam"]
    with pytest.raises(FileNotFoundError):
        fs.ls("score://NOPE")
    with pytest.raises(FileNotFoundError):
        fs.ls(f"score://FSS/{MISSING}")
    assert fs.ls("score://", refresh=True) == root


def test_a_bundle_path_opens_as_a_seekable_file(live: Live, tmp_path: Path) -> None:
    fs = live.fs()
    data = live.files["calls.tsv"].read_bytes()
    path = f"score://FSS/{live.analyses['tables']}/calls.tsv"
    with fs.open(path) as f:
        assert f.readable() and f.seekable() and not f.writable()
        assert f.readline() == data.split(b"\n", 1)[0] + b"\n"
        f.seek(1234)
        assert f.read(100) == data[1234:1334] and f.tell() == 1334
        f.seek(-10, io.SEEK_END)
        assert f.read() == data[-10:] and f.read(5) == b""
        buf = bytearray(50)
        f.seek(7)
        assert f.readinto(buf) == 50 and bytes(buf) == data[7:57]
    with fsspec.open(path, "rt", **live.options()) as text:
        assert text.read() == data.decode()
    fs.get(path, str(tmp_path / "copy.tsv"))  # as Client.download: MD5-verified, no resume state left
    assert (tmp_path / "copy.tsv").read_bytes() == data
    tables = live.analyses["tables"]
    with pytest.raises(FileNotFoundError) as missing:  # which part of the path is unknown, and what is there
        fs.open(f"score://FSS/{tables}/calls.csv")
    assert f"no file 'calls.csv' in analysis {tables} of study FSS (it has 'calls.tsv', 'sample.bam'" in str(
        missing.value
    )
    with pytest.raises(FileNotFoundError, match=f"study NOPE has no analysis {tables} that this server knows"):
        fs.open(f"score://NOPE/{tables}/calls.tsv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.tsv"]
    with pytest.raises(IsADirectoryError):
        fs.open(f"score://FSS/{live.analyses['tables']}")
    again = pickle.loads(pickle.dumps(fs))  # dask ships file systems to its workers
    assert again.cat_file(path, 0, 6) == data[:6]


def test_reads_from_threads_share_one_file_system(live: Live) -> None:
    fs = live.fs()
    data = live.files["blob.bin"].read_bytes()
    errors: list[BaseException] = []

    def reader(seed: int) -> None:
        try:
            with fs.open(f"score://{live.ids['blob.bin']}") as f:
                for i in range(10):
                    at = (seed * 7919 + i * 104_729) % len(data)
                    f.seek(at)
                    assert f.read(65536) == data[at : at + 65536]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []


def _records(alignments: pysam.AlignmentFile) -> list[str]:
    return [r.to_string() for r in alignments]


def test_pysam_reads_a_bam_through_the_file_object_and_through_its_url(
    live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """htslib takes no Python file object (it needs a descriptor): through a pipe the file object fills, and
    with regions on the pre-signed URLs fs.url gives (the BAM's and its index's).
    """
    monkeypatch.chdir(tmp_path)  # htslib keeps a copy of a remote index in the working directory
    fs = live.fs()
    tables = live.analyses["tables"]
    bam = f"score://FSS/{tables}/sample.bam"
    with pysam.AlignmentFile(str(live.files["sample.bam"]), "rb") as local:
        expected = _records(local)
        region = _records(local.fetch("CHROMOSOME_I", 1000, 2000))
    with fs.open(bam) as f:
        with pytest.raises(io.UnsupportedOperation):
            pysam.AlignmentFile(f, "rb")  # no fileno(): htslib cannot read it directly
    read_end, write_end = os.pipe()

    def feed() -> None:
        with fs.open(bam) as f, os.fdopen(write_end, "wb") as pipe:
            shutil.copyfileobj(f, pipe, 65536)

    feeder = threading.Thread(target=feed)
    feeder.start()
    with os.fdopen(read_end, "rb") as pipe, pysam.AlignmentFile(pipe, "rb") as streamed:
        assert _records(streamed) == expected
    feeder.join(60)
    with pysam.AlignmentFile(fs.url(bam), "rb", index_filename=fs.url(f"{bam}.bai")) as remote:
        assert _records(remote.fetch("CHROMOSOME_I", 1000, 2000)) == region and region
    assert [p.name for p in tmp_path.iterdir()] == [live.ids["sample.bam.bai"]]
    assert fs.sign(bam).startswith(live.srv.url)


def test_writes_are_refused_with_a_pointer_to_upload(live: Live, tmp_path: Path) -> None:
    fs = live.fs()
    path = f"score://{live.ids['blob.bin']}"
    local = random_file(tmp_path / "x.bin", 10)
    attempts = [
        lambda: fs.open(path, "wb"),
        lambda: fs.open("score://FSS/new/file.txt", "wb"),
        lambda: fs.open(path, "ab"),
        lambda: fs.pipe_file(path, b"x"),
        lambda: fs.touch("score://FSS/new"),
        lambda: fs.rm(path),
        lambda: fs.rm_file(path),
        lambda: fs.mkdir("score://NEW"),
        lambda: fs.makedirs("score://NEW/a"),
        lambda: fs.rmdir("score://FSS"),
        lambda: fs.put(str(local), "score://FSS/x.bin"),
        lambda: fs.put_file(str(local), "score://FSS/x.bin"),
        lambda: fs.mv(path, "score://FSS/moved"),
        lambda: fs.copy(path, "score://FSS/copied"),
        lambda: fsspec.open(path, "wb", **live.options()).open(),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionError, match="read-only here; upload with score-client upload"):
            attempt()
    assert fs.cat_file(path, 0, 4) == live.files["blob.bin"].read_bytes()[:4]  # nothing changed
    with pytest.raises(PermissionError) as refused:
        fs.mkdir("score://NEW")
    assert "mkdir(score://NEW)" in str(refused.value)  # the protocol once


def test_a_misspelled_storage_option_is_refused(live: Live) -> None:
    with pytest.raises(TypeError, match="unknown score:// storage option.*serverurl"):
        fsspec.filesystem("score", serverurl="http://127.0.0.1:1", skip_instance_cache=True)


def test_a_token_of_another_study_is_refused_with_permission_error(live: Live) -> None:
    fs = live.fs(live.srv.token("PROGRAMDATA-OTHER.READ"))
    path = f"score://{live.ids['blob.bin']}"
    bundle = f"score://FSS/{live.analyses['tables']}/calls.tsv"
    for call in (
        lambda: fs.open(path),
        lambda: fs.cat_file(path, 0, 10),
        lambda: fs.info(bundle),
        lambda: fs.url(path),
    ):
        with pytest.raises(PermissionError) as refused:
            call()
        assert refused.value.errno == 13 and "lacks the scope needed" in str(refused.value)  # Score's message
        assert type(refused.value.__cause__).__name__ == "ForbiddenError"
    with pytest.raises(PermissionError):
        pd.read_csv(bundle, sep="\t", storage_options=live.options(live.srv.token("PROGRAMDATA-OTHER.READ")))
    assert fs.ls("score://", detail=False) == ["OTHER"]  # the listing shows only what the token may read
    with pytest.raises(FileNotFoundError):
        fs.ls("score://FSS")
    assert not fs.exists(path)
    assert fs.cat_file(f"score://{live.ids['other.bin']}") == live.files["other.bin"].read_bytes()
    anonymous = fsspec.filesystem("score", server_url=live.srv.url, skip_instance_cache=True)
    with pytest.raises(PermissionError, match="no access token"):
        anonymous.cat_file(path)


def test_an_object_of_an_unpublished_analysis_is_a_permission_error(live: Live, tmp_path: Path) -> None:
    writer = live.srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "draft.bin", 1000)
    files = [{"fileName": src.name, "fileSize": 1000, "fileMd5sum": hashlib.md5(src.read_bytes()).hexdigest()}]
    r = httpx.post(f"{live.srv.url}/submit/FSS", json={"files": files}, headers={"Authorization": f"Bearer {writer}"})
    oid = r.json()["files"][0]["objectId"]
    up = run_client(["upload", "--object-id", oid, "--file", str(src)], server=live.srv.url, token=writer)
    assert up.returncode == 0, up.stderr
    fs = live.fs()
    with pytest.raises(PermissionError) as refused:
        fs.open(f"score://{oid}")
    assert type(refused.value.__cause__).__name__ == "AnalysisStateError"
    assert f"FSS/{r.json()['analysisId']}" not in fs.ls("score://FSS", detail=False, refresh=True)


def test_unknown_ids_and_names_are_file_not_found(live: Live) -> None:
    fs = live.fs()
    tables = live.analyses["tables"]
    for call in (
        lambda: fs.open(f"score://{MISSING}"),
        lambda: fs.info(f"score://{MISSING}"),
        lambda: fs.cat_file(f"score://{MISSING}"),
        lambda: fs.open(f"score://FSS/{tables}/nope.tsv"),
        lambda: fs.open(f"score://FSS/{MISSING}/calls.tsv"),
        lambda: fs.open("score://FSS/a/b/c"),
        lambda: fs.open("score://not-an-id"),
        lambda: pd.read_csv(f"score://{MISSING}", storage_options=live.options()),
    ):
        with pytest.raises(FileNotFoundError) as missing:
            call()
        assert missing.value.errno == 2 and "score://" in str(missing.value)
    assert sys.modules["score.sdk.filesystem"].ScoreFileSystem is type(fs)


def test_without_a_metadata_service_objects_are_listed_and_read_by_id(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "data", free_port()).start()  # SCORE_METADATA__KIND=none
    try:
        token = srv.token("score.READ", "score.WRITE")
        src = random_file(tmp_path / "x.bin", 70_000)
        up = run_client(["upload", "--object-id", MISSING, "--file", str(src)], server=srv.url, token=token)
        assert up.returncode == 0, up.stderr
        fs = fsspec.filesystem("score", server_url=srv.url, token=token, skip_instance_cache=True)
        assert fs.ls("score://", detail=False) == [MISSING]
        assert fs.cat_file(f"score://{MISSING}", 100, 200) == src.read_bytes()[100:200]
        with pytest.raises(FileNotFoundError, match="no metadata service"):
            fs.ls("score://FSS")
        with pytest.raises(FileNotFoundError, match="no metadata service"):
            fs.open("score://FSS/AN/x.bin")
    finally:
        srv.stop()
