"""Score 5.x's Azure containers, served as they are (Azurite): blobs laid out exactly as its Azure profile writes them.

Score's Azure profile (score-server ``AzureDownloadService``/``AzureListingService``, score-client
``AzureUploadService``) keeps each object as one block blob named by the bare object id at the root of
the container ``bucket.name.object`` (``data`` in its AZURE.md), next to a sentinel blob of the
operator's choosing; there is no ``.meta``, no upload state and no metadata. Its client writes with the
legacy SDK's ``CloudBlockBlob.uploadFromFile``: up to 32 MiB in one Put Blob, beyond that blocks of
``azure.blockSize`` with ids ``base64("<random UUID>-<000000>")`` and a Put Block List; the SDK sets the
blob's ``Content-MD5`` property either way. :func:`score_put` does exactly that with the Python SDK.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.kit.bam import HTSLIB_TEST, file_records, require_test_data, samtools, samtools_records
from tests.kit.checks import bearer, ok
from tests.kit.fake_song import SongDouble
from tests.kit.files import MIB, md5_of, random_file
from tests.kit.servers import ServerProcess, run_client

pytestmark = [pytest.mark.e2e, pytest.mark.azurite]
SINGLE_PUT_MAX = 32 * MIB  # the legacy SDK's default singleBlobPutThresholdInBytes
BLOCK = 8 * MIB  # azure.blockSize (Score's default is 100 MiB; the property sets it)


def score_put(container: Any, object_id: str, data: bytes, block_size: int = BLOCK) -> None:
    """Write *data* as Score's client (``--profile azure``) writes object *object_id*."""
    from azure.storage.blob import BlobBlock, ContentSettings

    blob = container.get_blob_client(object_id)
    md5 = ContentSettings(content_md5=bytearray(hashlib.md5(data).digest()))
    if len(data) <= SINGLE_PUT_MAX:
        blob.upload_blob(data, content_settings=md5)  # one Put Blob with x-ms-blob-content-md5
        return
    prefix = f"{uuid.uuid4()}-"
    ids = []
    for n, start in enumerate(range(0, len(data), block_size)):
        ids.append(f"{prefix}{n:06d}")  # the SDK base64-encodes block ids, as the Java SDK does
        blob.stage_block(ids[-1], data[start : start + block_size])
    blob.commit_block_list([BlobBlock(block_id=i) for i in ids], content_settings=md5)


def score_unfinished(container: Any, object_id: str, blocks: int = 2) -> None:
    """What a Score client killed mid-upload leaves: uncommitted blocks with the legacy SDK's ids."""
    blob = container.get_blob_client(object_id)
    prefix = f"{uuid.uuid4()}-"
    for n in range(blocks):
        blob.stage_block(f"{prefix}{n:06d}", b"x" * 1024)


def _assemble(ticket: dict[str, Any]) -> bytes:
    """What an htsget client does: every URL of the ticket in order, with its headers."""
    out = bytearray()
    for entry in ticket["htsget"]["urls"]:
        if entry["url"].startswith("data:"):
            out += base64.b64decode(entry["url"].split(",", 1)[1])
            continue
        r = httpx.get(entry["url"], headers=entry.get("headers", {}), timeout=30)
        assert r.status_code in (200, 206), r.text
        out += r.content
    return bytes(out)


def _container(azurite: Any, name: str) -> Any:
    container = azurite.service().get_container_client(name)
    container.create_container()
    return container


def test_a_score_container_is_served_as_it_is(azurite: Any, server_factory: Any, tmp_path: Path) -> None:
    require_test_data()
    container = _container(azurite, "data")  # AZURE.md: "create a container called `data`"
    container.get_blob_client("heliograph").upload_blob(b"sentinel\n")  # object.sentinel, at the root too
    small = random_file(tmp_path / "small.vcf.gz", MIB + 3)
    large = random_file(tmp_path / "large.bin", SINGLE_PUT_MAX + BLOCK + 5)  # blocks, the last one short
    files = {str(uuid.uuid4()): p for p in (small, large, HTSLIB_TEST / "range.bam", HTSLIB_TEST / "range.bam.bai")}
    for oid, path in files.items():
        score_put(container, oid, path.read_bytes())
    records: dict[str, dict[str, object]] = {
        oid: {
            "study": "ABC",
            "analysis": "an-1",
            "state": "PUBLISHED",
            "size": p.stat().st_size,
            "md5": md5_of(p),
            "name": p.name,
        }
        for oid, p in files.items()
    }
    song = SongDouble(records).start()
    try:
        srv: ServerProcess = server_factory(
            **azurite.server_env("data"), SCORE_METADATA__KIND="song", SCORE_METADATA__URL=song.url
        )
        token = srv.token("score.READ")
        by_name = {p.name: oid for oid, p in files.items()}
        for path in (small, large):
            oid = by_name[path.name]
            out = ok(
                run_client(
                    ["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], server=srv.url, token=token
                )
            )
            assert "md5 verified" in out and md5_of(tmp_path / "o" / oid) == md5_of(path)
            spec = httpx.get(
                f"{srv.url}/download/{oid}",
                params={"offset": 0, "length": -1, "exclude-urls": "true"},
                headers=bearer(token),
            ).json()
            assert (spec["objectSize"], spec["objectMd5"]) == (path.stat().st_size, md5_of(path))
        # /listing: the root-level blobs named by an object id (Score's own rule), not the sentinel
        listing = httpx.get(f"{srv.url}/listing", headers=bearer(token))
        assert listing.status_code == 200, listing.text
        assert {(o["id"], o["size"]) for o in listing.json()} == {(o, p.stat().st_size) for o, p in files.items()}
        # DRS: size and the MD5 from the blob's Content-MD5
        drs = httpx.get(f"{srv.url}/ga4gh/drs/v1/objects/{by_name['large.bin']}", headers=bearer(token))
        assert drs.status_code == 200, drs.text
        obj = drs.json()
        assert obj["size"] == large.stat().st_size
        assert {c["type"]: c["checksum"] for c in obj["checksums"]}["md5"] == md5_of(large)
        # htsget: a BAM slice, its index read from the Score-laid-out .bai
        r = httpx.get(
            f"{srv.url}/ga4gh/htsget/v1/reads/{by_name['range.bam']}",
            params={"referenceName": "CHROMOSOME_I", "start": 999, "end": 2000},
            headers=bearer(token),
            timeout=30,
        )
        assert r.status_code == 200, r.text
        out_bam = tmp_path / "slice.bam"
        out_bam.write_bytes(_assemble(r.json()))
        samtools("quickcheck", str(out_bam))
        expected = samtools_records(HTSLIB_TEST / "range.bam", ["CHROMOSOME_I:1000-2000"])
        got = file_records(out_bam)
        assert [line for line in got if line in set(expected)] == expected
    finally:
        song.stop()
    # reading wrote nothing next to Score's blobs but our own sentinel (behind /download/ping), if anything
    assert {b for b in container.list_blob_names() if not b.startswith("data/")} == {*files, "heliograph"}


@pytest.mark.parametrize("layout", ["data", "score-azure"])
def test_an_upload_score_left_unfinished_is_started_afresh(
    azurite: Any, server_factory: Any, tmp_path: Path, layout: str
) -> None:
    name = f"score-{uuid.uuid4().hex[:12]}"
    container = _container(azurite, name)
    oid = str(uuid.uuid4())
    score_unfinished(container, oid)
    srv = server_factory(
        **azurite.server_env(name, SCORE_STORAGE__MIN_PART_SIZE_BYTES=str(5 * MIB), SCORE_STORAGE__LAYOUT=layout)
    )
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "src.bin", 12 * MIB + 7)
    ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
    ok(run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], server=srv.url, token=token))
    assert md5_of(tmp_path / "o" / oid) == md5_of(src)
    blob = oid if layout == "score-azure" else f"data/{oid}"
    props = container.get_blob_client(blob).get_blob_properties()
    assert bytes(props.content_settings.content_md5).hex() == md5_of(src)


def test_score_azure_layout_writes_what_score_reads(azurite: Any, server_factory: Any, tmp_path: Path) -> None:
    name = f"score-{uuid.uuid4().hex[:12]}"
    container = _container(azurite, name)
    srv = server_factory(**azurite.server_env(name), SCORE_STORAGE__LAYOUT="score-azure")
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "src.bin", 3 * MIB + 1)
    oid = str(uuid.uuid4())
    ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token))
    # What Score's AzureListingService and AzureDownloadService read: a root-level blob named by the id,
    # its length, its Content-MD5 (base64, as base64ToHexMD5 converts it)
    root = {b.name: b for b in container.walk_blobs(delimiter="/") if not b.name.endswith("/")}
    assert oid in root and root[oid].size == src.stat().st_size
    md5_b64 = base64.b64encode(bytes(root[oid].content_settings.content_md5)).decode()
    assert base64.b64decode(md5_b64).hex() == md5_of(src)
    assert not container.get_blob_client(f"data/{oid}").exists()
    ok(run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], server=srv.url, token=token))
    assert md5_of(tmp_path / "o" / oid) == md5_of(src)


def test_overwriting_a_score_object_replaces_its_blob(azurite: Any, server_factory: Any, tmp_path: Path) -> None:
    name = f"score-{uuid.uuid4().hex[:12]}"
    container = _container(azurite, name)
    oid = str(uuid.uuid4())
    score_put(container, oid, b"the old bytes\n")
    srv = server_factory(**azurite.server_env(name))
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "src.bin", MIB)
    # Score's "exists" answers for it (it has no .meta), so nothing replaces it without --force
    assert httpx.get(f"{srv.url}/upload/{oid}", headers=bearer(token)).json() is True
    refused = run_client(["upload", "--object-id", oid, "--file", str(src)], server=srv.url, token=token)
    assert refused.returncode == 7 and "already exists" in refused.stderr, refused.stderr
    assert container.get_blob_client(oid).download_blob().readall() == b"the old bytes\n"
    ok(run_client(["upload", "--object-id", oid, "--file", str(src), "--force"], server=srv.url, token=token))
    assert not container.get_blob_client(oid).exists()  # no stale copy for a Score 5.x reader, nor in /listing
    ok(run_client(["download", "--object-id", oid, "--output-dir", str(tmp_path / "o")], server=srv.url, token=token))
    assert md5_of(tmp_path / "o" / oid) == md5_of(src)


def test_an_unfinished_score_overwrite_is_refused_not_clobbered(
    azurite: Any, server_factory: Any, tmp_path: Path
) -> None:
    name = f"score-{uuid.uuid4().hex[:12]}"
    container = _container(azurite, name)
    oid = str(uuid.uuid4())
    score_put(container, oid, b"committed by Score\n")
    score_unfinished(container, oid)  # then an overwrite by Score's client died half-way
    srv = server_factory(**azurite.server_env(name), SCORE_STORAGE__LAYOUT="score-azure")
    token = srv.token("score.READ", "score.WRITE")
    src = random_file(tmp_path / "src.bin", MIB)
    r = run_client(["upload", "--object-id", oid, "--file", str(src), "--force"], server=srv.url, token=token)
    assert r.returncode != 0 and "uncommitted block" in r.stderr, r.stderr
    assert container.get_blob_client(oid).download_blob().readall() == b"committed by Score\n"
