"""Small assertions and headers that many tiers share."""

from __future__ import annotations

from typing import Any


def ok(result: Any) -> str:
    """The standard output of a finished score-client run that must have succeeded cleanly (exit 0, no traceback)."""
    assert result.returncode == 0, f"rc={result.returncode}\nstdout={result.stdout}\nstderr={result.stderr}"
    assert "Traceback" not in result.stderr
    return str(result.stdout)


def bearer(token: str) -> dict[str, str]:
    """The Authorization header that carries *token*."""
    return {"Authorization": f"Bearer {token}"}
