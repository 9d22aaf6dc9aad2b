"""The declared markers are true: collecting with ``-m "not radosgw and not azurite and not gcs"`` leaves no
test that asks for an emulator, by fixture or by parameter (and tests/conftest.py refuses to start one for a
test without its marker); ``-m fast`` collects only in-process tests. (Collects the whole
suite in a subprocess: a few seconds, starts nothing else.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import EMULATOR_MARKERS, EMULATOR_PARAMS

ROOT = Path(__file__).parent.parent


def collect(marker_expr: str, tmp_path: Path) -> list[dict[str, object]]:
    out = tmp_path / "items.json"
    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-p", "tests.tier_probe"]
    env = {**os.environ, "TIER_PROBE_ITEMS": str(out)}
    done = subprocess.run([*cmd, "-m", marker_expr, "tests"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows: list[dict[str, object]] = json.loads(out.read_text())
    return rows


def test_excluding_the_emulators_collects_no_test_that_starts_one(tmp_path: Path) -> None:
    markers = sorted(set(EMULATOR_MARKERS.values()))
    rows = collect(" and ".join(f"not {m}" for m in markers), tmp_path)
    assert len(rows) > 1000
    for row in rows:
        assert not set(EMULATOR_MARKERS) & set(row["fixtures"]), row["nodeid"]  # type: ignore[arg-type]
        if not str(row["nodeid"]).startswith("tests/unit/"):
            assert not set(EMULATOR_PARAMS) & set(row["params"].values()), row["nodeid"]  # type: ignore[attr-defined]
        assert not set(markers) & set(row["markers"]), row["nodeid"]  # type: ignore[arg-type]


def test_the_fast_tier_is_in_process(tmp_path: Path) -> None:
    rows = collect("fast", tmp_path)
    assert len(rows) > 500
    for row in rows:
        nodeid = str(row["nodeid"])
        assert nodeid.startswith("tests/unit/") or (
            nodeid.startswith("tests/contract/") and "memory" in row["params"].values()  # type: ignore[attr-defined]
        ), nodeid
        assert not {"integration", "e2e", "radosgw", "azurite", "gcs", "fuse"} & set(row["markers"]), nodeid  # type: ignore[arg-type]
