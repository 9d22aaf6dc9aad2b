"""The one policy for attempting a call or a part again: which failures, how long to wait, how often.

Every retry in the client, the mount and the slicer goes through :func:`attempt` (or its short form
:func:`with_retry`):

* a ``ScoreError`` whose ``retryable`` is true is attempted again after a capped exponential backoff with
  full jitter (:class:`RetryPolicy`), until the policy's attempts are spent; any other error is raised at
  once. What is retryable is said by the error's type and its ``retryable`` flag, never by its text;
* an ``IntegrityError`` (bytes that fail their MD5, an ETag that is not the part's) can have a budget of its
  own (:func:`integrity_budget`): the part is fetched or sent again at once, a bounded number of times;
* a ``UrlExpiredError`` can be answered by asking for a fresh URL (:func:`url_refresh`), at once, a bounded
  number of times in a row (clocks that disagree would otherwise loop forever);
* cancellation is its own type, :class:`Cancelled`: a cancelled attempt is never retried and never counts
  as a failure of the part.

The waiting is injected (``sleep``, or the ``cancel`` event's own ``wait``), so tests never really sleep.
This module imports only the standard library and ``score.domain``: ``client``, ``rangeio`` and ``slicing``
all use it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, NoReturn, TypeVar

from score.domain.errors import IntegrityError, ScoreError, UrlExpiredError

T = TypeVar("T")
E = TypeVar("E", bound=ScoreError)

Sleep = Callable[[float], None]
"""Wait this many seconds (``time.sleep``, or a test's recorder)."""

EXPIRED_IN_A_ROW = 6  # fresh URLs refused as expired, in a row, before a part gives up (clock skew)
INTEGRITY_ATTEMPTS = 3  # a part whose bytes fail their check is tried this many times in all
_MAX_DOUBLINGS = 62  # beyond this the cap has long been reached; keeps 2**n a small number


class Cancelled(Exception):  # noqa: N818  a control-flow signal, not an error
    """The transfer was cancelled (Ctrl-C or another part failed fatally): never retried, never a failure."""


def real_sleep(seconds: float) -> None:
    """Sleep on the real clock: the one call of ``time.sleep`` in the package (``scripts/check``)."""
    time.sleep(seconds)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to attempt again a call that failed retryably."""

    attempts: int = 6  # in all, the first included
    base_seconds: float = 0.25  # the ceiling of the first wait; it doubles with each attempt
    cap_seconds: float = 10.0  # no wait is longer
    jitter: Callable[[float, float], float] = field(default=random.uniform, compare=False, repr=False)

    def ceiling(self, attempt: int) -> float:
        """The longest wait after failed attempt number *attempt* (1-based): ``min(cap, base * 2**(attempt-1))``."""
        return min(self.cap_seconds, self.base_seconds * 2.0 ** min(max(attempt - 1, 0), _MAX_DOUBLINGS))

    def delay(self, attempt: int) -> float:
        """The full-jitter wait after failed attempt number *attempt*: uniform in ``[0, ceiling(attempt)]``."""
        return self.jitter(0.0, self.ceiling(attempt))


@dataclass(frozen=True, slots=True)
class Budget(Generic[E]):
    """Failures of one *kind* attempted again at once (no backoff), *attempts* times in all.

    *before_next* runs before each new attempt (send the part again, ask for a fresh URL...);
    *exhausted* makes the error raised once the budget is spent (by default the last one itself).
    Made by :func:`integrity_budget` and :func:`url_refresh`.
    """

    kind: type[E]
    attempts: int
    before_next: Callable[[E], None] | None = None
    exhausted: Callable[[E, int], BaseException] | None = None

    def spend(self, exc: E, times: int) -> None:
        """Count failure number *times*: raise once the budget is spent, else get the next attempt ready.

        Raises:
            ScoreError: *exc*, or what ``exhausted`` makes of it, at the last attempt.
        """
        if times >= self.attempts:
            _give_up(exc, None if self.exhausted is None else self.exhausted(exc, times))
        if self.before_next is not None:
            self.before_next(exc)


def integrity_budget(
    attempts: int = INTEGRITY_ATTEMPTS,
    *,
    repair: Callable[[IntegrityError], None] | None = None,
    exhausted: Callable[[IntegrityError, int], BaseException] | None = None,
) -> Budget[IntegrityError]:
    """Bytes that fail their check are attempted again at once, *attempts* times in all; *repair* runs
    before each new attempt (e.g. send the part again before confirming it anew).
    """
    return Budget(IntegrityError, attempts, repair, exhausted)


def url_refresh(
    refresh: Callable[[UrlExpiredError], None],
    *,
    limit: int = EXPIRED_IN_A_ROW,
    exhausted: Callable[[UrlExpiredError, int], BaseException] | None = None,
) -> Budget[UrlExpiredError]:
    """An expired URL is replaced by *refresh* and attempted again at once, up to *limit* expiries in a
    row; at the *limit*-th no refresh is asked for, and the error (or what *exhausted* makes of it) is raised.
    """
    return Budget(UrlExpiredError, limit, refresh, exhausted)


def attempt(
    once: Callable[[], T],
    policy: RetryPolicy,
    *,
    cancel: threading.Event | None = None,
    sleep: Sleep | None = None,
    integrity: Budget[IntegrityError] | None = None,
    expiry: Budget[UrlExpiredError] | None = None,
    on_retry: Callable[[ScoreError], None] | None = None,
) -> T:
    """Call *once* until it returns, attempting again what the policy allows.

    Args:
        once: one attempt; raises ``ScoreError`` on failure (anything else is never retried).
        policy: attempts and backoff for retryable errors.
        cancel: when set, no new attempt starts and a backoff ends early, with :class:`Cancelled`.
        sleep: the wait between attempts; by default *cancel*'s ``wait`` (or the real clock). An injected
            *sleep* is not interrupted by *cancel*, which is checked when it returns.
        integrity: a budget of its own for ``IntegrityError`` (:func:`integrity_budget`; without it, they
            count as any other error).
        expiry: how to refresh an expired URL (:func:`url_refresh`; without it, ``UrlExpiredError`` counts
            as any other error).
        on_retry: told of each failure just before the next attempt starts (e.g. to count retries).

    Raises:
        Cancelled: *cancel* was set before an attempt or during a backoff.
        ScoreError: a non-retryable error at once; the last error when a budget is spent (or what
            the budget's ``exhausted`` makes of it).
    """
    budgets: tuple[Budget[Any], ...] = tuple(b for b in (expiry, integrity) if b is not None)
    spent = [0] * len(budgets)
    failures = 0
    while True:
        if cancel is not None and cancel.is_set():
            raise Cancelled
        try:
            return once()
        except ScoreError as exc:
            which = next((i for i, b in enumerate(budgets) if isinstance(exc, b.kind)), None)
            if which is None:
                failures = _back_off(exc, failures, policy, cancel, sleep)
            else:
                spent[which] += 1
                budgets[which].spend(exc, spent[which])
            if on_retry is not None:
                on_retry(exc)


def _give_up(exc: ScoreError, instead: BaseException | None) -> NoReturn:
    """Raise *exc* itself, or *instead* caused by it (a budget is spent)."""
    if instead is None or instead is exc:
        raise exc
    raise instead from exc


def _back_off(
    exc: ScoreError, failures: int, policy: RetryPolicy, cancel: threading.Event | None, sleep: Sleep | None
) -> int:
    """Count a failure; raise *exc* when it is not retryable or the attempts are spent, else wait; the new count.

    Raises:
        Cancelled: the wait was cut short (or followed) by *cancel*.
    """
    failures += 1
    if not exc.retryable or failures >= policy.attempts:
        raise exc
    delay = policy.delay(failures)
    if sleep is not None:
        sleep(delay)
        cancelled = cancel is not None and cancel.is_set()
    elif cancel is not None:
        cancelled = cancel.wait(delay)
    else:
        real_sleep(delay)
        cancelled = False
    if cancelled:
        raise Cancelled from exc
    return failures


def with_retry(fn: Callable[[], T], policy: RetryPolicy, sleep: Sleep | None = None) -> T:
    """Call *fn*, attempting it again while it raises a retryable ``ScoreError`` (:func:`attempt`, no budgets).

    Raises:
        ScoreError: the last error once the attempts are spent, or at once when not retryable.
    """
    return attempt(fn, policy, sleep=sleep)
