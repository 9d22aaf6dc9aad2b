"""``score.Client`` against a live score-server with the embedded registry: configured as the CLI is, download,
upload, read in place (seeks, ranges, threads), URLs, size and MD5, and Score's errors for refusals.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from score import Client
from score.domain import errors as e
from tests.kit.files import MIB, random_file
from tests.kit.registered import publish_file
from tests.kit.servers import ServerProcess, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str, Path, str]]:
    """A server, a writer token, a 3 MiB file and its published object id."""
    root = tmp_path_factory.mktemp("api")
    srv = ServerProcess(root / "data", free_port(), env={"SCORE_METADATA__KIND": "registry"}).start()
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(root / "reads.bam", 3 * MIB + 12345)
    oid = publish_file(srv.url, token, "API", src)
    yield srv, token, src, oid
    srv.stop()


def test_download_stat_url_and_environment_settings(
    live: tuple[ServerProcess, str, Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv, token, src, oid = live
    data = src.read_bytes()
    with Client(srv.url, token=token) as score:
        result = score.download(oid, tmp_path / "out")
        assert result.verified and (tmp_path / "out" / oid).read_bytes() == data
        again = score.download(oid, tmp_path / "out")  # complete already: kept
        assert again.skipped
        stat = score.stat(oid)
        assert (stat.size, stat.md5) == (len(data), hashlib.md5(data).hexdigest())
        assert httpx.get(score.url(oid)).content == data
    monkeypatch.setenv("STORAGE_URL", srv.url)  # Score's names, as score-client reads them
    monkeypatch.setenv("ACCESSTOKEN", token)
    with Client() as score:
        assert score.read_range(oid, 0, 4) == data[:4]


def test_open_reads_in_place_with_seeks_ranges_and_threads(live: tuple[ServerProcess, str, Path, str]) -> None:
    srv, token, src, oid = live
    data = src.read_bytes()
    rng = random.Random(7)
    with Client(srv.url, token=token) as score:
        with score.open(oid) as f:
            assert f.readable() and f.seekable() and not f.writable()
            assert f.read(10) == data[:10] and f.tell() == 10
            assert score.reader.urls.issued == 0  # the URL came with open's size and MD5: no second request
            for _ in range(50):
                at, n = rng.randrange(len(data)), rng.randrange(1, 200_000)
                f.seek(at)
                assert f.read(n) == data[at : at + n]
            assert f.seek(-100, io.SEEK_END) == len(data) - 100
            assert f.read() == data[-100:] and f.read(5) == b""  # at the end: empty, as a file
            f.seek(0)
            assert hashlib.md5(f.read()).hexdigest() == hashlib.md5(data).hexdigest()
        assert score.read_range(oid, -10) == data[-10:]
        assert score.read_range(oid, 5, 5) == b"" and score.read_range(oid, len(data) + 5) == b""
        errors: list[BaseException] = []

        def reader(seed: int) -> None:
            r = random.Random(seed)
            try:
                with score.open(oid) as g:
                    for _ in range(20):
                        at = r.randrange(len(data))
                        g.seek(at)
                        assert g.read(65536) == data[at : at + 65536]
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == []


def test_upload_through_the_api(live: tuple[ServerProcess, str, Path, str], tmp_path: Path) -> None:
    srv, token, _, _ = live
    src = random_file(tmp_path / "new.vcf.gz", 7 * MIB + 3)
    md5 = hashlib.md5(src.read_bytes()).hexdigest()
    files = [{"fileName": src.name, "fileSize": src.stat().st_size, "fileMd5sum": md5}]
    r = httpx.post(f"{srv.url}/submit/API", json={"files": files}, headers={"Authorization": f"Bearer {token}"})
    oid = r.json()["files"][0]["objectId"]
    with Client(srv.url, token=token) as score:
        result = score.upload(oid, src)
        assert result.md5 == md5 and result.size == src.stat().st_size
        again = score.upload(oid, src)  # the server holds this very file
        assert again.already_uploaded


def test_refusals_are_scores_errors(live: tuple[ServerProcess, str, Path, str], tmp_path: Path) -> None:
    srv, _, _, oid = live
    other = srv.token("PROGRAMDATA-OTHER.READ")
    with Client(srv.url, token=other) as score:
        with pytest.raises(e.ForbiddenError):
            score.open(oid)
        with pytest.raises(e.ForbiddenError):
            score.download(oid, tmp_path)
    assert not any(tmp_path.iterdir())  # nothing written
    with pytest.raises(e.ConfigError, match="must start with http"):
        Client("ftp://example.org")
    with Client(srv.url, token=srv.token("score.READ")) as score:
        with pytest.raises(e.NotFoundError):
            score.stat("5b7a1c9e-3f4d-4e2a-9b8c-0d1e2f3a4b5c")
        for bad in ("", "../x", "not-an-id"):  # refused before any request, not "no such endpoint"
            with pytest.raises(e.InvalidRequestError, match="invalid object id"):
                score.stat(bad)
    notes = tmp_path / "notes.txt"
    notes.write_text("not alignments\n")
    notes_id = publish_file(srv.url, srv.token("score.READ", "score.WRITE"), "API", notes)
    with Client(srv.url, token=srv.token("score.READ")) as score:  # no command-line flags in the API's errors
        with pytest.raises(e.InvalidRequestError, match=f"object {notes_id} is not a BAM, CRAM or SAM file"):
            score.slice(notes_id, "chr1:1-100", tmp_path / "notes.sam")
        with pytest.raises(e.NotFoundError, match="for reads.bam in analysis .*; upload its index") as missing:
            score.slice(oid, "chr1:1-100", tmp_path / "reads.sam")
        assert "--" not in missing.value.message
    assert not list(tmp_path.glob("*.sam"))
    assert os.environ.get("ACCESSTOKEN") is None  # nothing leaks into the environment
