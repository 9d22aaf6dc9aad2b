"""Connection pools of the SDKs that speak HTTP through ``requests`` (Azure Blob, GCS), sized to the server's use.

The stores' blocking SDK calls run in worker threads (``storage.errors.run_blocking``), at most
:data:`BLOCKING_CALLS` at once (anyio's default thread limiter). ``requests`` keeps 10 connections per host
by default and, past that, opens and discards a connection per call (a TCP and TLS handshake each); so a
busy server's store connections are kept in a pool as large as the number of calls that can run at once.
S3's botocore pool is sized by ``storage.max_connections`` (50 by default) instead.

Every connection of urllib3 (under ``requests`` and botocore) disables Nagle's algorithm (``TCP_NODELAY``);
``tests/unit/server/stores/test_pooling.py`` checks it on the sockets themselves.
"""

from __future__ import annotations

from typing import Any

BLOCKING_CALLS = 40  # anyio's default thread limiter: blocking calls running at once


def pooled(session: Any, size: int = BLOCKING_CALLS) -> Any:
    """Mount, on the ``requests`` *session*, adapters keeping up to *size* connections per host; return it.

    The adapters retry nothing: the SDKs retry on their own (Azure's policy, GCS's retry objects).
    """
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    for prefix in ("https://", "http://"):
        retries = Retry(total=False, redirect=False, raise_on_status=False)
        session.mount(prefix, HTTPAdapter(pool_connections=4, pool_maxsize=size, max_retries=retries))
    return session
