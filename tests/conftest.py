"""Shared fixtures: a clean environment for every test (no stray tokens or server URLs); the tier markers.

Markers applied here at collection, so that a selection by marker is true:

* ``radosgw``, ``azurite``, ``gcs``: every test that would start that emulator, whether it asks for
  the session fixture by name or through a parametrized fixture that picks it by its parameter
  (``request.getfixturevalue``). The emulator fixtures refuse to start for a test without its
  marker (:func:`require_marker`), so ``-m "not radosgw"`` cannot start Ceph by accident.
* ``fast``: tests that start no score-server, no emulator and no CLI process: ``tests/unit`` and the
  contract suite on the memory store (``pytest -m fast``, under a minute).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.kit.azurite import Azurite
    from tests.kit.gcs_emulator import FakeGcs
    from tests.kit.postgres import Postgres
    from tests.kit.radosgw import Radosgw

import pytest

TESTS = Path(__file__).parent
FAST_TREES = (TESTS / "unit",)
# session fixture -> the marker of every test that may start it
EMULATOR_MARKERS = {"radosgw": "radosgw", "azurite": "azurite", "fake_gcs": "gcs", "postgres": "postgres"}
# the parameters by which parametrized fixtures pick an emulator (outside tests/unit)
EMULATOR_PARAMS = {
    "radosgw": "radosgw",
    "azure": "azurite",
    "azurite": "azurite",
    "gcs": "gcs",
    "fake_gcs": "gcs",
    "postgres": "postgres",
}


def emulator_markers(item: pytest.Item) -> set[str]:
    """The emulator markers *item* needs: by the fixtures it requests and the parameters it runs with."""
    needed = {EMULATOR_MARKERS[name] for name in getattr(item, "fixturenames", ()) if name in EMULATOR_MARKERS}
    callspec = getattr(item, "callspec", None)
    if callspec is not None and not _under(item, FAST_TREES):
        needed |= {EMULATOR_PARAMS[v] for v in callspec.params.values() if isinstance(v, str) and v in EMULATOR_PARAMS}
    return needed


def is_fast(item: pytest.Item) -> bool:
    """True for tests that start no process and no server: tests/unit, and the contract suite on the memory store."""
    if _under(item, FAST_TREES):
        return True
    callspec = getattr(item, "callspec", None)
    return _under(item, (TESTS / "contract",)) and callspec is not None and "memory" in callspec.params.values()


def _under(item: pytest.Item, trees: tuple[Path, ...]) -> bool:
    return any(item.path.is_relative_to(tree) for tree in trees)


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Apply the emulator markers and ``fast`` (see the module docstring)."""
    for item in items:
        for name in sorted(emulator_markers(item)):
            if item.get_closest_marker(name) is None:
                item.add_marker(getattr(pytest.mark, name))
        if is_fast(item):
            item.add_marker(pytest.mark.fast)


def require_marker(request: pytest.FixtureRequest, fixture: str) -> None:
    """Refuse to start an emulator for a test that does not carry its marker (the markers would lie).

    Called by the emulator fixtures themselves: a conftest hook does not see a session fixture's setup.
    """
    marker = EMULATOR_MARKERS[fixture]
    item = getattr(request, "_pyfuncitem", None)
    if item is not None and item.get_closest_marker(marker) is None:
        pytest.fail(
            f"{item.nodeid} starts {fixture} without @pytest.mark.{marker}: add the marker "
            "(or name the parameter that picks it in tests/conftest.py EMULATOR_PARAMS)",
            pytrace=False,
        )


_CLEAN_PREFIXES = ("SCORE_",)
_CLEAN_NAMES = ("ACCESSTOKEN", "STORAGE_URL", "METADATA_URL", "TRANSPORT_PARALLEL", "TRANSPORT_MEMORY")


def _score5_names() -> set[str]:
    """Every environment name of Score 5.x's client settings (sdk/score5_settings.py), read or warned about."""
    from score.sdk import score5_settings as score5

    keys = (*score5.SUPPORTED, *score5.UNSUPPORTED)
    return {score5.env_name(k) for k in keys} | set(score5.EXTRA_ENV) | {"STORAGE_PROFILE"}


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Remove variables that would change what the client or server does."""
    score5_names = _score5_names()
    for name in list(os.environ):
        if name.startswith(_CLEAN_PREFIXES) or name in _CLEAN_NAMES or name in score5_names:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))
    return


@pytest.fixture(scope="session")
def radosgw(request: pytest.FixtureRequest) -> Iterator[Radosgw]:
    """One Ceph radosgw for the whole session (started on first use, ~12 s)."""
    require_marker(request, "radosgw")
    from tests.kit.radosgw import Radosgw, available

    if not available():
        pytest.fail("Ceph radosgw is not installed: run scripts/setup --ceph (scripts/test does)")
    rgw = Radosgw().start()
    yield rgw
    rgw.stop()


@pytest.fixture(scope="session")
def postgres(request: pytest.FixtureRequest) -> Iterator[Postgres]:
    """One throw-away PostgreSQL cluster for the whole session (initdb + pg_ctl, ~2 s); tests take fresh databases."""
    require_marker(request, "postgres")
    from tests.kit.postgres import Postgres, available

    if not available():
        pytest.fail("PostgreSQL is not installed: run scripts/setup (scripts/test does; apt: postgresql)")
    cluster = Postgres().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def azurite(request: pytest.FixtureRequest) -> Iterator[Azurite]:
    """One Azurite for the whole session (started on first use, ~1 s)."""
    require_marker(request, "azurite")
    from tests.kit.azurite import Azurite, available

    if not available():
        pytest.fail("Azurite is not installed: run scripts/setup (scripts/test does)")
    emulator = Azurite().start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def fake_gcs(request: pytest.FixtureRequest) -> Iterator[FakeGcs]:
    """One fake-gcs-server for the whole session (started on first use, well under 1 s)."""
    require_marker(request, "fake_gcs")
    from tests.kit.gcs_emulator import FakeGcs

    emulator = FakeGcs().start()
    yield emulator
    emulator.stop()
