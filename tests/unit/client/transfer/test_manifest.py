"""Song's upload manifest: read what Song writes, refuse malformed lines with their line number."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from score.client.transfer.manifest import (
    ManifestSource,
    ManifestText,
    UploadEntry,
    load_manifest,
    manifest_source,
    parse_download_manifest,
    portal_manifest_url,
    read_download_manifest,
    read_upload_manifest,
    write_upload_manifest,
)
from score.domain.errors import ConfigError, InvalidRequestError

OID = "5b6f2c52-2f1d-4a4e-9a56-0d1f1c6e9a01"


def test_round_trip_as_song_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    write_upload_manifest(path, "AN1", [UploadEntry(OID, Path("rel/x.bam"), "a" * 32)])
    lines = path.read_text().splitlines()
    assert lines[0] == "AN1\t\t" and lines[1].split("\t")[1].startswith("/")  # absolute, as Song writes
    assert read_upload_manifest(path) == [UploadEntry(OID, (Path("rel/x.bam")).resolve(), "a" * 32)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"{OID}\tx\n", ":2: expected 3"),
        (f"not-an-id\tx\t{'a' * 32}\n", ":2: 'not-an-id' is not an object id"),
        (f"{OID}\tx\tzz\n", ":2: 'zz' is not an MD5"),
        ("\n", "lists no files"),
    ],
)
def test_malformed_manifests(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "m.txt"
    path.write_text("header\t\t\n" + body)
    with pytest.raises(InvalidRequestError, match=message):
        read_upload_manifest(path)
    with pytest.raises(InvalidRequestError, match="does not exist"):
        read_upload_manifest(tmp_path / "absent.txt")


def test_a_manifest_that_is_not_utf8_is_a_clear_usage_error(tmp_path: Path) -> None:
    """Issue 20, defect 9: a Latin-1 manifest ended in a UnicodeDecodeError traceback."""
    path = tmp_path / "latin1.txt"
    path.write_bytes(f"AN1\t\t\n{OID}\tcaf\xe9.bam\t{'a' * 32}\n".encode("latin-1"))
    expected = (
        f"manifest {path} is not UTF-8 text (byte 0xe9 at offset 46): convert it to UTF-8, e.g. "
        "iconv -f latin1 -t utf-8 OLD > NEW, and give the new file"
    )
    for read in (read_upload_manifest, read_download_manifest):
        with pytest.raises(InvalidRequestError) as err:
            read(path)
        assert err.value.message == expected


# --manifest as Score's ManifestResource takes it (issue 22): a URL, a portal manifest id or a file.

PORTAL_COLUMNS = (
    "repo_code file_id object_id file_format file_name file_size md5_sum index_object_id donor_id project_id study"
)
PORTAL_ICGC_HEADER = PORTAL_COLUMNS.replace(" ", "\t")
PORTAL_ROW = "\t".join(["collab", "FI1", OID, "BAM", "x.bam", "10", "a" * 32, "", "DO1", "P1", "S1"])


@pytest.mark.parametrize(
    ("spec", "kind", "value"),
    [
        ("https://portal.example.org/api/v1/manifests/x", "url", "https://portal.example.org/api/v1/manifests/x"),
        ("http:/odd.example.org/m.tsv", "url", "http:/odd.example.org/m.tsv"),  # Score checks "http:/" only
        ("  HTTPS://Portal.example.org/m  ", "url", "HTTPS://Portal.example.org/m"),
        (OID, "id", OID),
        (OID.upper(), "id", OID.upper()),
        ("manifest.txt", "file", "manifest.txt"),
        ("./http/manifest.tsv", "file", "./http/manifest.tsv"),
        (f"{OID}.tsv", "file", f"{OID}.tsv"),
    ],
)
def test_a_manifest_value_is_told_apart_as_score_does(spec: str, kind: str, value: str) -> None:
    assert manifest_source(spec) == ManifestSource(kind, value)  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", ["", "   ", "ftp://host/m.tsv", "file:///tmp/m.tsv", "s3://bucket/m.tsv"])
def test_other_schemes_and_empty_values_are_refused(spec: str) -> None:
    with pytest.raises(InvalidRequestError, match=r"http\(s\) URL or a portal manifest id"):
        manifest_source(spec)


def test_the_portal_url_is_scores_template_or_ours() -> None:
    assert portal_manifest_url("https://dcc.icgc.org", OID) == f"https://dcc.icgc.org/api/v1/manifests/{OID}"
    assert portal_manifest_url("https://p.example.org/", OID) == f"https://p.example.org/api/v1/manifests/{OID}"
    assert portal_manifest_url("https://p.example.org/m/{id}.tsv", OID) == f"https://p.example.org/m/{OID}.tsv"
    with pytest.raises(ConfigError, match="must start with http:// or https://"):
        portal_manifest_url("p.example.org", OID)


def _fetcher(bodies: dict[str, bytes], asked: list[tuple[str, str]]) -> Callable[[str, str], bytes]:
    def fetch(url: str, shown: str) -> bytes:
        asked.append((url, shown))
        return bodies[url]

    return fetch


def test_a_url_is_fetched_and_its_query_never_shown() -> None:
    url = "https://bucket.example.org/m.tsv?X-Amz-Signature=secret"
    asked: list[tuple[str, str]] = []
    body = f"{PORTAL_ICGC_HEADER}\n{PORTAL_ROW}\n".encode()
    got = load_manifest(url, fetch=_fetcher({url: body}, asked), portal_url=None, portal_setting="PORTAL_URL")
    assert got == ManifestText(body.decode(), "https://bucket.example.org/m.tsv")
    assert asked == [(url, "https://bucket.example.org/m.tsv")]
    assert parse_download_manifest(got) == [OID]
    bad = ManifestText(f"{PORTAL_ICGC_HEADER}\nshort\trow\n", got.where)
    with pytest.raises(InvalidRequestError, match=r"^https://bucket\.example\.org/m\.tsv:2: expected 11") as err:
        parse_download_manifest(bad)
    assert "secret" not in err.value.message


def test_a_manifest_id_is_read_from_the_portal() -> None:
    url = f"https://portal.example.org/api/v1/manifests/{OID}"
    asked: list[tuple[str, str]] = []
    body = f"{PORTAL_ICGC_HEADER}\n{PORTAL_ROW}\n".encode()
    got = load_manifest(
        OID, fetch=_fetcher({url: body}, asked), portal_url="https://portal.example.org", portal_setting="PORTAL_URL"
    )
    assert asked == [(url, url)] and parse_download_manifest(got) == [OID]


def test_a_manifest_id_without_a_portal_names_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    asked: list[tuple[str, str]] = []
    with pytest.raises(InvalidRequestError) as err:
        load_manifest(OID, fetch=_fetcher({}, asked), portal_url=None, portal_setting="PORTAL_URL (e.g. ...)")
    assert f"manifest {OID} is a portal manifest id" in err.value.message
    assert "set PORTAL_URL (e.g. ...)" in err.value.message and asked == []
    (tmp_path / OID).write_text(f"AN1\t\t\n{OID}\tx.bam\t{'a' * 32}\n")  # a file named so is read, as before
    got = load_manifest(OID, fetch=_fetcher({}, asked), portal_url=None, portal_setting="PORTAL_URL")
    assert parse_download_manifest(got) == [OID] and asked == []


def test_a_fetched_manifest_that_is_not_utf8_says_so() -> None:
    url = "http://127.0.0.1:1/m.tsv?sig=x"
    body = f"AN1\t\t\n{OID}\tcaf\xe9.bam\t{'a' * 32}\n".encode("latin-1")
    with pytest.raises(InvalidRequestError) as err:
        load_manifest(url, fetch=_fetcher({url: body}, []), portal_url=None, portal_setting="PORTAL_URL")
    assert err.value.message.startswith("manifest http://127.0.0.1:1/m.tsv is not UTF-8 text (byte 0xe9 at offset 46)")


def test_a_local_file_is_read_as_before(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    path.write_text(f"AN1\t\t\n{OID}\tx.bam\t{'a' * 32}\n")
    got = load_manifest(str(path), fetch=_fetcher({}, []), portal_url=None, portal_setting="PORTAL_URL")
    assert got == ManifestText(path.read_text(), str(path))
    with pytest.raises(InvalidRequestError, match="does not exist"):
        load_manifest(str(tmp_path / "absent"), fetch=_fetcher({}, []), portal_url=None, portal_setting="P")
