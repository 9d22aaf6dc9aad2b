"""Score's bucket naming and pooling, and the S3 adapter's offline behaviour (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from score.config.settings import S3StorageSettings, load_server_settings
from score.domain.errors import ConfigError
from score.domain.model import GetTarget, UploadPartTarget
from score.domain.ranges import ByteRange
from score.server.stores.s3 import make_store
from score.storage.s3_layout import BucketLayout, Role, classify

OID = "ab6f2c52-2f1d-4a4e-9a56-0d1f1c6e9a01"


def test_keys_are_classified_as_scores_object_or_state_records() -> None:
    assert classify(f"data/{OID}") == classify(f"data/{OID}").__class__(Role.OBJECT, OID)
    assert classify(f"data/{OID}.meta").role is Role.STATE
    assert classify(f"upload/{OID}_u1/.meta").object_id == OID
    assert classify("data/heliograph").role is Role.OBJECT and classify("data/heliograph").object_id is None
    assert classify("upload/").object_id is None


def test_one_bucket_without_a_pool() -> None:
    layout = BucketLayout("oicr.icgc", "oicr.icgc")
    assert layout.write_bucket(f"data/{OID}") == "oicr.icgc"
    assert layout.read_buckets(f"data/{OID}.meta") == ["oicr.icgc"]
    assert layout.list_buckets("data/") == ["oicr.icgc"]


def test_separate_state_bucket() -> None:
    layout = BucketLayout("objects", "state")
    assert layout.write_bucket(f"data/{OID}") == "objects"
    assert layout.write_bucket(f"data/{OID}.meta") == "state"
    assert layout.write_bucket(f"upload/{OID}_x/part-00000001|{{}}") == "state"
    assert layout.write_bucket("data/heliograph") == "objects"
    assert layout.list_buckets("data/") == ["objects"]
    assert layout.list_buckets("upload/") == ["state"]
    assert layout.health_buckets() == ["objects", "state"]


def test_pool_shards_like_score_and_falls_back_to_the_base_bucket() -> None:
    layout = BucketLayout("oicr.icgc", "oicr.icgc", pool_size=50, pool_key_chars=2)
    # int("ab", 16) = 171; 171 % 50 = 21; no zero padding
    assert layout.write_bucket(f"data/{OID}") == "oicr.icgc.21"
    assert layout.read_buckets(f"data/{OID}") == ["oicr.icgc.21", "oicr.icgc"]
    assert layout.write_bucket(f"upload/{OID}_u/.meta") == "oicr.icgc.21"
    assert layout.write_bucket("data/heliograph") == "oicr.icgc"  # the sentinel is in the base bucket
    assert layout.list_buckets("data/")[0] == "oicr.icgc.0" and layout.list_buckets("data/")[-1] == "oicr.icgc"
    assert len(layout.list_buckets("data/")) == 51
    assert layout.health_buckets() == ["oicr.icgc.0"]
    three = BucketLayout("b", "b", pool_size=7, pool_key_chars=3)
    assert three.write_bucket(f"data/{OID}") == f"b.{int('ab6', 16) % 7}"


def _store(**extra: object) -> object:
    settings = S3StorageSettings(
        kind="s3", endpoint="http://127.0.0.1:9", access_key="AK", secret_key="SK", object_bucket="bkt", **extra
    )
    return make_store(settings)


def test_part_urls_sign_content_md5_and_get_urls_sign_the_range() -> None:
    store = _store()
    expires = datetime.now(UTC) + timedelta(minutes=5)
    url = store.sign_upload_part(  # type: ignore[attr-defined]
        UploadPartTarget(f"data/{OID}", "up1", 3, 0, 10), "0123456789abcdef0123456789abcdef", expires
    )
    q = parse_qs(urlsplit(url).query)
    assert q["partNumber"] == ["3"] and q["uploadId"] == ["up1"]
    assert q["X-Amz-SignedHeaders"] == ["content-md5;host"]
    assert 290 <= int(q["X-Amz-Expires"][0]) <= 300
    get = store.sign_get(GetTarget(f"data/{OID}", ByteRange(5, 10)), expires)  # type: ignore[attr-defined]
    assert parse_qs(urlsplit(get).query)["X-Amz-SignedHeaders"] == ["host;range"]
    assert urlsplit(get).path == f"/bkt/data/{OID}"


def test_presigned_host_override_replaces_the_endpoint() -> None:
    store = _store(presigned_host_override="https://proxy.example.org")
    url = store.sign_get(  # type: ignore[attr-defined]
        GetTarget(f"data/{OID}"), datetime.now(UTC) + timedelta(minutes=1)
    )
    assert url.startswith(f"https://proxy.example.org/bkt/data/{OID}?")


def test_kms_means_etags_are_not_md5s() -> None:
    assert _store().etags_are_md5 is True  # type: ignore[attr-defined]
    assert _store(kms_key_id="arn:aws:kms:k").etags_are_md5 is False  # type: ignore[attr-defined]


def test_s3_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCORE_STORAGE__KIND", "s3")
    monkeypatch.setenv("SCORE_STORAGE__ENDPOINT", "http://ceph:7480")
    monkeypatch.setenv("SCORE_STORAGE__POOL_SIZE", "8")
    s = load_server_settings()
    assert isinstance(s.storage, S3StorageSettings)
    assert (s.storage.endpoint, s.storage.pool_size, s.storage.object_bucket) == ("http://ceph:7480", 8, "oicr.icgc")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SCORE_STORAGE__ACCESS_KEY": "only-one"}, "both"),
        ({"SCORE_STORAGE__OBJECT_BUCKET": "b"}, "3 to 63"),
        ({"SCORE_STORAGE__MIN_PART_SIZE_BYTES": "1024"}, "greater than or equal"),
        ({"SCORE_STORAGE__KIND": "ftp"}, "storage"),
    ],
)
def test_bad_s3_settings_are_clear_errors(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:
    monkeypatch.setenv("SCORE_STORAGE__KIND", "s3")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError, match=message):
        load_server_settings()


def test_secret_key_is_never_shown() -> None:
    s = S3StorageSettings(kind="s3", access_key="AKIDEXAMPLE", secret_key="wJalrXUtnFEMI")
    assert "wJalrXUtnFEMI" not in repr(s) and "wJalrXUtnFEMI" not in str(s.model_dump())


def _credential_of(store: object) -> str:
    url = store.sign_get(  # type: ignore[attr-defined]
        GetTarget(f"data/{OID}"), datetime.now(UTC) + timedelta(minutes=1)
    )
    return parse_qs(urlsplit(url).query)["X-Amz-Credential"][0].split("/")[0]


def test_credentials_come_from_keys_profile_or_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    from pathlib import Path

    creds = Path(str(tmp_path)) / "credentials"
    creds.write_text("[archive]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s1\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(Path(str(tmp_path)) / "absent"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENVIRON")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s2")
    base = {"kind": "s3", "endpoint": "http://127.0.0.1:9", "object_bucket": "bkt"}
    assert (
        _credential_of(make_store(S3StorageSettings(**base, access_key="AKIDSTATIC", secret_key="s3"))) == "AKIDSTATIC"
    )
    assert _credential_of(make_store(S3StorageSettings(**base, profile="archive"))) == "AKIDPROFILE"
    assert _credential_of(make_store(S3StorageSettings(**base))) == "AKIDENVIRON"
    with pytest.raises(ConfigError, match="S3 client"):
        make_store(S3StorageSettings(**base, profile="no-such-profile"))
