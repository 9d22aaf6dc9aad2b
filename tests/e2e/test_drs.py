"""GA4GH DRS 1.2 on score-server: the GA4GH compliance suite (PyPI ``drs-compliance-suite``, in its
own venv made by scripts/setup) passes every case; every access URL serves the bytes its checksum
advertises and says when it expires; every object has a checksum, whatever recorded (or did not
record) its MD5; bundles are analyses; every denial has its DRS error."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from score.services.drs import bundle_checksum
from score.storage.urlsign import EXPIRES_PARAM
from tests.e2e.conftest import ok, publish
from tests.kit.files import MIB, random_file
from tests.kit.servers import ServerProcess, free_port, run_client

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / ".venv-drs" / "bin" / "drs-compliance-suite"
BASE = "/ga4gh/drs/v1"


@dataclass
class Drs:
    srv: ServerProcess
    admin: str
    reader: str  # PROGRAMDATA-DRS.READ only
    ids: dict[str, str]
    analyses: dict[str, str]
    src: Path
    audit: Path


@pytest.fixture(scope="module")
def drs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drs]:
    src = tmp_path_factory.mktemp("drs-src")
    random_file(src / "reads.bam", 3 * MIB + 7)
    (src / "notes.txt").write_text("controlled notes\n")
    (src / "public.txt").write_text("open data\n")
    (src / "other.txt").write_text("another study's file\n")
    (src / "draft.txt").write_text("unpublished\n")
    data = tmp_path_factory.mktemp("drs-data")
    audit = data / "audit.jsonl"
    srv = ServerProcess(
        data, free_port(), env={"SCORE_METADATA__KIND": "registry", "SCORE_AUDIT_LOG": str(audit)}
    ).start()
    try:
        admin = srv.token("score.READ", "score.WRITE")
        ids: dict[str, str] = {}
        analyses: dict[str, str] = {}
        for study, files, access, published in (
            ("DRS", ["reads.bam", "notes.txt"], "controlled", True),
            ("PUB", ["public.txt"], "open", True),
            ("OTHER", ["other.txt"], "controlled", True),
            ("DRAFT", ["draft.txt"], "controlled", False),
        ):
            work = src / study
            work.mkdir()
            analyses[study], got = publish(
                srv, admin, [src / f for f in files], work, study, access=access, published=published
            )
            ids.update(got)
        yield Drs(srv, admin, srv.token("PROGRAMDATA-DRS.READ"), ids, analyses, src, audit)
    finally:
        srv.stop()


def _get(d: Drs, path: str, token: str | None = None, method: str = "GET") -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.request(method, f"{d.srv.url}{BASE}{path}", headers=headers, timeout=30)


def test_the_ga4gh_compliance_suite_passes_every_case(drs: Drs, tmp_path: Path) -> None:
    if not SUITE.exists():
        pytest.fail("drs-compliance-suite is missing: run scripts/setup")
    bearer = {"auth_type": "bearer", "auth_token": drs.reader}
    config = {
        "service_info": {"auth_type": "none", "auth_token": ""},
        "drs_object_info": [
            {"drs_id": drs.ids["reads.bam"], **bearer, "is_bundle": False},
            {"drs_id": drs.ids["notes.txt"], **bearer, "is_bundle": False},
            {"drs_id": drs.ids["public.txt"], "auth_type": "none", "auth_token": "", "is_bundle": False},
            {"drs_id": drs.analyses["DRS"], **bearer, "is_bundle": True},
        ],
        "drs_object_access": [
            {"drs_id": drs.ids["reads.bam"], **bearer},
            {"drs_id": drs.ids["public.txt"], "auth_type": "none", "auth_token": ""},
        ],
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "output").mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests" / "kit" / "drs")}
    r = subprocess.run(
        [
            str(SUITE),
            "--server_base_url",
            drs.srv.url + BASE,
            "--platform_name",
            "score",
            "--platform_description",
            "score-server",
            "--drs_version",
            "1.2.0",
            "--config_file",
            "config.json",
            "--report_path",
            "output/report.json",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads((tmp_path / "output" / "report.json").read_text())
    failed = [
        (t.get("test_name"), c.get("case_name"), c.get("message"))
        for phase in report["phases"]
        for t in phase["tests"]
        for c in t["cases"]
        if c["status"] not in ("PASS", "SKIP")
    ]
    assert failed == [] and report["status"] == "PASS", failed
    assert report["summary"]["failed"] == 0 and report["summary"]["passed"] >= 20, report["summary"]


def test_every_access_url_serves_the_bytes_its_checksum_advertises(drs: Drs) -> None:
    signatures: list[str] = []
    for name in ("reads.bam", "notes.txt", "public.txt"):
        oid = drs.ids[name]
        obj = _get(drs, f"/objects/{oid}", drs.admin).json()
        assert obj["name"] == name and obj["self_uri"].endswith(f"/{oid}") and obj["self_uri"].startswith("drs://")
        method = obj["access_methods"][0]
        url = _get(drs, f"/objects/{oid}/access/{method['access_id']}", drs.admin).json()["url"]
        body = httpx.get(url, timeout=30).content
        signatures.append(url.rsplit("signature=", 1)[1])
        assert len(body) == obj["size"] == (drs.src / name).stat().st_size
        md5 = {c["type"]: c["checksum"] for c in obj["checksums"]}["md5"]
        assert hashlib.md5(body).hexdigest() == md5
    log = drs.srv.log() + drs.audit.read_text()
    assert f"{BASE}/objects/" in log and drs.admin not in log and drs.admin.split(".")[2] not in log
    assert not [sig for sig in signatures if sig in log]  # no token, no signature in any log line
    issued = [json.loads(line) for line in drs.audit.read_text().splitlines() if '"issued"' in line]
    assert any(x["object_id"] == drs.ids["reads.bam"] and x["action"] == "url:download" for x in issued)


def test_an_analysis_is_a_bundle_of_the_files_the_token_may_read(drs: Drs) -> None:
    bundle = _get(drs, f"/objects/{drs.analyses['DRS']}", drs.reader).json()
    assert {c["name"]: c["id"] for c in bundle["contents"]} == {
        "reads.bam": drs.ids["reads.bam"],
        "notes.txt": drs.ids["notes.txt"],
    }
    md5s = [_get(drs, f"/objects/{c['id']}", drs.reader).json()["checksums"][0]["checksum"] for c in bundle["contents"]]
    assert bundle["checksums"] == [{"type": "md5", "checksum": bundle_checksum(md5s)}]
    assert bundle["size"] == sum((drs.src / n).stat().st_size for n in ("reads.bam", "notes.txt"))
    assert "access_methods" not in bundle
    assert _get(drs, f"/objects/{drs.analyses['PUB']}").json()["contents"][0]["name"] == "public.txt"  # anonymous


@pytest.mark.parametrize(
    ("who", "what", "status"),
    [
        ("anonymous", "notes.txt", 401),
        ("reader", "other.txt", 403),
        ("reader", "OTHER", 403),  # a bundle of another study
        ("anonymous", "DRS", 401),
        ("admin", "draft.txt", 400),  # not published: nobody may read it yet (final, as Score's 400)
        ("admin", "00000000-0000-0000-0000-000000000000", 404),
        ("admin", "no such thing", 400),
    ],
)
def test_each_denial_has_its_drs_error(drs: Drs, who: str, what: str, status: int) -> None:
    token = {"anonymous": None, "reader": drs.reader, "admin": drs.admin}[who]
    target = drs.ids.get(what) or drs.analyses.get(what) or what
    for path in (f"/objects/{target}", f"/objects/{target}/access/https"):
        r = _get(drs, path.replace(" ", "%20"), token)
        if path.endswith("/access/https") and what in drs.analyses:
            assert r.status_code in (status, 404)  # a bundle has no access method either way
            continue
        assert r.status_code == status, (path, r.text)
        body = r.json()
        assert set(body) == {"msg", "status_code"} and body["status_code"] == status and body["msg"]
        assert "url" not in r.text


def test_unknown_access_ids_and_bundle_access_are_404_and_options_says_how_to_authorize(drs: Drs) -> None:
    assert _get(drs, f"/objects/{drs.ids['notes.txt']}/access/s3", drs.admin).status_code == 404
    bundle = _get(drs, f"/objects/{drs.analyses['DRS']}/access/https", drs.admin)
    assert bundle.status_code == 404 and "bundles have no access methods" in bundle.json()["msg"], bundle.text
    r = _get(drs, f"/objects/{drs.ids['notes.txt']}", method="OPTIONS")
    assert r.status_code == 200 and r.json()["supported_types"] == ["BearerAuth"]
    assert r.json()["bearer_auth_issuers"] == ["score-server"]
    post = httpx.post(
        f"{drs.srv.url}{BASE}/objects/{drs.ids['notes.txt']}",
        json={"passports": []},
        headers={"Authorization": f"Bearer {drs.reader}"},
        timeout=30,
    )
    assert post.status_code == 200 and post.json()["id"] == drs.ids["notes.txt"]
    info = _get(drs, "/service-info").json()
    assert info["type"] == {"group": "org.ga4gh", "artifact": "drs", "version": "1.2.0"}


def test_an_access_url_says_when_it_expires_in_the_expires_header(drs: Drs) -> None:
    """DRS's AccessURL has no expiry field, and the 1.2 schema refuses extra ones: HTTP's ``Expires`` says it."""
    oid = drs.ids["notes.txt"]
    for method in ("GET", "POST"):
        before = datetime.now(UTC).replace(microsecond=0)
        r = _get(drs, f"/objects/{oid}/access/https", drs.reader, method=method)
        assert r.status_code == 200 and set(r.json()) == {"url"}, r.text  # the body stays DRS's AccessURL
        expires = parsedate_to_datetime(r.headers["expires"])
        url_expires = int(parse_qs(urlsplit(r.json()["url"]).query)[EXPIRES_PARAM][0])
        assert int(expires.timestamp()) == url_expires and expires > before
        assert r.headers["cache-control"] == "no-store"  # nobody else gets this caller's URL from a cache
    for path in (f"/objects/{oid}", "/service-info"):  # no URL, no expiry
        assert "expires" not in _get(drs, path, drs.reader).headers


def test_a_blob_on_a_local_store_has_no_region(drs: Drs) -> None:
    method = _get(drs, f"/objects/{drs.ids['notes.txt']}", drs.reader).json()["access_methods"]
    assert method == [{"type": "https", "access_id": "https"}]  # a region only where the store is in a cloud's


@dataclass
class Bare:
    srv: ServerProcess
    token: str
    data: Path


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bare]:
    """No metadata service (so no Song ``fileMd5`` to fall back on) and objects put in the store by hand."""
    data = tmp_path_factory.mktemp("drs-bare") / "data"
    srv = ServerProcess(data, free_port(), env={"SCORE_METADATA__KIND": "none"}).start()
    try:
        yield Bare(srv, srv.token("score.READ", "score.WRITE"), data)
    finally:
        srv.stop()


def _by_hand(bare: Bare, body: bytes, objmeta: dict[str, str] | None = None) -> str:
    """An object copied into the store by another tool: bytes, perhaps store metadata, no ``.meta``."""
    oid = str(uuid.uuid4())
    (bare.data / "objects" / "data").mkdir(parents=True, exist_ok=True)
    (bare.data / "objects" / "data" / oid).write_bytes(body)
    if objmeta is not None:
        (bare.data / "objmeta" / "data").mkdir(parents=True, exist_ok=True)
        (bare.data / "objmeta" / "data" / f"{oid}.json").write_text(json.dumps(objmeta))
    return oid


def _checksums(bare: Bare, oid: str) -> list[dict[str, str]]:
    r = httpx.get(f"{bare.srv.url}{BASE}/objects/{oid}", headers={"Authorization": f"Bearer {bare.token}"}, timeout=60)
    assert r.status_code == 200, r.text
    checksums: list[dict[str, str]] = r.json()["checksums"]
    return checksums


def test_an_object_whose_md5_nothing_recorded_gets_the_md5_of_its_bytes(bare: Bare) -> None:
    body = os.urandom(3 * MIB + 5)
    oid = _by_hand(bare, body)
    expected = [{"type": "md5", "checksum": hashlib.md5(body).hexdigest()}]
    assert _checksums(bare, oid) == expected  # DRS: "at least one checksum must be provided"
    assert _checksums(bare, oid) == expected  # computed once, then remembered
    assert _checksums(bare, _by_hand(bare, b"")) == [{"type": "md5", "checksum": hashlib.md5(b"").hexdigest()}]


def test_an_object_with_only_an_etag_gets_it_as_drs_etag_checksum(bare: Bare) -> None:
    etag = "0cc175b9c0f1b6a831c399e269772661-2"  # a multipart ETag is no MD5: DRS's "etag" type says so
    assert _checksums(bare, _by_hand(bare, b"two parts", {"etag": etag})) == [{"type": "etag", "checksum": etag}]


def test_an_md5_missing_from_meta_comes_from_the_stores_metadata(bare: Bare, tmp_path: Path) -> None:
    """Score's ``.meta`` may lack ``objectMd5``; the store's ``md5chksum`` still knows it."""
    oid = str(uuid.uuid4())
    src = random_file(tmp_path / "up.bin", 100_000)
    ok(run_client(["upload", "--object-id", oid, "--file", str(src)], server=bare.srv.url, token=bare.token))
    meta_path = bare.data / "objects" / "data" / f"{oid}.meta"
    meta = json.loads(meta_path.read_text())
    meta["objectMd5"] = None
    meta_path.write_text(json.dumps(meta))
    assert _checksums(bare, oid) == [{"type": "md5", "checksum": hashlib.md5(src.read_bytes()).hexdigest()}]
