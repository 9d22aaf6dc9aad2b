"""A pytest plugin for tests/test_tiers.py (``-p tests.tier_probe``): writes, as JSON, what each collected test
asks for (fixtures, parameters, markers) to $TIER_PROBE_ITEMS, and the ``score`` modules imported by the end of
the session to $TIER_PROBE_MODULES."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest


def pytest_collection_finish(session: pytest.Session) -> None:
    """Write the collected items."""
    out = os.environ.get("TIER_PROBE_ITEMS")
    if not out:
        return
    rows = []
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        params = {k: v for k, v in callspec.params.items() if isinstance(v, str)} if callspec else {}
        rows.append(
            {
                "nodeid": item.nodeid,
                "fixtures": list(getattr(item, "fixturenames", ())),
                "params": params,
                "markers": sorted({m.name for m in item.iter_markers()}),
            }
        )
    Path(out).write_text(json.dumps(rows))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the imported score modules."""
    out = os.environ.get("TIER_PROBE_MODULES")
    if out:
        Path(out).write_text(json.dumps(sorted(m for m in sys.modules if m == "score" or m.startswith("score."))))
