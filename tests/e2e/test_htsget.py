"""htsget 1.3 on score-server: tickets of pre-signed byte ranges, fetched, concatenated and parsed
by samtools and pysam; an independent client (PyPI ``htsget``); htsget's errors; the audit trail;
when a ticket's URLs expire; service-info where GA4GH clients look for it."""

from __future__ import annotations

import base64
import json
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from score.storage.urlsign import EXPIRES_PARAM
from tests.e2e.conftest import Served, publish
from tests.kit.bam import HTSLIB_TEST, file_records, large_bam, samtools, samtools_records
from tests.kit.servers import free_port

pytestmark = pytest.mark.e2e
CE = HTSLIB_TEST / "ce.fa"
BASE = "/ga4gh/htsget/v1/reads"


def _ticket(
    served: Served, oid: str, token: str | None = None, body: dict[str, Any] | None = None, **params: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or served.token}"} if token != "" else {}
    url = f"{served.srv.url}{BASE}/{oid}"
    if body is not None:
        return httpx.post(url, json=body, headers=headers, timeout=30)
    return httpx.get(url, params=params, headers=headers, timeout=30)


def _assemble(ticket: dict[str, Any]) -> bytes:
    """What an htsget client does: fetch every block in order (with its headers) and concatenate."""
    out = bytearray()
    for entry in ticket["htsget"]["urls"]:
        url = entry["url"]
        if url.startswith("data:"):
            out += base64.b64decode(url.split(",", 1)[1])
            continue
        assert "Authorization" not in entry.get("headers", {})  # the API token never goes to the store
        r = httpx.get(url, headers=entry.get("headers", {}), timeout=30)
        assert r.status_code in (200, 206), r.text
        out += r.content
    return bytes(out)


def _overlapping(got: list[str], expected: list[str]) -> list[str]:
    """The records of *got* that samtools returns too, in *got*'s order (a ticket may hold a few more)."""
    wanted = set(expected)
    return [r for r in got if r in wanted]


def _slice(served: Served, tmp: Path, name: str, ref: str | None = None, **params: Any) -> list[str]:
    r = _ticket(served, served.ids[name], **params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.ga4gh.htsget.v1.3.0+json")
    ticket = r.json()
    assert ticket["htsget"]["format"] == ("CRAM" if name.endswith(".cram") else "BAM")
    out = tmp / f"slice-{len(list(tmp.iterdir()))}{Path(name).suffix}"
    out.write_bytes(_assemble(ticket))
    samtools("quickcheck", str(out))  # a complete file: header, records, EOF marker
    return file_records(out, CE if name.endswith(".cram") else None)


REGIONS = [
    ("range.bam", "CHROMOSOME_I", 999, 2000),
    ("range.bam", "CHROMOSOME_II", None, None),
    ("range.bam", "CHROMOSOME_III", 0, 2500),
    ("range.bam", "CHROMOSOME_V", None, None),  # no reads
    ("range.cram", "CHROMOSOME_I", 999, 2000),
    ("range.cram", "CHROMOSOME_IV", None, None),
    ("range.cram", "CHROMOSOME_X", 10, 20),  # no reads
    ("mpileup.1.bam", "17", 99, 1000),
    ("colons.bam", "chr1:100-200", 0, 1000),  # a name with a colon needs no quoting in htsget
    ("ce#unmap2.bam", "*", None, None),  # unplaced reads
]


@pytest.mark.parametrize(("name", "ref", "start", "end"), REGIONS, ids=[f"{n}:{r}" for n, r, *_ in REGIONS])
def test_ticket_slices_hold_exactly_the_region(
    served: Served, tmp_path: Path, name: str, ref: str, start: int | None, end: int | None
) -> None:
    params = {
        "referenceName": ref,
        **({"start": start} if start is not None else {}),
        **({"end": end} if end is not None else {}),
    }
    got = _slice(served, tmp_path, name, **params)
    region = ref if ref == "*" else f"{{{ref}}}" if ":" in ref else ref
    if start is not None:
        region += f":{start + 1}-{end}"
    expected = samtools_records(served.src / name, [region], CE if name.endswith(".cram") else None)
    # htsget may return more records (whole blocks or containers) than asked for, never fewer, and in
    # file order; that the extra is small is checked on a large BAM below
    assert _overlapping(got, expected) == expected
    if ref == "*":
        assert [line for line in got if line.split("\t")[2] == "*"] == expected and len(expected) == 9


def test_header_whole_file_and_several_regions(served: Served, tmp_path: Path) -> None:
    import pysam

    for name in ("range.bam", "range.cram"):
        assert _slice(served, tmp_path, name, **{"class": "header"}) == []
        whole = _ticket(served, served.ids[name]).json()
        assert _assemble(whole) == (served.src / name).read_bytes()
    # POST (htsget 1.3): several regions, overlapping ones merged, file order kept
    body = {
        "format": "BAM",
        "regions": [
            {"referenceName": "CHROMOSOME_III", "start": 0, "end": 2500},
            {"referenceName": "CHROMOSOME_I", "start": 999, "end": 2000},
            {"referenceName": "CHROMOSOME_I", "start": 1500, "end": 1600},
        ],
    }
    r = _ticket(served, served.ids["range.bam"], body=body)
    assert r.status_code == 200, r.text
    out = tmp_path / "post.bam"
    out.write_bytes(_assemble(r.json()))
    expected = samtools_records(served.src / "range.bam", ["CHROMOSOME_I:1000-2000", "CHROMOSOME_III:1-2500"])
    got = file_records(out)
    assert _overlapping(got, expected) == expected
    with pysam.AlignmentFile(str(out)) as f:  # pysam reads the concatenation too
        names = {rec.query_name for rec in f.fetch(until_eof=True)}
    assert {line.split("\t")[0] for line in expected} <= names


def test_the_htsget_client_from_pypi_fetches_a_slice(served: Served, tmp_path: Path) -> None:
    import htsget

    out = tmp_path / "client.bam"
    with out.open("wb") as f:
        htsget.get(
            f"{served.srv.url}{BASE}/{served.ids['range.bam']}",
            f,
            reference_name="CHROMOSOME_I",
            start=999,
            end=2000,
            bearer_token=served.token,
            max_retries=0,
        )
    expected = samtools_records(served.src / "range.bam", ["CHROMOSOME_I:1000-2000"])
    assert _overlapping(file_records(out), expected) == expected and len(expected) == 14
    with (tmp_path / "client.cram").open("wb") as f:
        htsget.get(
            f"{served.srv.url}{BASE}/{served.ids['range.cram']}",
            f,
            reference_name="CHROMOSOME_II",
            data_format="CRAM",
            bearer_token=served.token,
            max_retries=0,
        )
    expected = samtools_records(served.src / "range.cram", ["CHROMOSOME_II"], CE)
    assert _overlapping(file_records(tmp_path / "client.cram", CE), expected) == expected


ERRORS: list[tuple[str, str, dict[str, Any], int, str, str]] = [
    (
        "range.bam",
        "read",
        {"format": "CRAM", "referenceName": "CHROMOSOME_I"},
        400,
        "UnsupportedFormat",
        "stored as BAM",
    ),
    ("notes.txt", "read", {"referenceName": "CHROMOSOME_I"}, 400, "UnsupportedFormat", "not BAM or CRAM"),
    (
        "range.bam",
        "read",
        {"referenceName": "CHROMOSOME_I", "start": 2000, "end": 1000},
        400,
        "InvalidRange",
        "greater",
    ),
    ("range.bam", "read", {"referenceName": "CHROMOSOME_I", "start": -1}, 400, "InvalidRange", "between 0"),
    ("range.bam", "read", {"start": 10}, 400, "InvalidInput", "need referenceName"),
    ("range.bam", "read", {"referenceName": "*", "start": 10}, 400, "InvalidInput", "no start or end"),
    ("range.bam", "read", {"class": "body"}, 400, "InvalidInput", "class must be 'header'"),
    (
        "range.bam",
        "read",
        {"class": "header", "referenceName": "CHROMOSOME_I"},
        400,
        "InvalidInput",
        "class=header takes no other parameter than format; drop referenceName",
    ),
    ("range.bam", "read", {"tags": "RG,NM", "notags": "NM"}, 400, "InvalidInput", "must not share a tag: NM"),
    ("range.bam", "read", {"referenceName": "CHROMOSOME_I", "end": 2**32}, 400, "InvalidRange", "and 4294967295"),
    ("range.bam", "read", {"referenceName": "chrZ"}, 404, "NotFound", "'chrZ' is not in this file"),
    ("noindex.bam", "read", {"referenceName": "CHROMOSOME_I"}, 404, "NotFound", "no index for noindex.bam"),
    ("range.bam", "none", {"referenceName": "CHROMOSOME_I"}, 401, "InvalidAuthentication", "token"),
    ("range.bam", "other-study", {"referenceName": "CHROMOSOME_I"}, 403, "PermissionDenied", "scope"),
    ("range.bam", "bad", {"referenceName": "CHROMOSOME_I"}, 401, "InvalidAuthentication", ""),
]


@pytest.mark.parametrize(
    ("name", "who", "params", "status", "error", "message"),
    ERRORS,
    ids=[f"{status}-{err}-{msg or who}" for _, who, _, status, err, msg in ERRORS],
)
def test_errors_are_htsget_json(
    served: Served, name: str, who: str, params: dict[str, Any], status: int, error: str, message: str
) -> None:
    token = {
        "read": served.token,
        "none": "",
        "bad": "not-a-token",
        "other-study": served.srv.token("PROGRAMDATA-OTHER.READ"),
    }[who]
    r = _ticket(served, served.ids[name], token=token, **params)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["htsget"]["error"] == error and message in body["htsget"]["message"]
    assert set(body) == {"htsget"} and set(body["htsget"]) == {"error", "message"}


POST_ERRORS: list[tuple[dict[str, Any], dict[str, Any], str, str]] = [
    ({"regions": [{"referenceName": "CHROMOSOME_I", "start": 100, "end": 100}]}, {}, "InvalidRange", "equal to end"),
    ({"class": "header", "regions": [{"referenceName": "CHROMOSOME_I"}]}, {}, "InvalidInput", "drop regions"),
    ({"class": "header", "tags": ["RG"]}, {}, "InvalidInput", "drop tags"),
    ({"tags": ["RG"], "notags": ["RG"]}, {}, "InvalidInput", "must not share a tag: RG"),
    ({"regions": [{"referenceName": "CHROMOSOME_I"}]}, {"referenceName": "CHROMOSOME_I"}, "InvalidInput", "move"),
]


@pytest.mark.parametrize(("body", "params", "error", "message"), POST_ERRORS, ids=[m for *_, m in POST_ERRORS])
def test_post_follows_htsgets_rules_between_parameters(
    served: Served, body: dict[str, Any], params: dict[str, Any], error: str, message: str
) -> None:
    """An independent check against htsget 1.3 (helper report): POST took start == end, class=header with
    regions or tags, tags that notags also names, and GET's query parameters; each is an error there."""
    r = httpx.post(
        f"{served.srv.url}{BASE}/{served.ids['range.bam']}",
        params=params,
        json=body,
        headers={"Authorization": f"Bearer {served.token}"},
        timeout=30,
    )
    assert r.status_code == 400, r.text
    assert r.json()["htsget"]["error"] == error and message in r.json()["htsget"]["message"]


def test_a_whole_file_ticket_gives_no_url_a_class_and_positions_past_int32_are_valid(served: Served) -> None:
    """A whole-file ticket called its first URL, which holds the header, "body": a client that reuses a header
    it fetched with class=header (as htsget allows) then read the header twice. htsget 1.3: "either all or none
    of the URLs ... MUST have a class"; and start/end are 32-bit unsigned."""
    for name in ("range.bam", "range.cram"):
        urls = _ticket(served, served.ids[name]).json()["htsget"]["urls"]
        assert urls and all("class" not in u for u in urls), urls
        region = _ticket(served, served.ids[name], referenceName="CHROMOSOME_I").json()["htsget"]["urls"]
        assert region[0]["class"] == "header" and {u["class"] for u in region[1:]} == {"body"}
    far = _ticket(served, served.ids["range.bam"], referenceName="CHROMOSOME_I", start=3_000_000_000, end=2**32 - 1)
    assert far.status_code == 200, far.text  # past every read: a ticket with the header alone
    assert {u.get("class") for u in far.json()["htsget"]["urls"]} <= {"header", "body"}


def test_unknown_ids_and_routes_and_service_info(served: Served) -> None:
    for oid, code in (("00000000-0000-0000-0000-000000000000", 404), ("not an id", 400)):
        r = httpx.get(f"{served.srv.url}{BASE}/{oid}", headers={"Authorization": f"Bearer {served.token}"})
        assert r.status_code == code and r.json()["htsget"]["error"] in ("NotFound", "InvalidInput")
    r = httpx.get(f"{served.srv.url}{BASE}/service-info")
    info = r.json()
    assert r.status_code == 200 and info["type"] == {"group": "org.ga4gh", "artifact": "htsget", "version": "1.3.0"}
    assert info["htsget"]["datatype"] == "reads" and info["htsget"]["formats"] == ["BAM", "CRAM"]


def test_a_ticket_says_when_its_urls_expire_in_the_expires_header(served: Served) -> None:
    """htsget's ticket has no expiry field (its schema refuses extra ones): HTTP's ``Expires`` says it."""
    for r in (
        _ticket(served, served.ids["range.bam"], referenceName="CHROMOSOME_I"),
        _ticket(served, served.ids["range.cram"], body={"regions": [{"referenceName": "CHROMOSOME_II"}]}),
        _ticket(served, served.ids["range.bam"]),  # the whole file
    ):
        assert r.status_code == 200, r.text
        assert set(r.json()) == {"htsget"} and set(r.json()["htsget"]) == {"format", "urls"}
        signed = [u["url"] for u in r.json()["htsget"]["urls"] if not u["url"].startswith("data:")]
        expires = int(parsedate_to_datetime(r.headers["expires"]).timestamp())
        assert signed and {int(parse_qs(urlsplit(u).query)[EXPIRES_PARAM][0]) for u in signed} == {expires}
        assert r.headers["cache-control"] == "no-store"


def test_service_info_at_the_api_root_and_405_for_post(served: Served) -> None:
    """GA4GH service-info clients ask ``{base}/service-info``; htsget 1.3 names the fields
    ``fieldsParameterEffective`` and ``tagsParametersEffective``; a POST there is no ticket request."""
    root = served.srv.url + BASE.rsplit("/", 1)[0]
    r = httpx.get(f"{root}/service-info", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.ga4gh.htsget.v1.3.0+json")
    info = r.json()
    assert info["type"] == {"group": "org.ga4gh", "artifact": "htsget", "version": "1.3.0"}
    assert info["htsget"] == {
        "formats": ["BAM", "CRAM", "VCF", "BCF"],
        "fieldsParameterEffective": False,
        "tagsParametersEffective": False,
    }
    assert "expires" not in r.headers
    for datatype in ("reads", "variants"):
        block = httpx.get(f"{root}/{datatype}/service-info", timeout=10).json()["htsget"]
        assert block["datatype"] == datatype and "fieldsParametersEffective" not in block
        assert block["fieldsParameterEffective"] is False and block["tagsParametersEffective"] is False
    for path in ("service-info", "reads/service-info", "variants/service-info"):
        r = httpx.post(f"{root}/{path}", json={}, timeout=10)
        assert (r.status_code, r.headers.get("allow")) == (405, "GET"), (path, r.text)
        assert r.json()["code"] == "method_not_allowed"


def test_every_url_in_a_ticket_is_audited(served: Served) -> None:
    audit = served.srv.data_dir / "audit.jsonl"
    before = len(audit.read_text().splitlines()) if audit.exists() else 0
    ticket = _ticket(served, served.ids["range.bam"], referenceName="CHROMOSOME_I").json()
    signed = [u for u in ticket["htsget"]["urls"] if not u["url"].startswith("data:")]
    lines = [json.loads(x) for x in audit.read_text().splitlines()[before:]]
    issued = [x for x in lines if x["decision"] == "issued" and x["object_id"] == served.ids["range.bam"]]
    assert len(issued) == len(signed) >= 2
    ranges = sorted(u["headers"]["Range"] for u in signed)
    assert sorted(x["range"] for x in issued) == ranges
    assert any(x["decision"] == "allow" for x in lines) and served.token not in audit.read_text()


@pytest.mark.slow
def test_a_small_region_ticket_covers_a_small_fraction(tmp_path: Path, server_factory: Any) -> None:
    bam = large_bam(tmp_path / "large.bam", 24 * 1024 * 1024)
    srv = server_factory(port=free_port(), SCORE_METADATA__KIND="registry")
    token = srv.token("score.READ", "score.WRITE")
    _, ids = publish(srv, token, [bam, Path(str(bam) + ".bai")], tmp_path, study="BIG")
    served = Served(srv, token, ids, tmp_path, "")
    r = _ticket(served, ids["large.bam"], referenceName="chr1", start=20_000_000, end=20_010_000)
    ranges = [u["headers"]["Range"] for u in r.json()["htsget"]["urls"] if "headers" in u]
    covered = sum(int(b) - int(a) + 1 for a, b in (x[6:].split("-") for x in ranges))
    assert 0 < covered < bam.stat().st_size // 50, f"{covered} of {bam.stat().st_size} bytes"
    out = tmp_path / "slice.bam"
    out.write_bytes(_assemble(r.json()))
    expected = samtools_records(bam, ["chr1:20000001-20010000"])
    assert _overlapping(file_records(out), expected) == expected and len(expected) > 10
