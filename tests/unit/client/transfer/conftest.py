"""What the in-process client tests share: the app on the memory store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kit.inprocess import App


@pytest.fixture
def app(tmp_path: Path) -> App:
    """score-server's app in process, on the memory store, in a private directory."""
    return App(tmp_path / "data")
