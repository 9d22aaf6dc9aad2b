"""Settings the services need, as one plain object (built by the composition root)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from score.domain.access import ScopePolicy
from score.domain.ports import Auditor, Clock, MetadataSource, NullAuditor, ObjectStore, SystemClock


@dataclass(frozen=True)
class ServiceContext:
    """Adapters and policy shared by the use cases."""

    store: ObjectStore
    metadata: MetadataSource
    policy: ScopePolicy = field(default_factory=ScopePolicy)
    upload_url_ttl: timedelta = timedelta(minutes=15)
    download_url_ttl: timedelta = timedelta(minutes=15)
    ping_url_ttl: timedelta = timedelta(minutes=5)
    clock: Clock = field(default_factory=SystemClock)
    auditor: Auditor = field(default_factory=NullAuditor)
