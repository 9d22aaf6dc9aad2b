"""The one part-attempt policy (score.attempts): backoff with full jitter and a cap, retryable errors only,
the integrity budget, expired-URL refreshes, cancellation. An injected sleep records the waits: nothing sleeps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from itertools import count

import pytest

from score import attempts as a
from score.domain import errors as e


def failing(*failures: BaseException, then: str = "ok") -> tuple[Callable[[], str], list[int]]:
    """A call that raises *failures* one after the other, then returns *then*; and its call log."""
    left: Iterator[BaseException] = iter(failures)
    calls: list[int] = []

    def once() -> str:
        calls.append(len(calls) + 1)
        for exc in left:
            raise exc
        return then

    return once, calls


def ceiling_jitter(lo: float, hi: float) -> float:
    """The jitter that always waits the longest: shows the backoff's ceiling."""
    return hi


# ---- the backoff ------------------------------------------------------------------------------------


def test_backoff_grows_exponentially_then_is_capped() -> None:
    p = a.RetryPolicy(attempts=99, base_seconds=0.5, cap_seconds=3.0, jitter=ceiling_jitter)
    assert [p.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert p.delay(10_000) == 3.0  # no overflow however many attempts


def test_backoff_has_full_jitter_within_its_bounds() -> None:
    p = a.RetryPolicy(base_seconds=1, cap_seconds=3)
    for attempt in range(1, 20):
        delays = [p.delay(attempt) for _ in range(50)]
        assert all(0 <= d <= min(3, 2 ** (attempt - 1)) for d in delays)
        assert len(set(delays)) > 1  # jittered, not a fixed schedule


def test_waits_follow_the_policy_through_the_injected_sleep() -> None:
    slept: list[float] = []
    once, calls = failing(*[e.UpstreamUnavailableError("down")] * 4)
    policy = a.RetryPolicy(attempts=5, base_seconds=0.25, cap_seconds=1.0, jitter=ceiling_jitter)
    assert a.attempt(once, policy, sleep=slept.append) == "ok"
    assert calls == [1, 2, 3, 4, 5] and slept == [0.25, 0.5, 1.0, 1.0]


# ---- what is retried ------------------------------------------------------------------------------------


def test_retryable_errors_are_retried_then_succeed() -> None:
    slept: list[float] = []
    once, calls = failing(e.UpstreamUnavailableError("down"), e.UpstreamUnavailableError("down"))
    assert a.with_retry(once, a.RetryPolicy(attempts=5), sleep=slept.append) == "ok"
    assert len(calls) == 3 and len(slept) == 2


@pytest.mark.parametrize(
    "error",
    [
        e.ForbiddenError("no"),
        e.NotFoundError("gone"),
        e.UrlExpiredError("expired"),  # without a refresh, an expired URL is not retryable
        e.IntegrityError("bad bytes"),  # without a budget, only as retryable as it says
        e.UpstreamUnavailableError("the store is full", retryable=False),  # the flag, not the type, decides
    ],
)
def test_non_retryable_errors_are_raised_at_once(error: e.ScoreError) -> None:
    slept: list[float] = []
    once, calls = failing(error)
    with pytest.raises(type(error)) as raised:
        a.attempt(once, a.RetryPolicy(attempts=5), sleep=slept.append)
    assert raised.value is error and calls == [1] and slept == []


def test_a_retryable_flag_makes_any_error_retryable_never_its_text() -> None:
    slept: list[float] = []
    once, calls = failing(e.InvalidRequestError("RequestTimeout: try again", retryable=True))
    assert a.attempt(once, a.RetryPolicy(), sleep=slept.append) == "ok" and calls == [1, 2]
    once, calls = failing(e.InvalidRequestError("503 Service Unavailable, please retry"))
    with pytest.raises(e.InvalidRequestError):
        a.attempt(once, a.RetryPolicy(), sleep=slept.append)
    assert calls == [1]


def test_attempts_are_bounded_and_the_last_error_is_raised() -> None:
    errors = [e.UpstreamUnavailableError(f"down {n}") for n in range(10)]
    once, calls = failing(*errors)
    with pytest.raises(e.UpstreamUnavailableError) as raised:
        a.attempt(once, a.RetryPolicy(attempts=4), sleep=lambda s: None)
    assert len(calls) == 4 and raised.value is errors[3]


def test_other_exceptions_pass_through_untouched() -> None:
    once, calls = failing(OSError("disk"))
    with pytest.raises(OSError, match="disk"):
        a.attempt(once, a.RetryPolicy(), sleep=lambda s: None)
    assert calls == [1]


def test_on_retry_hears_of_each_failure_that_is_attempted_again() -> None:
    heard: list[str] = []
    errors = [e.UpstreamUnavailableError("a"), e.UpstreamUnavailableError("b")]
    once, _ = failing(*errors)
    a.attempt(once, a.RetryPolicy(), sleep=lambda s: None, on_retry=lambda exc: heard.append(exc.message))
    assert heard == ["a", "b"]


# ---- the integrity budget -----------------------------------------------------------------------------


def test_the_integrity_budget_is_enforced_without_waiting() -> None:
    slept: list[float] = []
    errors = [e.IntegrityError(f"md5 {n}") for n in range(5)]
    once, calls = failing(*errors)
    with pytest.raises(e.IntegrityError) as raised:
        a.attempt(once, a.RetryPolicy(attempts=99), sleep=slept.append, integrity=a.integrity_budget(3))
    assert len(calls) == 3 and raised.value is errors[2] and slept == []


def test_integrity_failures_are_repaired_and_counted_apart_from_other_failures() -> None:
    repairs: list[str] = []
    once, calls = failing(
        e.IntegrityError("md5 1"),
        e.UpstreamUnavailableError("down"),
        e.IntegrityError("md5 2"),
        e.UpstreamUnavailableError("down"),
    )
    budget = a.integrity_budget(3, repair=lambda exc: repairs.append(exc.message))
    assert a.attempt(once, a.RetryPolicy(attempts=3), sleep=lambda s: None, integrity=budget) == "ok"
    assert len(calls) == 5 and repairs == ["md5 1", "md5 2"]


def test_a_spent_integrity_budget_can_say_more() -> None:
    once, _ = failing(*[e.IntegrityError("part 2 has MD5 x")] * 3)
    budget = a.integrity_budget(
        3, exhausted=lambda exc, n: e.IntegrityError(f"object o: {exc.message} (after {n} attempts)")
    )
    with pytest.raises(e.IntegrityError, match=r"^object o: part 2 has MD5 x \(after 3 attempts\)$") as raised:
        a.attempt(once, a.RetryPolicy(), sleep=lambda s: None, integrity=budget)
    assert isinstance(raised.value.__cause__, e.IntegrityError)


# ---- expired URLs ----------------------------------------------------------------------------------------


def test_an_expired_url_is_refreshed_at_once() -> None:
    slept: list[float] = []
    refreshed: list[int] = []
    once, calls = failing(e.UrlExpiredError("expired"), e.UrlExpiredError("expired"))
    refresh = a.url_refresh(lambda exc: refreshed.append(len(calls)))
    assert a.attempt(once, a.RetryPolicy(attempts=1), sleep=slept.append, expiry=refresh) == "ok"
    assert refreshed == [1, 2] and calls == [1, 2, 3] and slept == []


def test_expiries_in_a_row_are_bounded() -> None:
    refreshed: list[int] = []
    once, calls = failing(*[e.UrlExpiredError("expired")] * 10)
    refresh = a.url_refresh(
        lambda exc: refreshed.append(1), exhausted=lambda exc, n: e.UrlExpiredError(f"{n} fresh URLs refused")
    )
    with pytest.raises(e.UrlExpiredError, match=f"^{a.EXPIRED_IN_A_ROW} fresh URLs refused$"):
        a.attempt(once, a.RetryPolicy(), sleep=lambda s: None, expiry=refresh)
    assert len(calls) == a.EXPIRED_IN_A_ROW and len(refreshed) == a.EXPIRED_IN_A_ROW - 1


def test_a_spent_expiry_budget_may_raise_the_last_error_itself() -> None:
    errors = [e.UrlExpiredError(f"expired {n}") for n in range(3)]
    once, _ = failing(*errors)
    refresh = a.url_refresh(lambda exc: None, limit=3, exhausted=lambda exc, n: exc)
    with pytest.raises(e.UrlExpiredError) as raised:
        a.attempt(once, a.RetryPolicy(), sleep=lambda s: None, expiry=refresh)
    assert raised.value is errors[2] and raised.value.__cause__ is None


def test_each_budget_counts_its_own_failures() -> None:
    once, calls = failing(
        e.UrlExpiredError("expired"),
        e.IntegrityError("md5"),
        e.UrlExpiredError("expired"),
        e.IntegrityError("md5"),
    )
    assert (
        a.attempt(
            once,
            a.RetryPolicy(attempts=1),
            sleep=lambda s: None,
            integrity=a.integrity_budget(3),
            expiry=a.url_refresh(lambda exc: None, limit=3),
        )
        == "ok"
    )
    assert len(calls) == 5


# ---- cancellation ------------------------------------------------------------------------------------------


def test_a_cancelled_call_never_starts() -> None:
    cancel = threading.Event()
    cancel.set()
    once, calls = failing()
    with pytest.raises(a.Cancelled):
        a.attempt(once, a.RetryPolicy(), cancel=cancel, sleep=lambda s: None)
    assert calls == []


def test_cancellation_during_a_backoff_ends_it_as_cancelled_not_as_a_failure() -> None:
    cancel = threading.Event()
    heard: list[e.ScoreError] = []
    once, calls = failing(*[e.UpstreamUnavailableError("down")] * 3)

    def sleep(seconds: float) -> None:
        cancel.set()  # Ctrl-C while waiting

    with pytest.raises(a.Cancelled) as raised:
        a.attempt(once, a.RetryPolicy(attempts=9), cancel=cancel, sleep=sleep, on_retry=heard.append)
    assert calls == [1] and heard == [] and isinstance(raised.value.__cause__, e.UpstreamUnavailableError)


def test_the_cancel_event_cuts_a_real_wait_short() -> None:
    cancel = threading.Event()
    once, calls = failing(e.UpstreamUnavailableError("down"))
    threading.Timer(0.05, cancel.set).start()
    policy = a.RetryPolicy(attempts=3, base_seconds=60.0, cap_seconds=60.0, jitter=ceiling_jitter)
    with pytest.raises(a.Cancelled):
        a.attempt(once, policy, cancel=cancel)  # would wait 60 s without the event
    assert calls == [1]


def test_cancelled_raised_by_an_attempt_is_never_retried() -> None:
    tries = count(1)

    def once() -> str:
        next(tries)
        raise a.Cancelled

    with pytest.raises(a.Cancelled):
        a.attempt(once, a.RetryPolicy(), sleep=lambda s: None, integrity=a.integrity_budget())
    assert next(tries) == 2
    assert not issubclass(a.Cancelled, e.ScoreError)


def test_the_data_plane_cancels_with_the_same_type() -> None:
    from score.client.transfer.data_plane import Cancelled

    assert Cancelled is a.Cancelled
