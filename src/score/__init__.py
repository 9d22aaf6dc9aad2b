"""Score: pre-signed-URL file transfer for genomics object storage.

``from score import Client`` is the Python API (:mod:`score.sdk.client`); it is imported on first use, so
``import score`` stays free of side effects and cheap for the command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Client", "__version__"]

if TYPE_CHECKING:
    from score.sdk.client import Client


def __getattr__(name: str) -> Any:
    """``score.Client``, imported when first asked for."""
    if name == "Client":
        import importlib

        return importlib.import_module("score.sdk.client").Client
    raise AttributeError(f"module 'score' has no attribute {name!r}")
