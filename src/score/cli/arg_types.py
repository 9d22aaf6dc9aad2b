"""Types of command-line values shared by score-client and score-server."""

from __future__ import annotations

import argparse
from pathlib import Path


def path_arg(text: str) -> Path:
    """A path given on the command line; an empty one (``--output-dir ""``, an unset shell variable) is refused
    rather than taken as the current directory.

    Raises:
        argparse.ArgumentTypeError: *text* is empty or blank.
    """
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path: give a file or directory (. for the current directory)")
    return Path(text)
