"""MetadataSource for deployments without a metadata service: objects need no registration.

Authorization then rests on the system scopes alone (``score.READ`` / ``score.WRITE``).
"""

from __future__ import annotations

from score.domain.errors import NotFoundError
from score.domain.model import ObjectRecord


class UnregisteredMetadata:
    """Knows no records."""

    async def get(self, object_id: str) -> ObjectRecord | None:
        """Always None."""
        return None

    async def analysis_objects(self, analysis_id: str) -> list[str]:
        """There are no analyses without a metadata service.

        Raises:
            NotFoundError: always.
        """
        raise NotFoundError(f"{analysis_id} is not an object, and this server has no metadata service for analyses")
