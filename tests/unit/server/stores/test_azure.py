"""Building the Azure store from settings, offline: account-key SAS, the account URL, the block limits."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from score.config.settings import AzureStorageSettings
from score.domain.model import GetTarget
from score.server.stores.azure import account_url, make_azure_store

KEY = base64.b64encode(b"k" * 32).decode()


def test_an_account_key_store_signs_sas_urls_under_its_account_url() -> None:
    settings = AzureStorageSettings(kind="azure", account_name="acct", account_key=KEY, container="data")
    assert account_url(settings) == "https://acct.blob.core.windows.net"
    store = make_azure_store(settings)
    assert store.limits.max_parts == 10_000 and store.limits.min_part_bytes == settings.min_part_size_bytes
    url = store.sign_get(GetTarget("data/x"), datetime.now(UTC) + timedelta(minutes=5))
    assert url.startswith("https://acct.blob.core.windows.net/data/data/x?") and "sig=" in url


def test_an_emulator_endpoint_is_the_account_url() -> None:
    settings = AzureStorageSettings(
        kind="azure", account_name="devstoreaccount1", account_key=KEY, endpoint="http://127.0.0.1:1/devstoreaccount1/"
    )
    assert account_url(settings) == "http://127.0.0.1:1/devstoreaccount1"


def test_the_score_azure_layout_signs_objects_at_the_container_root() -> None:
    oid = "0b9c8a38-6a2a-4a5c-9d0e-3f1e2d3c4b5a"
    expires = datetime.now(UTC) + timedelta(minutes=5)
    ours = make_azure_store(AzureStorageSettings(kind="azure", account_name="acct", account_key=KEY))
    score = make_azure_store(
        AzureStorageSettings(kind="azure", account_name="acct", account_key=KEY, layout="score-azure")
    )
    assert ours.sign_get(GetTarget(f"data/{oid}"), expires).startswith(
        f"https://acct.blob.core.windows.net/data/data/{oid}?"
    )
    assert score.sign_get(GetTarget(f"data/{oid}"), expires).startswith(
        f"https://acct.blob.core.windows.net/data/{oid}?"
    )
    # a head() found the blob under the other name: the URL follows it
    found = GetTarget(f"data/{oid}", location=oid)
    assert ours.sign_get(found, expires).startswith(f"https://acct.blob.core.windows.net/data/{oid}?")
