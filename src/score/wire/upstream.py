"""Answers of the services score-server calls (identity provider, Song): one way to read them.

Adapters decide which statuses mean what for their service; this turns transport failures and
malformed bodies into :class:`UpstreamUnavailableError` the same way everywhere.
"""

from __future__ import annotations

from typing import Any

import httpx

from score.domain.errors import UpstreamUnavailableError


def unreachable(service: str, exc: httpx.HTTPError) -> UpstreamUnavailableError:
    """The retryable error for a request to *service* that got no answer."""
    return UpstreamUnavailableError(f"{service} is unreachable ({type(exc).__name__})")


def json_object(response: httpx.Response, service: str) -> dict[str, Any]:
    """The body of a 200 answer as a JSON object.

    Raises:
        UpstreamUnavailableError: another status (retryable), or a body that is not a JSON object.
    """
    if response.status_code != 200:
        raise UpstreamUnavailableError(f"{service} answered HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError as exc:
        raise UpstreamUnavailableError(f"{service} sent malformed JSON") from exc
    if not isinstance(data, dict):
        raise UpstreamUnavailableError(f"{service} sent malformed JSON")
    return data
