"""Parsing human durations such as ``90``, ``15m``, ``1h``, ``7d`` (pure)."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Far beyond any lifetime or age we are asked for, and far below what a datetime can add.
LONGEST = timedelta(days=36_500)


def format_duration(value: timedelta) -> str:
    """Render *value* in the largest unit that divides it (``3650d``, ``90m``, ``45s``)."""
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{value.total_seconds():g}s"


def parse_duration(text: str, maximum: timedelta = LONGEST) -> timedelta:
    """Parse *text* (a number with an optional s/m/h/d unit; seconds by default).

    Args:
        text: the duration as typed.
        maximum: the longest duration accepted (default 100 years).

    Raises:
        ValueError: when *text* is not such a duration, is not positive or is longer than *maximum*.
    """
    m = re.fullmatch(r"\s*(\d{1,30}(?:\.\d{1,30})?)\s*([smhd]?)\s*", text.lower())
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 1h, 7d)")
    seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    if seconds > maximum.total_seconds():
        raise ValueError(f"{text.strip()} is longer than the maximum of {format_duration(maximum)}")
    return timedelta(seconds=seconds)
