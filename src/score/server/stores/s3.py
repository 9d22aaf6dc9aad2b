"""Build the botocore S3 client and the S3 store from settings (composition-root helper)."""

from __future__ import annotations

from typing import Any

from score.config.settings import S3StorageSettings
from score.domain.errors import ConfigError
from score.domain.parts import PartLimits
from score.storage.s3 import S3ObjectStore
from score.storage.s3_layout import BucketLayout


def make_client(settings: S3StorageSettings) -> Any:
    """A thread-safe botocore S3 client.

    Credentials: the static keys if set; otherwise the named profile; otherwise botocore's
    default chain (environment, shared config, container and instance roles).

    Raises:
        ConfigError: the profile does not exist or the endpoint is malformed.
    """
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    config = Config(
        signature_version="s3v4",
        region_name=settings.region,
        s3={"addressing_style": settings.addressing},
        retries={"max_attempts": settings.max_attempts, "mode": "standard"},
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        max_pool_connections=settings.max_connections,
        # Flexible checksums are new (2025) and not understood by every S3 server (Ceph Pacific);
        # integrity comes from Content-MD5 instead.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    try:
        if settings.access_key is not None and settings.secret_key is not None:
            session = boto3.session.Session(
                aws_access_key_id=settings.access_key.get_secret_value(),
                aws_secret_access_key=settings.secret_key.get_secret_value(),
                region_name=settings.region,
            )
        else:
            session = boto3.session.Session(profile_name=settings.profile, region_name=settings.region)
        return session.client("s3", endpoint_url=settings.endpoint, config=config)
    except (BotoCoreError, ValueError) as exc:
        raise ConfigError(f"cannot configure the S3 client: {exc}") from exc


def make_store(settings: S3StorageSettings, client: Any | None = None) -> S3ObjectStore:
    """An :class:`S3ObjectStore` for *settings* (with a given *client*, for tests)."""
    layout = BucketLayout(
        object_bucket=settings.object_bucket,
        state_bucket=settings.state_bucket or settings.object_bucket,
        pool_size=settings.pool_size,
        pool_key_chars=settings.pool_key_chars,
    )
    limits = PartLimits(min_part_bytes=settings.min_part_size_bytes, max_parts=settings.max_parts)
    return S3ObjectStore(
        client if client is not None else make_client(settings),
        layout,
        limits,
        endpoint=settings.endpoint,
        host_override=settings.presigned_host_override,
        kms_key_id=settings.kms_key_id,
        md5_metadata_key=settings.md5_metadata_key,
    )
