"""The boundaries of the server's use cases, as Protocols.

Adapters in ``storage/``, ``auth/`` and ``metadata/`` implement these; ``services/`` sees
only these.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from score.domain.model import (
    AnalysisRow,
    AnalysisState,
    AuditEvent,
    FileRow,
    GetTarget,
    Listing,
    ObjectInfo,
    ObjectRecord,
    PendingUpload,
    Principal,
    StoredPart,
    UploadPartTarget,
)
from score.domain.parts import PartLimits


class Clock(Protocol):
    """Source of the current time (UTC-aware)."""

    def now(self) -> datetime:
        """Return the current time."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)


class ObjectStore(Protocol):
    """Object storage as the services need it: multipart uploads, signed URLs, small objects."""

    @property
    def profile(self) -> str:
        """Score's storage profile name reported by ``/profile`` (``s3`` or ``az``)."""
        ...

    @property
    def limits(self) -> PartLimits:
        """Part-size limits of this store."""
        ...

    @property
    def etags_are_md5(self) -> bool:
        """True when a part's ETag is its MD5 (False under SSE-KMS); clients check it when True."""
        ...

    async def create_multipart(self, key: str, md5: str | None = None) -> str:
        """Start a multipart upload for *key*; return its upload id.

        *md5* (hex), when already known, is recorded with the object from the start.
        """
        ...

    def sign_upload_part(self, target: UploadPartTarget, md5_hex: str | None, expires_at: datetime) -> str:
        """Return a pre-signed PUT URL for one part (with a signed Content-MD5 if given)."""
        ...

    async def list_parts(self, key: str, upload_id: str, number: int | None = None) -> list[StoredPart]:
        """List the parts the store holds for an upload (only part *number* when given).

        Raises:
            NotFoundError: the upload does not exist.
        """
        ...

    async def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]], md5: str | None) -> None:
        """Assemble the object from ``(part number, etag)`` pairs.

        The whole-object *md5* (hex) is stored as user metadata (``md5chksum``, base64, as Score
        and rclone write it) so that other tools can verify the object.

        Raises:
            NotFoundError: the upload does not exist (it may have been completed already).
            IntegrityError: a part's ETag does not match what the store holds.
        """
        ...

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Abort an upload and drop its parts; no error if it is already gone."""
        ...

    async def pending_uploads(self) -> list[PendingUpload]:
        """Every multipart upload the store holds open (for the cleanup job)."""
        ...

    def sign_get(self, target: GetTarget, expires_at: datetime) -> str:
        """Return a pre-signed GET URL for an object, optionally bound to a byte range."""
        ...

    async def head(self, key: str) -> ObjectInfo | None:
        """Return an object's size and metadata, or None when it does not exist."""
        ...

    async def read_range(self, target: GetTarget) -> bytes:
        """Read a byte range of an object on the server (htsget reads indexes and headers this way).

        Raises:
            NotFoundError: the object does not exist.
        """
        ...

    async def put_bytes(self, key: str, data: bytes) -> None:
        """Store a small object (state records)."""
        ...

    async def get_bytes(self, key: str) -> bytes | None:
        """Read a small object, or None when it does not exist."""
        ...

    async def delete(self, key: str) -> None:
        """Delete an object; no error if it is absent."""
        ...

    async def list(self, prefix: str, delimiter: str | None = None) -> Listing:
        """List keys (and, with a delimiter, common prefixes) under *prefix*, sorted."""
        ...

    async def healthy(self) -> bool:
        """True when the store is reachable and its bucket exists."""
        ...


@runtime_checkable
class ProvisionableStore(Protocol):
    """A store that can create its own buckets or container (development and tests)."""

    async def ensure_buckets(self) -> None:
        """Create what is missing; existing buckets are fine."""
        ...


class MetadataSource(Protocol):
    """Where object records come from (Song, the embedded registry, or nothing)."""

    async def get(self, object_id: str) -> ObjectRecord | None:
        """Return the object's record, or None when objects need no registration."""
        ...

    async def analysis_objects(self, analysis_id: str) -> list[str]:
        """The object ids of an analysis's files, in the service's order (DRS bundles).

        Raises:
            NotFoundError: no such analysis (or no analyses at all).
        """
        ...


class TokenVerifier(Protocol):
    """Turns a bearer token into a Principal."""

    async def verify(self, token: str) -> Principal:
        """Verify *token*.

        Raises:
            UnauthenticatedError: invalid, expired or unverifiable token.
            UpstreamUnavailableError: the identity provider could not be reached.
        """
        ...


class Auditor(Protocol):
    """Where audit records go."""

    def record(self, event: AuditEvent) -> None:
        """Write one record; must not raise for ordinary I/O trouble."""
        ...


class NullAuditor:
    """Records nothing (tests of services that do not look at the audit trail)."""

    def record(self, event: AuditEvent) -> None:
        """Drop *event*."""


class AnalysisRegistry(Protocol):
    """Analyses and their files, in Song's vocabulary (the embedded registry)."""

    def submit(self, study: str, payload: dict[str, Any]) -> AnalysisRow:
        """Register a new UNPUBLISHED analysis (blocking).

        Raises:
            InvalidRequestError: a malformed payload or study id.
        """
        ...

    def analysis(self, study: str, analysis_id: str) -> AnalysisRow:
        """One analysis with its files (blocking).

        Raises:
            NotFoundError: no such analysis in that study.
        """
        ...

    def set_state(self, study: str, analysis_id: str, state: AnalysisState) -> AnalysisRow:
        """Publish, unpublish or suppress (blocking).

        Raises:
            NotFoundError / ConflictError: unknown analysis; a suppressed one cannot come back.
        """
        ...

    def entity(self, object_id: str) -> FileRow | None:
        """The file with *object_id*, or None (blocking)."""
        ...

    def entities(self, analysis_id: str | None, study: str | None, page: int, size: int) -> tuple[list[FileRow], int]:
        """A page of files and the total count (blocking)."""
        ...


class RegistryEngine(AnalysisRegistry, Protocol):
    """An engine the embedded registry keeps its analyses in: SQLite (one server) or PostgreSQL (replicas)."""

    reads_block: bool  # True when object_record waits on the network: callers then run it off the event loop

    def object_record(self, object_id: str) -> ObjectRecord | None:
        """What the access policy needs of a registered file, or None (blocking unless ``reads_block`` is False)."""
        ...

    def close(self) -> None:
        """Release the engine's files or connections."""
        ...
