"""Prometheus metrics of score-server, in a registry of its own (one per app, none at import).

score_http_requests_total{method,route,status}        requests served (route = the path template; status 500 for
                                                      an unhandled error, 499 when the client left before the answer)
score_http_request_duration_seconds{method,route}     their latency
score_urls_issued_total{action}                       pre-signed URLs handed out (url:download, url:upload-part...)
score_local_store_bytes_total{direction}              bytes the embedded local store sent and received
score_authorization_denials_total{reason}             401/403 answers by reason (no_token, expired_token...)
score_upstream_duration_seconds{upstream,operation,outcome}   calls to the store, metadata service, identity provider
score_upstream_errors_total{upstream,operation}       those that failed (unreachable, or an unexpected error)

One process (and every app built in-process, as in tests) counts in memory and ``/metrics`` shows the registry of
its own app. Under ``serve --workers N`` the figures of one server are those of all its workers: ``serve`` makes a
fresh directory (:func:`new_multiprocess_dir`) and names it in ``PROMETHEUS_MULTIPROC_DIR`` before the workers
start, so that prometheus_client, imported afterwards in each worker, keeps every value in a per-process file
there; ``/metrics``, whichever worker answers, sums the files of all of them (``MultiProcessCollector``).

A worker that dies is not "marked dead" (``multiprocess.mark_process_dead``): uvicorn's supervisor offers no
hook when it replaces a worker, and there is nothing to mark: that call only removes the files of live gauges,
and the server has none. The counters and histograms of a dead worker stay in the sums, as they must (a counter
that went down would read as a reset to Prometheus). The directory goes when ``serve`` ends.
"""

from __future__ import annotations

import inspect
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

from score.domain import errors as e
from score.domain.model import AuditEvent
from score.domain.ports import Auditor

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own switch, read when it is imported


def new_multiprocess_dir() -> Path:
    """A new, empty directory for the metric files of one run of ``serve --workers N`` (under ``TMPDIR``: local,
    never the data directory, which replicas may share over NFS; a fresh name, so no file of an earlier run or of
    another server is ever summed in).
    """
    return Path(tempfile.mkdtemp(prefix="score-metrics-"))


def _summing_registry(path: Path) -> CollectorRegistry:
    """A registry that shows the sums over the metric files of every process under *path*.

    Raises:
        ConfigError: prometheus_client keeps this process's values elsewhere (in memory, or in another directory).
    """
    # the value class prometheus_client chose when it was imported: files in PROMETHEUS_MULTIPROC_DIR, or memory
    in_files = getattr(values.ValueClass, "_multiprocess", False)
    if not in_files or os.environ.get(MULTIPROC_ENV) != str(path):
        raise e.ConfigError(f"metrics of several workers need {MULTIPROC_ENV}={path} before prometheus_client loads")
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(path))  # type: ignore[no-untyped-call]  # prometheus_client: untyped
    return registry


class Metrics:
    """The server's collectors."""

    def __init__(self, multiprocess_dir: Path | None = None) -> None:
        """Create the collectors in a fresh registry; with *multiprocess_dir* (a worker of ``serve --workers N``),
        :meth:`render` shows the sums over the files every worker keeps there.

        Raises:
            ConfigError: *multiprocess_dir* is given but prometheus_client was imported without
                ``PROMETHEUS_MULTIPROC_DIR`` naming it (its values would stay in this process only).
        """
        self.registry = CollectorRegistry(auto_describe=True)
        self._exposed = self.registry if multiprocess_dir is None else _summing_registry(multiprocess_dir)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        r = self.registry
        self.requests = Counter(
            "score_http_requests", "HTTP requests served", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "score_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.urls = Counter("score_urls_issued", "pre-signed URLs handed out", ["action"], registry=r)
        self.store_bytes = Counter(
            "score_local_store_bytes", "bytes the embedded local store sent or received", ["direction"], registry=r
        )
        self.denials = Counter(
            "score_authorization_denials", "requests refused with 401 or 403", ["reason"], registry=r
        )
        self.upstream = Histogram(
            "score_upstream_duration_seconds",
            "calls to the object store, metadata service and identity provider",
            ["upstream", "operation", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_errors = Counter(
            "score_upstream_errors", "failed calls to an upstream service", ["upstream", "operation"], registry=r
        )

    def child(self, metric: Counter | Histogram, *values: str) -> Any:
        """``metric.labels(*values)``, looked up once per label set (the sets are few: routes, statuses,
        operations) instead of on every request.
        """
        key = (id(metric), values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type (of every worker's files under ``serve --workers N``)."""
        return generate_latest(self._exposed), CONTENT_TYPE_LATEST

    def denied(self, exc: e.ScoreError) -> None:
        """Count a 401/403 answer."""
        self.denials.labels(exc.reason or exc.code).inc()


class MeteredAuditor:
    """Counts URLs issued (by action) on their way to the real auditor."""

    def __init__(self, inner: Auditor, metrics: Metrics) -> None:
        """Forward to *inner*."""
        self._inner = inner
        self._metrics = metrics

    def record(self, event: AuditEvent) -> None:
        """Count, then record."""
        if event.decision == "issued":
            self._metrics.child(self._metrics.urls, event.action).inc()
        self._inner.record(event)


class Metered:
    """Wraps an adapter (store, metadata service, token verifier): each coroutine method is timed,
    and failures that are the upstream's (unreachable, or not a domain error at all) are counted.
    Domain answers such as "not found" or "invalid token" are outcomes, not upstream errors.
    """

    def __init__(self, inner: object, upstream: str, metrics: Metrics) -> None:
        """Wrap *inner*, labelled *upstream*."""
        self._inner = inner
        self._upstream = upstream
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        """Only for names not set yet: a coroutine method is wrapped once and kept, so later calls
        cost no lookup here (properties and plain methods pass through every time).
        """
        attr = getattr(self._inner, name)
        if not inspect.iscoroutinefunction(attr):
            return attr
        timed = self._timed(name, attr)
        setattr(self, name, timed)
        return timed

    def _timed(self, name: str, call: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        metrics, upstream = self._metrics, self._upstream

        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            outcome = "ok"
            try:
                return await call(*args, **kwargs)
            except e.UpstreamUnavailableError:
                outcome = "error"
                metrics.upstream_errors.labels(upstream, name).inc()
                raise
            except e.ScoreError:
                outcome = "refused"
                raise
            except Exception:
                outcome = "error"
                metrics.upstream_errors.labels(upstream, name).inc()
                raise
            finally:
                metrics.child(metrics.upstream, upstream, name, outcome).observe(time.perf_counter() - start)

        return timed
