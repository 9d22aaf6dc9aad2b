"""Shared fixtures: a clean environment for every test (no stray tokens or server URLs)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.kit.azurite import Azurite
    from tests.kit.gcs_emulator import FakeGcs
    from tests.kit.radosgw import Radosgw

import pytest

_CLEAN_PREFIXES = ("SCORE_",)
_CLEAN_NAMES = ("ACCESSTOKEN", "STORAGE_URL", "METADATA_URL", "TRANSPORT_PARALLEL", "TRANSPORT_MEMORY")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Remove variables that would change what the client or server does."""
    for name in list(os.environ):
        if name.startswith(_CLEAN_PREFIXES) or name in _CLEAN_NAMES:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))
    return


@pytest.fixture(scope="session")
def radosgw() -> Iterator[Radosgw]:
    """One Ceph radosgw for the whole session (started on first use, ~12 s)."""
    from tests.kit.radosgw import Radosgw, available

    if not available():
        pytest.fail("Ceph radosgw is not installed: run scripts/setup --ceph (scripts/test does)")
    rgw = Radosgw().start()
    yield rgw
    rgw.stop()


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """One Azurite for the whole session (started on first use, ~1 s)."""
    from tests.kit.azurite import Azurite, available

    if not available():
        pytest.fail("Azurite is not installed: run scripts/setup (scripts/test does)")
    emulator = Azurite().start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def fake_gcs() -> Iterator[FakeGcs]:
    """One fake-gcs-server for the whole session (started on first use, well under 1 s)."""
    from tests.kit.gcs_emulator import FakeGcs

    emulator = FakeGcs().start()
    yield emulator
    emulator.stop()
