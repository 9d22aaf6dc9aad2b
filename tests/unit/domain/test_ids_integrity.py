"""Object ids, upload ids, Score's key layout and checksum helpers."""

from __future__ import annotations

import base64
import hashlib

import pytest

from score.domain import ids
from score.domain.errors import InvalidRequestError
from score.domain.integrity import EMPTY_MD5, hex_to_b64, multipart_etag, normalize_etag, normalize_md5

OID = "5b6f2c52-2f1d-4a4e-9a56-0d1f1c6e9a01"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "x",
        "../etc/passwd",
        OID + "/..",
        OID[:-1],
        OID + "0",
        OID.replace("-", ""),
        "5b6f2c52-2f1d-4a4e-9a56-0d1f1c6e9a0g",
    ],
)
def test_bad_object_ids_are_refused(bad: str) -> None:
    assert not ids.is_object_id(bad)
    with pytest.raises(InvalidRequestError, match="expected a UUID"):
        ids.validate_object_id(bad)


@pytest.mark.parametrize("suffix", ["\n", "\r\n", "\x00"])
def test_ids_with_a_trailing_newline_are_refused(suffix: str) -> None:
    """Issue 20, defect 9: '$' matched before a trailing newline, so "<uuid>\\n" passed as an object id."""
    assert not ids.is_object_id(OID + suffix)
    with pytest.raises(InvalidRequestError, match="expected a UUID"):
        ids.validate_object_id(OID + suffix)
    with pytest.raises(InvalidRequestError, match="invalid uploadId"):
        ids.validate_upload_id("2~abc" + suffix)
    assert not ids.is_md5_hex("0" * 32 + suffix)


def test_object_id_accepts_upper_case_uuid() -> None:
    assert ids.validate_object_id(OID.upper()) == OID.upper()


@pytest.mark.parametrize("bad", ["", "a/b", ".", "..", "a b", "x" * 1025, "a\x00", "a\\b"])
def test_unsafe_upload_ids_are_refused(bad: str) -> None:
    with pytest.raises(InvalidRequestError):
        ids.validate_upload_id(bad)


def test_s3_style_upload_ids_are_accepted() -> None:
    for good in ["2~abcDEF.ghi-jkl_mno", "a=b+c", "..x"]:
        assert ids.validate_upload_id(good) == good


def test_score_bucket_layout() -> None:
    assert ids.object_key(OID) == f"data/{OID}"
    assert ids.object_meta_key(OID) == f"data/{OID}.meta"
    assert ids.upload_meta_key(OID, "U") == f"upload/{OID}_U/.meta"
    assert ids.part_marker_prefix(OID, "U") == f"upload/{OID}_U/part-"
    assert ids.part_marker_prefix(OID, "U", 26) == f"upload/{OID}_U/part-0000001a|"
    assert ids.sentinel_key() == "data/heliograph"


def test_md5_normalisation_accepts_hex_and_base64() -> None:
    digest = hashlib.md5(b"abc").digest()
    assert normalize_md5(digest.hex().upper()) == digest.hex()
    assert normalize_md5(base64.b64encode(digest).decode()) == digest.hex()
    assert normalize_md5(f'"{digest.hex()}"') == digest.hex()
    assert hex_to_b64(digest.hex()) == base64.b64encode(digest).decode()


@pytest.mark.parametrize("bad", ["", "xyz", "abcd", base64.b64encode(b"short").decode(), "0" * 31])
def test_malformed_md5_is_refused(bad: str) -> None:
    with pytest.raises(InvalidRequestError, match="malformed md5"):
        normalize_md5(bad)


def test_etag_normalisation() -> None:
    assert normalize_etag('"ABCDEF"') == "abcdef"
    assert normalize_etag('W/"abc-3"') == "abc-3"


def test_multipart_etag_matches_s3s_rule() -> None:
    a, b = hashlib.md5(b"a").hexdigest(), hashlib.md5(b"b").hexdigest()
    expected = hashlib.md5(bytes.fromhex(a) + bytes.fromhex(b)).hexdigest()
    assert multipart_etag([a, b]) == f"{expected}-2"
    assert EMPTY_MD5 == "d41d8cd98f00b204e9800998ecf8427e"
