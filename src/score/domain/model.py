"""Frozen domain records passed between services and adapters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from score.domain.ranges import ByteRange


class Access(str, Enum):
    """Song's access levels."""

    OPEN = "open"
    CONTROLLED = "controlled"


class AnalysisState(str, Enum):
    """Song's analysis states."""

    UNPUBLISHED = "UNPUBLISHED"
    PUBLISHED = "PUBLISHED"
    SUPPRESSED = "SUPPRESSED"


@dataclass(frozen=True, slots=True)
class ObjectRecord:
    """What the metadata service knows of an object (Song's legacy entity plus its analysis)."""

    object_id: str
    study_id: str
    access: Access
    analysis_id: str | None = None
    analysis_state: AnalysisState | None = None
    file_name: str | None = None
    file_size: int | None = None
    file_md5: str | None = None
    analysis_files: tuple[tuple[str, str], ...] = ()  # (object id, file name) of every file of the analysis


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller; ``anonymous`` when no token was presented."""

    subject: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    token_hash: str = ""
    expires_at: datetime | None = None

    @property
    def is_anonymous(self) -> bool:
        """True for a caller without a token."""
        return self.subject == ""

    def has_scope(self, scope: str) -> bool:
        """Case-insensitive scope test (Score compares scopes case-insensitively)."""
        wanted = scope.lower()
        return any(s.lower() == wanted for s in self.scopes)


ANONYMOUS = Principal(subject="")


@dataclass(frozen=True, slots=True)
class StoredPart:
    """A part the store holds for a multipart upload."""

    number: int
    etag: str
    size: int


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a HEAD of a stored object returns."""

    key: str
    size: int
    last_modified: datetime
    etag: str | None = None
    md5: str | None = None
    location: str | None = None  # store-specific (the bucket), passed back in GetTarget


@dataclass(frozen=True, slots=True)
class PendingUpload:
    """A multipart upload the store holds open."""

    key: str
    upload_id: str
    initiated: datetime


@dataclass(frozen=True, slots=True)
class Listing:
    """Keys and common prefixes under a prefix."""

    keys: list[str]
    prefixes: list[str]


@dataclass(frozen=True, slots=True)
class UploadPartTarget:
    """Everything a store needs to sign one part's PUT."""

    key: str
    upload_id: str
    number: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class GetTarget:
    """Everything a store needs to sign a GET: the key and optionally a fixed range."""

    key: str
    byte_range: ByteRange | None = None
    location: str | None = None  # ObjectInfo.location from a head(), when the store needs it


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One authorization decision or one URL handed out (see observability/audit.py)."""

    action: str  # upload | download | url:upload-part | url:download | url:ping
    object_id: str
    decision: str  # allow | deny | issued
    subject: str = ""
    token_hash: str = ""
    study: str | None = None
    reason: str = ""
    byte_range: str | None = None


@dataclass(frozen=True, slots=True)
class FileRow:
    """One registered file (Song's legacy "entity")."""

    object_id: str
    analysis_id: str
    study: str
    name: str
    size: int
    md5: str
    type: str
    access: Access
    created_ms: int | None = None  # registration time, ms since the epoch (None: registered before it was kept)


@dataclass(frozen=True, slots=True)
class AnalysisRow:
    """One analysis and its files."""

    analysis_id: str
    study: str
    state: AnalysisState
    payload: dict[str, Any]
    files: list[FileRow]
