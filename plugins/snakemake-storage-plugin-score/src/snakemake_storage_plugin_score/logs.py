"""Log lines through Snakemake's logger, which prints a record's message without applying its arguments: so
messages are formatted before they are logged (``%s`` arguments would be printed as ``%s``).
"""

from __future__ import annotations

import logging


def say(logger: logging.Logger, message: str, level: int = logging.INFO) -> None:
    """Log *message*, already formatted, at *level*."""
    logger.log(level, message)
