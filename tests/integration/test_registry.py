"""The embedded registry (Song-compatible) and Song's rules, through a running score-server;
and the Song adapter checked against the registry over HTTP (one contract for both)."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from score.domain.errors import NotFoundError, UpstreamUnavailableError
from score.domain.model import Access, AnalysisState
from score.metadata.song import SongMetadata
from score.registry.metadata import RegistryMetadata
from score.registry.store import RegistryStore
from tests.kit.servers import ServerProcess, free_port

pytestmark = pytest.mark.integration
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """score-server with the embedded registry."""
    root = tmp_path_factory.mktemp("registry")
    srv = ServerProcess(
        root / "data",
        free_port(),
        env={
            "SCORE_METADATA__KIND": "registry",
            "SCORE_STORAGE__MIN_PART_SIZE_BYTES": str(5 * MIB),
        },
    ).start()
    yield srv
    srv.stop()


def _h(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _submit(srv: ServerProcess, token: str | None, study: str, files: list[dict[str, Any]]) -> httpx.Response:
    return httpx.post(
        f"{srv.url}/submit/{study}",
        json={"studyId": study, "analysisType": {"name": "variantCall"}, "files": files},
        headers=_h(token),
    )


def _upload(srv: ServerProcess, token: str, oid: str, data: bytes) -> httpx.Response:
    r = httpx.post(f"{srv.url}/upload/{oid}/uploads", params={"fileSize": len(data)}, headers=_h(token))
    if r.status_code != 200:
        return r
    spec = r.json()
    for p in spec["parts"]:
        chunk = data[p["offset"] : p["offset"] + p["partSize"]]
        etag = httpx.put(p["url"], content=chunk).headers["ETag"].strip('"')
        httpx.post(
            f"{srv.url}/upload/{oid}/parts",
            params={"uploadId": spec["uploadId"], "partNumber": p["partNumber"], "md5": _md5(chunk), "etag": etag},
            headers=_h(token),
        ).raise_for_status()
    return httpx.post(
        f"{srv.url}/upload/{oid}", params={"uploadId": spec["uploadId"], "md5": _md5(data)}, headers=_h(token)
    )


def test_submit_needs_the_studys_write_scope(server: ServerProcess) -> None:
    files = [{"fileName": "a.vcf.gz", "fileSize": 10, "fileMd5sum": "0" * 32, "fileAccess": "open"}]
    assert _submit(server, None, "ABC", files).status_code == 401
    assert _submit(server, server.token("score.READ"), "ABC", files).status_code == 403
    refused = _submit(server, server.token("PROGRAMDATA-XYZ.WRITE"), "ABC", files)
    assert refused.status_code == 403  # the refusal names what was refused (it said "an upload")
    assert refused.json()["message"].startswith("the token lacks the scope needed for registering an analysis: ")
    done = _submit(server, server.token("PROGRAMDATA-ABC.WRITE"), "ABC", files)
    assert done.status_code == 200
    publish = httpx.put(
        f"{server.url}/studies/ABC/analysis/publish/{done.json()['analysisId']}",
        headers=_h(server.token("PROGRAMDATA-XYZ.WRITE")),
    )
    assert publish.status_code == 403
    assert publish.json()["message"].startswith("the token lacks the scope needed for publishing an analysis: ")
    for bad in (
        [],
        [{"fileName": "../x", "fileSize": 1, "fileMd5sum": "0" * 32}],
        [{"fileName": "x", "fileSize": -1, "fileMd5sum": "0" * 32}],
        [{"fileName": "x", "fileSize": 1, "fileMd5sum": "nope"}],
        [{"fileName": "x", "fileSize": 1, "fileMd5sum": "0" * 32, "fileAccess": "public"}],
    ):
        r = _submit(server, server.token("score.WRITE"), "ABC", bad)
        assert r.status_code == 400 and r.json()["code"] == "invalid_request", bad


def test_song_rules_from_submit_to_download(server: ServerProcess) -> None:
    writer = server.token("PROGRAMDATA-ABC.WRITE")
    open_data, ctrl_data = os.urandom(6 * MIB), os.urandom(1234)
    r = _submit(
        server,
        writer,
        "ABC",
        [
            {
                "fileName": "open.vcf.gz",
                "fileSize": len(open_data),
                "fileMd5sum": _md5(open_data),
                "fileAccess": "open",
            },
            {
                "fileName": "ctrl.bam",
                "fileSize": len(ctrl_data),
                "fileMd5sum": _md5(ctrl_data),
                "fileAccess": "controlled",
            },
        ],
    )
    analysis = r.json()["analysisId"]
    ids = {f["fileName"]: f["objectId"] for f in r.json()["files"]}
    got = httpx.get(f"{server.url}/studies/ABC/analysis/{analysis}").json()  # public, as Song's reads
    assert got["analysisState"] == "UNPUBLISHED" and {f["objectId"] for f in got["files"]} == set(ids.values())
    # unregistered objects, another study's scope, a size that is not the registered one
    # an unknown id is refused as another study's object would be (no existence oracle); the system scope learns 404
    assert _upload(server, writer, str(uuid.uuid4()), b"x").status_code == 403
    assert _upload(server, server.token("score.WRITE"), str(uuid.uuid4()), b"x").status_code == 404
    assert _upload(server, server.token("PROGRAMDATA-XYZ.WRITE"), ids["ctrl.bam"], ctrl_data).status_code == 403
    assert _upload(server, writer, ids["ctrl.bam"], ctrl_data + b"!").status_code == 400
    # publishing before the bytes are there is refused, as Song does
    pub = httpx.put(f"{server.url}/studies/ABC/analysis/publish/{analysis}", headers=_h(writer))
    assert pub.status_code == 409 and "has not been uploaded" in pub.json()["message"]
    assert _upload(server, writer, ids["open.vcf.gz"], open_data).status_code == 200
    assert _upload(server, writer, ids["ctrl.bam"], ctrl_data).status_code == 200
    reader = server.token("PROGRAMDATA-ABC.READ")
    early = httpx.get(f"{server.url}/download/{ids['ctrl.bam']}", headers=_h(reader))
    assert (
        early.status_code == 400 and early.json()["code"] == "analysis_state" and "PUBLISHED" in early.json()["message"]
    )
    meta = httpx.get(f"{server.url}/download/{ids['ctrl.bam']}", params={"exclude-urls": "true"}, headers=_h(reader))
    assert meta.status_code == 200 and meta.json()["objectMd5"] == _md5(ctrl_data)  # Song's publish check
    assert httpx.put(f"{server.url}/studies/ABC/analysis/publish/{analysis}", headers=_h(writer)).status_code == 200
    # published: the open file for anyone, the controlled one for the study's readers only
    assert httpx.get(f"{server.url}/download/{ids['open.vcf.gz']}").status_code == 200
    assert httpx.get(f"{server.url}/download/{ids['ctrl.bam']}").status_code == 401
    assert (
        httpx.get(
            f"{server.url}/download/{ids['ctrl.bam']}", headers=_h(server.token("PROGRAMDATA-XYZ.READ"))
        ).status_code
        == 403
    )
    spec = httpx.get(f"{server.url}/download/{ids['ctrl.bam']}", headers=_h(reader)).json()
    assert httpx.get(spec["parts"][0]["url"], headers={"Range": "bytes=0-1233"}).content == ctrl_data
    listed = {
        o["id"] for o in httpx.get(f"{server.url}/listing", headers=_h(server.token("PROGRAMDATA-XYZ.READ"))).json()
    }
    assert ids["ctrl.bam"] not in listed and ids["open.vcf.gz"] in listed
    # a published analysis takes no uploads until unpublished
    again = httpx.post(
        f"{server.url}/upload/{ids['ctrl.bam']}/uploads",
        params={"fileSize": len(ctrl_data), "overwrite": "true"},
        headers=_h(writer),
    )
    assert (
        again.status_code == 400
        and again.json()["code"] == "analysis_state"
        and "UNPUBLISHED" in again.json()["message"]
    )
    assert httpx.put(f"{server.url}/studies/ABC/analysis/suppress/{analysis}", headers=_h(writer)).status_code == 200
    assert httpx.put(f"{server.url}/studies/ABC/analysis/publish/{analysis}", headers=_h(writer)).status_code == 400
    page = httpx.get(f"{server.url}/entities", params={"gnosId": analysis, "size": 1, "page": 1}).json()
    assert page["totalElements"] == 2 and page["totalPages"] == 2 and len(page["content"]) == 1 and page["last"]


def test_song_adapter_contract_against_the_registry(server: ServerProcess, tmp_path: Path) -> None:
    """What the Song adapter reads over HTTP equals what the registry holds."""
    writer = server.token("score.WRITE")
    r = _submit(
        server,
        writer,
        "XYZ",
        [
            {
                "fileName": "s.cram",
                "fileSize": 42,
                "fileMd5sum": "a" * 32,
                "fileAccess": "controlled",
                "fileType": "CRAM",
            },
        ],
    )
    oid = r.json()["files"][0]["objectId"]
    song = SongMetadata(server.url, cache_ttl=timedelta(seconds=0))

    async def go() -> None:
        record = await song.get(oid)
        assert (record.study_id, record.access, record.analysis_state, record.file_size, record.file_md5) == (
            "XYZ",
            Access.CONTROLLED,
            AnalysisState.UNPUBLISHED,
            42,
            "a" * 32,
        )
        assert record.analysis_id == r.json()["analysisId"] and record.file_name == "s.cram"
        with pytest.raises(NotFoundError):
            await song.get(str(uuid.uuid4()))
        await song.aclose()
        down = SongMetadata(f"http://127.0.0.1:{free_port()}", timeout=1)
        with pytest.raises(UpstreamUnavailableError) as info:
            await down.get(oid)
        assert info.value.retryable
        await down.aclose()

    anyio.run(go)
    # the same records from the registry in process (its database is the server's)
    # the same records over HTTP (the adapter) as in process (the registry), for open and controlled
    # files in each state, and the same paged file lists for the client
    many = _submit(
        server,
        writer,
        "XYZ",
        [
            {
                "fileName": f"f{i}.vcf.gz",
                "fileSize": i,
                "fileMd5sum": f"{i:032x}",
                "fileAccess": "open" if i % 2 else "controlled",
            }
            for i in range(5)
        ],
    ).json()
    oids = [f["objectId"] for f in many["files"]]
    registry = RegistryStore(server.data_dir / "registry.sqlite")

    async def both() -> None:
        remote = SongMetadata(server.url, cache_ttl=timedelta(seconds=0))
        try:
            for o in [oid, *oids]:
                assert await RegistryMetadata(registry).get(o) == await remote.get(o)
        finally:
            await remote.aclose()

    try:
        anyio.run(both)
        httpx.put(f"{server.url}/studies/XYZ/analysis/suppress/{many['analysisId']}", headers=_h(writer))
        anyio.run(both)
        from score.client.http.metadata_api import MetadataApi

        api = MetadataApi(server.url, None)
        try:
            entities = api.analysis_entities(many["analysisId"], "XYZ", page_size=2)  # 3 pages
            assert sorted(x.object_id for x in entities) == sorted(oids)
        finally:
            api.close()
    finally:
        registry.close()


def test_server_on_the_song_adapter_follows_song(server: ServerProcess) -> None:
    """A second server (same store) whose metadata comes from the first one's registry over HTTP, as from Song."""
    song_side = ServerProcess(
        server.data_dir,
        free_port(),
        env={
            "SCORE_METADATA__KIND": "song",
            "SCORE_METADATA__URL": server.url,
            "SCORE_METADATA__CACHE_TTL": "0",
            "SCORE_STORAGE__MIN_PART_SIZE_BYTES": str(5 * MIB),
        },
    ).start()
    try:
        writer = server.token("PROGRAMDATA-SNG.WRITE")
        data = os.urandom(3000)
        r = _submit(server, writer, "SNG", [{"fileName": "x.bam", "fileSize": len(data), "fileMd5sum": _md5(data)}])
        oid, analysis = r.json()["files"][0]["objectId"], r.json()["analysisId"]
        assert _upload(song_side, writer, str(uuid.uuid4()), data).status_code == 403  # unknown to Song: no oracle
        assert _upload(song_side, server.token("score.WRITE"), str(uuid.uuid4()), data).status_code == 404
        assert _upload(song_side, writer, oid, data + b"?").status_code == 400  # not Song's size
        assert _upload(song_side, writer, oid, data).status_code == 200
        reader = server.token("PROGRAMDATA-SNG.READ")
        assert httpx.get(f"{song_side.url}/download/{oid}", headers=_h(reader)).status_code == 400
        assert httpx.put(f"{server.url}/studies/SNG/analysis/publish/{analysis}", headers=_h(writer)).status_code == 200
        assert httpx.get(f"{song_side.url}/download/{oid}", headers=_h(reader)).status_code == 200
        assert httpx.get(f"{song_side.url}/download/{oid}").status_code == 401  # controlled by default
    finally:
        song_side.stop()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"page": 2**63 - 1}, "invalid parameters: page: Input should be less than or equal to 1000000000"),
        ({"page": 2**63}, "invalid parameters: page: Input should be less than or equal to 1000000000"),
        ({"size": 2**63}, "invalid parameters: size: Input should be less than or equal to 2000"),
    ],
)
def test_entity_pages_beyond_sqlites_integers_are_400(
    server: ServerProcess, params: dict[str, int], message: str
) -> None:
    """Issue 20, defect 9: page=2**63-1 overflowed SQLite's OFFSET and answered 500."""
    r = httpx.get(f"{server.url}/entities", params=params)
    assert r.status_code == 400, r.text
    assert r.json() == {"code": "invalid_request", "message": message, "retryable": False}


@pytest.mark.parametrize("size", [2**63, 2**64 + 5, 10**30])
def test_file_sizes_beyond_sqlites_integers_are_400(server: ServerProcess, size: int) -> None:
    """Issue 20, defect 9: fileSize=2**63 overflowed SQLite's INTEGER and answered 500."""
    r = _submit(
        server, server.token("score.WRITE"), "ABC", [{"fileName": "big.bam", "fileSize": size, "fileMd5sum": "0" * 32}]
    )
    assert r.status_code == 400, r.text
    assert r.json()["message"] == "files[0].fileSize must be an integer from 0 to 9223372036854775807"
    ok = _submit(
        server,
        server.token("score.WRITE"),
        "ABC",
        [{"fileName": "big.bam", "fileSize": 2**63 - 1, "fileMd5sum": "0" * 32}],
    )
    assert ok.status_code == 200 and ok.json()["files"][0]["fileSize"] == 2**63 - 1


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a\nb.bam", r"files[1].fileName 'a\nb.bam' contains control characters"),
        ("nul\x00.bam", r"files[1].fileName 'nul\x00.bam' contains control characters"),
        ("esc\x1b[2J.bam", r"files[1].fileName 'esc\x1b[2J.bam' contains control characters"),
        ("del\x7f.bam", r"files[1].fileName 'del\x7f.bam' contains control characters"),
        ("c1\x9b.bam", r"files[1].fileName 'c1\x9b.bam' contains control characters"),
        ("bidi\u202egpj.exe", r"files[1].fileName 'bidi\u202egpj.exe' contains control characters"),
        ("sur\ud800.bam", r"files[1].fileName 'sur\ud800.bam' contains control characters"),
        ("back\\slash.bam", "files[1].fileName 'back\\\\slash.bam' must be a plain file name (no '/' or '\\')"),
    ],
)
def test_file_names_with_control_characters_or_backslashes_are_refused_at_submit(
    server: ServerProcess, name: str, message: str
) -> None:
    """Issue 20, defect 9: such names were registered, then printed raw or used as paths by clients."""
    files = [
        {"fileName": "fine é.bam", "fileSize": 1, "fileMd5sum": "0" * 32},
        {"fileName": name, "fileSize": 1, "fileMd5sum": "0" * 32},
    ]
    body = json.dumps({"studyId": "ABC", "files": files})  # ensure_ascii: a lone surrogate travels as \ud800
    r = httpx.post(
        f"{server.url}/submit/ABC",
        content=body,
        headers={**_h(server.token("score.WRITE")), "Content-Type": "application/json"},
    )
    assert r.status_code == 400, r.text
    assert r.json() == {"code": "invalid_request", "message": message, "retryable": False}


def test_file_types_with_control_characters_are_refused_at_submit(server: ServerProcess) -> None:
    r = httpx.post(
        f"{server.url}/submit/ABC",
        headers={**_h(server.token("score.WRITE")), "Content-Type": "application/json"},
        content=json.dumps(
            {"files": [{"fileName": "x.bam", "fileSize": 1, "fileMd5sum": "0" * 32, "fileType": "BAM\ud800"}]}
        ),
    )
    assert r.status_code == 400, r.text
    assert r.json()["message"] == r"files[0].fileType 'BAM\ud800' contains control characters"


def test_unknown_ids_answer_as_refused_ones_on_every_read_api(server: ServerProcess) -> None:
    """No existence oracle (issue 20, defect 7): on the REST API, htsget and DRS, an unknown id answers exactly
    as a registered controlled or unpublished one does, without a token and with another study's token."""
    writer = server.token("PROGRAMDATA-ORC.WRITE", "PROGRAMDATA-ORC.READ")
    data = os.urandom(2000)
    files = [
        {"fileName": f"{name}.bam", "fileSize": len(data), "fileMd5sum": _md5(data), "fileAccess": access}
        for name, access in (("ctrl", "controlled"), ("open", "open"))
    ]
    r = _submit(server, writer, "ORC", files)
    ids = {f["fileName"]: f["objectId"] for f in r.json()["files"]}
    for oid in ids.values():
        assert _upload(server, writer, oid, data).status_code == 200
    unknown = str(uuid.uuid4())
    other = server.token("PROGRAMDATA-ELSE.READ", "PROGRAMDATA-ELSE.WRITE")
    paths = [
        "/download/{}",
        "/download/{}?external=true",
        "/ga4gh/htsget/v1/reads/{}",
        "/ga4gh/drs/v1/objects/{}",
        "/ga4gh/drs/v1/objects/{}/access/https",
        "/upload/{}",
    ]
    for token, status in ((None, 401), (other, 403)):
        for path in paths:
            # the controlled file, the open one (unpublished, so not public yet) and an unknown id
            answers = [
                httpx.get(server.url + path.format(oid), headers=_h(token))
                for oid in (ids["ctrl.bam"], ids["open.bam"], unknown)
            ]
            assert [a.status_code for a in answers] == [status] * 3, (path, token is None, [a.text for a in answers])
            bodies = {
                a.text.replace(oid, "<id>")
                for a, oid in zip(answers, (ids["ctrl.bam"], ids["open.bam"], unknown), strict=True)
            }
            assert len(bodies) == 1, (path, bodies)
    # a token with the system scope may act on any id, so it learns that one is unknown
    admin = server.token("score.READ")
    assert httpx.get(f"{server.url}/download/{unknown}", headers=_h(admin)).status_code == 404
