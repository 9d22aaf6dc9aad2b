"""htsget 1.3 for variants: tickets of bgzipped VCF (TBI and CSI indexes) and BCF (CSI) objects,
fetched, concatenated and read back with pysam and bcftools; the records equal those of the local
file for the region; a small region of a large VCF moves a small part of it; a ticket's ``Expires``."""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from score.storage.urlsign import EXPIRES_PARAM
from tests.e2e.conftest import publish
from tests.e2e.test_htsget import _assemble
from tests.kit.bam import HTSLIB_TEST, require_test_data
from tests.kit.proxy import FaultProxy
from tests.kit.servers import ServerProcess, free_port

pytestmark = pytest.mark.e2e
BASE = "/ga4gh/htsget/v1/variants"
pysam = pytest.importorskip("pysam")


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


@dataclass
class Variants:
    srv: ServerProcess
    token: str
    ids: dict[str, str]
    src: Path
    proxy: FaultProxy


def _big_vcf(path: Path, records: int) -> None:
    rng = random.Random(11)
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=chr1,length=100000000>",
        "##contig=<ID=chr2,length=1000000>",
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    pos = 1
    for _ in range(records):
        pos += rng.randrange(50, 150)
        ref = rng.choice(["A", "C", "G", "T", "AC", "GTT"])
        lines.append(
            f"chr1\t{pos}\t.\t{ref}\t{rng.choice('ACGT')}\t{rng.randrange(10, 99)}\tPASS\tDP={rng.randrange(200)}"
        )
    lines.append("chr2\t500\t.\tA\tG\t50\tPASS\tDP=3")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Variants]:
    require_test_data()
    if shutil.which("bcftools") is None or shutil.which("bgzip") is None:
        pytest.fail("bcftools and bgzip are missing: run scripts/setup")
    src = tmp_path_factory.mktemp("variants")
    plain = HTSLIB_TEST / "index.vcf"
    _run("sh", "-c", f'bgzip -c "{plain}" > "{src}/index.vcf.gz"')
    _run("tabix", "-p", "vcf", str(src / "index.vcf.gz"))
    shutil.copy(src / "index.vcf.gz", src / "csi.vcf.gz")
    _run("tabix", "-C", "-p", "vcf", str(src / "csi.vcf.gz"))
    _run("bcftools", "view", "-Ob", "-o", str(src / "index.bcf"), str(plain))
    _run("bcftools", "index", str(src / "index.bcf"))
    _big_vcf(src / "big.vcf", 150_000)
    _run("bgzip", str(src / "big.vcf"))
    _run("tabix", "-p", "vcf", str(src / "big.vcf.gz"))
    shutil.copy(src / "index.vcf.gz", src / "noindex.vcf.gz")
    (src / "notes.txt").write_text("not variants\n")
    data = tmp_path_factory.mktemp("variants-data")
    port = free_port()
    proxy = FaultProxy(port, stream_gets=True).start()
    srv = ServerProcess(data, port, env={"SCORE_METADATA__KIND": "registry", "SCORE_PUBLIC_URL": proxy.url}).start()
    try:
        token = srv.token("score.READ", "score.WRITE")
        files = sorted(p for p in src.iterdir() if p.is_file())
        work = src / "work"
        work.mkdir()
        _, ids = publish(srv, token, files, work, study="VAR")
        yield Variants(srv, token, ids, src, proxy)
    finally:
        srv.stop()
        proxy.stop()


def _ticket(
    v: Variants, name: str, token: str | None = None, body: dict[str, Any] | None = None, **params: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or v.token}"} if token != "" else {}
    url = f"{v.srv.url}{BASE}/{v.ids.get(name, name)}"
    if body is not None:
        return httpx.post(url, json=body, headers=headers, timeout=30)
    return httpx.get(url, params=params, headers=headers, timeout=30)


def _records(path: Path, contig: str | None = None, start: int = 0, end: int = 1 << 31) -> list[str]:
    with pysam.VariantFile(str(path)) as vf:
        return [str(r) for r in vf if contig is None or (r.contig == contig and r.start < end and r.stop > start)]


def _local(path: Path, contig: str, start: int | None, end: int | None) -> list[str]:
    with pysam.VariantFile(str(path)) as vf:
        return [str(r) for r in vf.fetch(contig, start, end)]


def _header(path: Path) -> str:
    with pysam.VariantFile(str(path)) as vf:
        return str(vf.header)


REGIONS = [
    ("index.vcf.gz", "1", None, None),
    ("index.vcf.gz", "2", 5_000_000, 5_000_050),
    ("index.vcf.gz", "10", 2_999_990, 3_000_100),
    ("index.vcf.gz", "3", None, None),  # a contig without records
    ("csi.vcf.gz", "1", 9_999_990, 10_000_050),
    ("csi.vcf.gz", "2", None, None),
    ("index.bcf", "1", 10_000_000, 10_000_100),
    ("index.bcf", "10", None, None),
    ("index.bcf", "X", 0, 1000),  # no records
    ("big.vcf.gz", "chr1", 5_000_000, 5_010_000),
]


@pytest.mark.parametrize(("name", "ref", "start", "end"), REGIONS, ids=[f"{n}:{r}:{s}" for n, r, s, _ in REGIONS])
def test_variant_slices_hold_the_region(
    variants: Variants, tmp_path: Path, name: str, ref: str, start: int | None, end: int | None
) -> None:
    params = {
        "referenceName": ref,
        **({"start": start} if start is not None else {}),
        **({"end": end} if end is not None else {}),
    }
    r = _ticket(variants, name, **params)
    assert r.status_code == 200, r.text
    assert r.json()["htsget"]["format"] == ("BCF" if name.endswith(".bcf") else "VCF")
    out = tmp_path / f"slice{'.bcf' if name.endswith('.bcf') else '.vcf.gz'}"
    out.write_bytes(_assemble(r.json()))
    subprocess.run(["bcftools", "view", "-H", str(out)], check=True, capture_output=True)  # a complete file
    local = variants.src / name
    assert _header(out) == _header(local)
    expected = _local(local, ref, start, end)
    assert _records(out, ref, start or 0, end or 1 << 31) == expected
    if ref not in ("3", "X"):
        assert expected


def test_several_regions_the_header_and_the_whole_file(variants: Variants, tmp_path: Path) -> None:
    local = variants.src / "index.bcf"
    body = {
        "format": "BCF",
        "regions": [{"referenceName": "10"}, {"referenceName": "1", "start": 9_999_900, "end": 10_000_000}],
    }
    r = _ticket(variants, "index.bcf", body=body)
    assert r.status_code == 200, r.text
    out = tmp_path / "multi.bcf"
    out.write_bytes(_assemble(r.json()))
    got = _records(out)
    for ref, start, end in (("10", None, None), ("1", 9_999_900, 10_000_000)):
        assert set(_local(local, ref, start, end)) <= set(got)
    header = _ticket(variants, "index.vcf.gz", **{"class": "header"})
    (tmp_path / "h.vcf.gz").write_bytes(_assemble(header.json()))
    assert _header(tmp_path / "h.vcf.gz") == _header(variants.src / "index.vcf.gz")
    assert _records(tmp_path / "h.vcf.gz") == []
    whole = _ticket(variants, "csi.vcf.gz")
    (tmp_path / "w.vcf.gz").write_bytes(_assemble(whole.json()))
    assert (tmp_path / "w.vcf.gz").read_bytes() == (variants.src / "csi.vcf.gz").read_bytes()
    info = httpx.get(f"{variants.srv.url}{BASE}/service-info", timeout=10).json()
    assert info["htsget"]["datatype"] == "variants" and info["htsget"]["formats"] == ["VCF", "BCF"]


def test_a_variants_ticket_says_when_its_urls_expire(variants: Variants) -> None:
    r = _ticket(variants, "big.vcf.gz", referenceName="chr1", start=7_000_000, end=7_600_000)
    assert r.status_code == 200, r.text
    signed = [u["url"] for u in r.json()["htsget"]["urls"] if not u["url"].startswith("data:")]
    expires = int(parsedate_to_datetime(r.headers["expires"]).timestamp())
    assert signed and {int(parse_qs(urlsplit(u).query)[EXPIRES_PARAM][0]) for u in signed} == {expires}
    assert r.headers["cache-control"] == "no-store"


def test_a_small_region_of_a_large_vcf_moves_a_small_part_of_it(variants: Variants, tmp_path: Path) -> None:
    key = f"/_store/data/{variants.ids['big.vcf.gz']}"
    size = (variants.src / "big.vcf.gz").stat().st_size
    for start, end in ((7_000_000, 7_002_000), (7_000_000, 7_600_000)):  # within one block; over several
        before = variants.proxy.store_get_bytes[key]
        r = _ticket(variants, "big.vcf.gz", referenceName="chr1", start=start, end=end)
        assert r.status_code == 200, r.text
        assembled = _assemble(r.json())
        (tmp_path / "s.vcf.gz").write_bytes(assembled)
        expected = _local(variants.src / "big.vcf.gz", "chr1", start, end)
        assert _records(tmp_path / "s.vcf.gz", "chr1", start, end) == expected and expected
        sent = variants.proxy.store_get_bytes[key] - before  # the byte ranges (edges come inline)
        assert len(assembled) < size // 10 and sent < size // 10, f"{len(assembled)}, {sent} of {size} bytes"
        if end - start > 100_000:
            assert sent > 0


@pytest.mark.parametrize(
    ("name", "params", "status", "error"),
    [
        ("notes.txt", {"referenceName": "1"}, 400, "UnsupportedFormat"),
        ("index.vcf.gz", {"format": "BCF"}, 400, "UnsupportedFormat"),
        ("index.vcf.gz", {"referenceName": "*"}, 400, "InvalidInput"),
        ("index.vcf.gz", {"referenceName": "chrNope"}, 404, "NotFound"),
        ("noindex.vcf.gz", {"referenceName": "1"}, 404, "NotFound"),
        ("index.vcf.gz", {"referenceName": "1", "start": 10, "end": 5}, 400, "InvalidRange"),
    ],
)
def test_variant_errors_use_htsget_json(
    variants: Variants, name: str, params: dict[str, Any], status: int, error: str
) -> None:
    r = _ticket(variants, name, **params)
    assert r.status_code == status, r.text
    assert r.json()["htsget"]["error"] == error


def test_variants_follow_the_download_rules(variants: Variants) -> None:
    assert (
        _ticket(variants, "index.vcf.gz", token="", referenceName="1").json()["htsget"]["error"]
        == "InvalidAuthentication"
    )
    other = variants.srv.token("PROGRAMDATA-OTHER.READ")
    r = _ticket(variants, "index.vcf.gz", token=other, referenceName="1")
    assert r.status_code == 403 and r.json()["htsget"]["error"] == "PermissionDenied"


def test_the_pypi_htsget_client_fetches_a_vcf_slice(variants: Variants, tmp_path: Path) -> None:
    import htsget

    out = tmp_path / "client.vcf.gz"
    with out.open("wb") as f:
        htsget.get(
            f"{variants.srv.url}{BASE}/{variants.ids['index.vcf.gz']}",
            f,
            reference_name="2",
            start=4_999_950,
            end=5_000_050,
            data_format="VCF",
            bearer_token=variants.token,
            max_retries=0,
        )
    expected = _local(variants.src / "index.vcf.gz", "2", 4_999_950, 5_000_050)
    assert _records(out, "2", 4_999_950, 5_000_050) == expected and expected
