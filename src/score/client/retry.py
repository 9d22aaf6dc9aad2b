"""Retries with capped exponential backoff and full jitter, only for retryable errors."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from score.domain.errors import ScoreError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry."""

    attempts: int = 6
    base_seconds: float = 0.25
    cap_seconds: float = 10.0

    def delay(self, attempt: int) -> float:
        """Full-jitter delay before retry number *attempt* (1-based)."""
        return random.uniform(0, min(self.cap_seconds, self.base_seconds * (2 ** (attempt - 1))))


def with_retry(fn: Callable[[], T], policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep) -> T:
    """Call *fn*, retrying while it raises a ScoreError whose ``retryable`` is true.

    Raises:
        ScoreError: the last error once attempts are exhausted, or at once if not retryable.
    """
    attempt = 1
    while True:
        try:
            return fn()
        except ScoreError as exc:
            if not exc.retryable or attempt >= policy.attempts:
                raise
            sleep(policy.delay(attempt))
            attempt += 1
