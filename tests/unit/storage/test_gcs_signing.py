"""Our GCS V4 URLs, verified offline: the canonical request is rebuilt from the URL by the rules of
GCS's V4 signing process and the signature checked with the service account's public key.

The emulators accept any signature, so this is where a wrong signature would be caught.
"""

from __future__ import annotations

import binascii
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from score.config.settings import GcsStorageSettings
from score.domain.integrity import hex_to_b64
from score.domain.model import GetTarget, UploadPartTarget
from score.domain.ranges import ByteRange
from score.server.stores.gcs import make_gcs_store
from tests.kit.gcs_emulator import write_service_account

ENDPOINT = "https://storage.example.test"
MD5 = hashlib.md5(b"part").hexdigest()


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Any, Any]:
    key_file, private_key = write_service_account(tmp_path / "sa.json")
    settings = GcsStorageSettings(
        kind="gcs", bucket="score-bucket", credentials_file=key_file, endpoint=ENDPOINT, emulator=True
    )
    return make_gcs_store(settings), private_key.public_key()


def canonical_request(method: str, url: str, headers: dict[str, str]) -> tuple[str, dict[str, str]]:
    """GCS V4: verb, path, sorted query without the signature, signed headers, payload marker."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    canon_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items()) if k != "X-Goog-Signature"
    )
    signed_names = query["X-Goog-SignedHeaders"].split(";")
    sent = {k.lower(): v.strip() for k, v in headers.items()} | {"host": parts.netloc}
    canon_headers = "".join(f"{name}:{sent[name]}\n" for name in signed_names)
    request = "\n".join([method, parts.path, canon_query, canon_headers, ";".join(signed_names), "UNSIGNED-PAYLOAD"])
    return request, query


def verify(public_key: Any, method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
    """Raise InvalidSignature unless *url* is a valid V4 signature for this request; return its query."""
    request, query = canonical_request(method, url, headers)
    scope = query["X-Goog-Credential"].split("/", 1)[1]
    to_sign = "\n".join(["GOOG4-RSA-SHA256", query["X-Goog-Date"], scope, hashlib.sha256(request.encode()).hexdigest()])
    public_key.verify(
        binascii.unhexlify(query["X-Goog-Signature"]), to_sign.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    return query


def test_part_url_signs_content_md5_and_expires_when_asked(signed: tuple[Any, Any]) -> None:
    store, public_key = signed
    expires = datetime.now(UTC) + timedelta(minutes=15)
    url = store.sign_upload_part(UploadPartTarget("data/obj", "a" * 32, 7, 0, 4), MD5, expires)
    assert url.startswith(f"{ENDPOINT}/score-bucket/.score-multipart/{'a' * 32}/00007?")
    query = verify(public_key, "PUT", url, {"Content-MD5": hex_to_b64(MD5)})
    assert query["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
    assert query["X-Goog-SignedHeaders"] == "content-md5;host"
    assert query["X-Goog-Credential"].startswith("score@score-test.iam.gserviceaccount.com/")
    assert abs(int(query["X-Goog-Expires"]) - 900) <= 2
    with pytest.raises(InvalidSignature):  # other bytes' MD5
        verify(public_key, "PUT", url, {"Content-MD5": hex_to_b64(hashlib.md5(b"other").hexdigest())})
    with pytest.raises(InvalidSignature):  # the same URL used for another method
        verify(public_key, "GET", url, {"Content-MD5": hex_to_b64(MD5)})


def test_ranged_get_url_binds_its_range(signed: tuple[Any, Any]) -> None:
    store, public_key = signed
    expires = datetime.now(UTC) + timedelta(minutes=5)
    rng = ByteRange(100, 50)
    url = store.sign_get(GetTarget("data/obj", rng), expires)
    query = verify(public_key, "GET", url, {"Range": rng.header()})
    assert query["X-Goog-SignedHeaders"] == "host;range"
    with pytest.raises(InvalidSignature):
        verify(public_key, "GET", url, {"Range": "bytes=0-9999"})
    whole = store.sign_get(GetTarget("data/obj"), expires)
    assert verify(public_key, "GET", whole, {})["X-Goog-SignedHeaders"] == "host"
    with pytest.raises(InvalidSignature):  # re-pointed at another object
        verify(public_key, "GET", whole.replace("data/obj", "data/other"), {})


def test_a_tampered_signature_does_not_verify(signed: tuple[Any, Any]) -> None:
    store, public_key = signed
    url = store.sign_get(GetTarget("data/obj"), datetime.now(UTC) + timedelta(minutes=5))
    sig = dict(parse_qsl(urlsplit(url).query))["X-Goog-Signature"]
    flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
    with pytest.raises(InvalidSignature):
        verify(public_key, "GET", url.replace(sig, flipped), {})
