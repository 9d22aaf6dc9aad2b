"""Build the GCS store and its V4 URL signer from settings (composition-root helper).

Signing: with a service-account key file the URLs are signed locally (RSA-SHA256, no network);
without one the Application Default Credentials' account signs through the IAM ``signBlob``
API (one call per URL; the account needs ``iam.serviceAccountTokenCreator`` on itself).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from score.config.settings import GcsStorageSettings
from score.domain.errors import ConfigError
from score.domain.parts import PartLimits
from score.server.stores.pooling import pooled
from score.storage.gcs import GcsObjectStore

MAX_PART_BYTES = 5 * 1024 * 1024 * 1024 * 1024  # one part object can be as large as any object (5 TiB)


def v4_signer(
    client: Any, bucket: str, endpoint: str, credentials: Any, service_account_email: str | None = None
) -> Callable[[str, str, datetime, dict[str, str]], str]:
    """A function ``(key, method, expires_at, signed headers) -> V4 URL`` on *endpoint* (path style)."""
    lock = threading.Lock()
    keyless = not hasattr(credentials, "sign_bytes") or service_account_email is not None

    def token() -> str | None:
        if not keyless:
            return None
        from google.auth.transport.requests import Request

        with lock:
            if not credentials.valid:
                credentials.refresh(Request())
            return str(credentials.token)

    def sign(key: str, method: str, expires_at: datetime, headers: dict[str, str]) -> str:
        blob = client.bucket(bucket).blob(key)
        extra: dict[str, Any] = {}
        if keyless:
            extra = {
                "service_account_email": service_account_email or credentials.service_account_email,
                "access_token": token(),
            }
        return str(
            blob.generate_signed_url(
                version="v4",
                expiration=expires_at,
                method=method,
                headers=headers or None,
                credentials=credentials,
                api_access_endpoint=endpoint,
                **extra,
            )
        )

    return sign


def make_gcs_store(settings: GcsStorageSettings) -> GcsObjectStore:
    """A :class:`GcsObjectStore` for *settings*.

    Raises:
        ConfigError: google-cloud-storage is missing, or the key file cannot be read.
    """
    try:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage
        from google.oauth2 import service_account
    except ImportError as exc:
        raise ConfigError("storage.kind = gcs needs google-cloud-storage: pip install 'score[gcs]'") from exc
    try:
        if settings.credentials_file is not None:
            credentials: Any = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                str(settings.credentials_file), scopes=["https://www.googleapis.com/auth/devstorage.read_write"]
            )
            project = settings.project or credentials.project_id
        else:
            import google.auth

            credentials, found = google.auth.default(scopes=["https://www.googleapis.com/auth/devstorage.read_write"])
            project = settings.project or found
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the GCS credentials: {exc}") from exc
    except Exception as exc:  # google.auth.exceptions.DefaultCredentialsError and kin
        raise ConfigError(f"no GCS credentials: set storage.credentials_file ({type(exc).__name__})") from exc
    options = {"api_endpoint": settings.endpoint}
    api_credentials = AnonymousCredentials() if settings.emulator else credentials  # type: ignore[no-untyped-call]
    from google.auth.transport.requests import AuthorizedSession

    # one pool for the store, as large as the calls that can run at once (see stores/pooling.py)
    http = pooled(AuthorizedSession(api_credentials))  # type: ignore[no-untyped-call]
    client = storage.Client(project=project or "score", credentials=api_credentials, client_options=options, _http=http)
    signer = v4_signer(client, settings.bucket, settings.endpoint, credentials, settings.service_account_email)
    limits = PartLimits(
        min_part_bytes=settings.min_part_size_bytes, max_parts=settings.max_parts, max_part_bytes=MAX_PART_BYTES
    )
    return GcsObjectStore(
        client,
        settings.bucket,
        signer,
        limits,
        md5_metadata_key=settings.md5_metadata_key,
        timeout=settings.read_timeout,
    )
