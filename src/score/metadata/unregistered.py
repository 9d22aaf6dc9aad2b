"""MetadataSource for deployments without a metadata service: objects need no registration.

Authorization then rests on the system scopes alone (``score.READ`` / ``score.WRITE``).
"""

from __future__ import annotations

from score.domain.model import ObjectRecord


class UnregisteredMetadata:
    """Knows no records."""

    async def get(self, object_id: str) -> ObjectRecord | None:
        """Always None."""
        return None
