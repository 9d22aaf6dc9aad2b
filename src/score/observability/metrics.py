"""Prometheus metrics of score-server, in a registry of its own (one per app, none at import).

score_http_requests_total{method,route,status}        requests served (route = the path template; status 500 for
                                                      an unhandled error, 499 when the client left before the answer)
score_http_request_duration_seconds{method,route}     their latency
score_urls_issued_total{action}                       pre-signed URLs handed out (url:download, url:upload-part...)
score_local_store_bytes_total{direction}              bytes the embedded local store sent and received
score_authorization_denials_total{reason}             401/403 answers by reason (no_token, expired_token...)
score_upstream_duration_seconds{upstream,operation,outcome}   calls to the store, metadata service, identity provider
score_upstream_errors_total{upstream,operation}       those that failed (unreachable, or an unexpected error)
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from score.domain import errors as e
from score.domain.model import AuditEvent
from score.domain.ports import Auditor

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The server's collectors."""

    def __init__(self) -> None:
        """Create the collectors in a fresh registry."""
        self.registry = CollectorRegistry(auto_describe=True)
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
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

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
