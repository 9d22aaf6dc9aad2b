"""Shared access signatures for one blob: account-key SAS, or user-delegation SAS under Azure AD.

Every SAS is scoped to a single blob (``sr=b``), carries one permission (read for downloads,
write for block uploads) and expires when the URL does. A service SAS cannot bind query
parameters or headers, so a write SAS for a block is also a write SAS for that blob: short
lifetimes are what keeps it harmless (see docs/storage.md).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

DELEGATION_KEY_LIFETIME = timedelta(hours=24)
DELEGATION_KEY_MARGIN = timedelta(hours=1)
CLOCK_SKEW = timedelta(minutes=5)


class SasSigner(Protocol):
    """Signs a SAS query string for one blob."""

    def sign(self, container: str, blob: str, permission: str, expires_at: datetime) -> str:
        """Return the SAS query string (no leading ``?``) granting *permission* (``r`` or ``w``)."""
        ...


class AccountKeySas:
    """SAS signed with the storage account key (also what Azurite uses)."""

    def __init__(self, account_name: str, account_key: str) -> None:
        """Keep the key for signing; it never leaves this object."""
        self._name = account_name
        self._key = account_key

    def sign(self, container: str, blob: str, permission: str, expires_at: datetime) -> str:
        """An account-key service SAS for one blob."""
        from azure.storage.blob import generate_blob_sas

        return str(
            generate_blob_sas(
                self._name, container, blob, account_key=self._key, permission=permission, expiry=expires_at
            )
        )


class UserDelegationSas:
    """SAS signed with a user delegation key obtained with Azure AD credentials (no account key needed).

    The key is fetched once and renewed an hour before it expires; the fetch is the only network
    call, about once a day.
    """

    def __init__(self, service: Any, account_name: str) -> None:
        """*service* is a ``BlobServiceClient`` authenticated with an Azure AD token credential."""
        self._service = service
        self._name = account_name
        self._key: Any = None
        self._key_expires = datetime.min.replace(tzinfo=UTC)
        self._lock = threading.Lock()

    def _delegation_key(self, needed_until: datetime) -> Any:
        with self._lock:
            if self._key is None or self._key_expires - DELEGATION_KEY_MARGIN < needed_until:
                now = datetime.now(UTC)
                expires = max(now + DELEGATION_KEY_LIFETIME, needed_until + DELEGATION_KEY_MARGIN)
                self._key = self._service.get_user_delegation_key(now - CLOCK_SKEW, expires)
                self._key_expires = expires
            return self._key

    def sign(self, container: str, blob: str, permission: str, expires_at: datetime) -> str:
        """A user-delegation SAS for one blob."""
        from azure.storage.blob import generate_blob_sas

        key = self._delegation_key(expires_at)
        return str(
            generate_blob_sas(
                self._name, container, blob, user_delegation_key=key, permission=permission, expiry=expires_at
            )
        )
