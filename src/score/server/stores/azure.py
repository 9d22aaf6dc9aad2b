"""Build the Azure Blob store from settings (composition-root helper)."""

from __future__ import annotations

from typing import Any

from score.config.settings import AzureStorageSettings
from score.domain.errors import ConfigError
from score.domain.parts import PartLimits
from score.server.stores.pooling import pooled
from score.storage.azure import AzureObjectStore
from score.storage.azure_sas import AccountKeySas, SasSigner, UserDelegationSas

MAX_BLOCK_BYTES = 4000 * 1024 * 1024  # Azure's largest block (service version 2019-12-12 and later)


def account_url(settings: AzureStorageSettings) -> str:
    """The account's blob endpoint."""
    return (settings.endpoint or f"https://{settings.account_name}.blob.core.windows.net").rstrip("/")


def make_azure_store(settings: AzureStorageSettings) -> AzureObjectStore:
    """An :class:`AzureObjectStore`: account-key SAS when a key is set, else Azure AD and user-delegation SAS.

    Raises:
        ConfigError: the SDK (or, for Azure AD, azure-identity) is missing, or the endpoint is malformed.
    """
    try:
        from azure.storage.blob import BlobServiceClient
    except ImportError as exc:
        raise ConfigError("storage.kind = azure needs azure-storage-blob: pip install 'score[azure]'") from exc
    import requests
    from azure.core.pipeline.transport import RequestsTransport

    options: dict[str, Any] = {
        "connection_timeout": settings.connect_timeout,
        "read_timeout": settings.read_timeout,
        "retry_total": settings.max_attempts,
        # one pool for the store, as large as the calls that can run at once (see stores/pooling.py)
        "transport": RequestsTransport(
            session=pooled(requests.Session()),
            session_owner=True,
            connection_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
        ),
    }
    if settings.api_version:
        options["api_version"] = settings.api_version
    signer: SasSigner
    try:
        if settings.account_key is not None:
            key = settings.account_key.get_secret_value()
            credential: Any = {"account_name": settings.account_name, "account_key": key}
            service = BlobServiceClient(account_url(settings), credential=credential, **options)
            signer = AccountKeySas(settings.account_name, key)
        else:
            try:
                from azure.identity import DefaultAzureCredential
            except ImportError as exc:
                raise ConfigError(
                    "Azure AD credentials need azure-identity: pip install 'score[azure]' (or set storage.account_key)"
                ) from exc
            service = BlobServiceClient(account_url(settings), credential=DefaultAzureCredential(), **options)
            signer = UserDelegationSas(service, settings.account_name)
    except ValueError as exc:
        raise ConfigError(f"cannot configure the Azure client: {exc}") from exc
    limits = PartLimits(
        min_part_bytes=settings.min_part_size_bytes,
        max_parts=settings.max_parts,
        max_part_bytes=MAX_BLOCK_BYTES,
        max_object_bytes=MAX_BLOCK_BYTES * settings.max_parts,
    )
    return AzureObjectStore(
        service,
        settings.container,
        signer,
        limits,
        md5_metadata_key=settings.md5_metadata_key,
        layout=settings.layout,
    )
