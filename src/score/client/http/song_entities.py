"""Song's JSON as typed values: file entities, pages of them, analyses and their files, submit receipts.

The one place that knows Song's field names (``id``, ``fileName``, ``gnosId``, ``projectCode``,
``objectId``, ``fileSize``, ``fileMd5sum``, ``analysisId``, ``analysisState``); score-server's
embedded registry answers in the same shape. Plain dataclasses: the client install imports no pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from score.domain import errors as e


def _text(value: object) -> str | None:
    """A field as text; None when absent or empty."""
    return str(value or "") or None


def _malformed(what: str) -> e.UpstreamUnavailableError:
    return e.UpstreamUnavailableError(f"the metadata service sent a malformed {what}")


@dataclass(frozen=True, slots=True)
class FileEntity:
    """A file as ``GET /entities`` knows it (it carries no size)."""

    object_id: str
    file_name: str | None = None
    analysis_id: str | None = None  # Song's gnosId
    study: str | None = None  # Song's projectCode

    @classmethod
    def parse(cls, raw: object) -> FileEntity | None:
        """The entity in *raw*; None when it is not an object with an ``id``."""
        if not isinstance(raw, dict) or not raw.get("id"):
            return None
        return cls(str(raw["id"]), _text(raw.get("fileName")), _text(raw.get("gnosId")), _text(raw.get("projectCode")))


@dataclass(frozen=True, slots=True)
class EntityPage:
    """One page of ``GET /entities``."""

    entities: tuple[FileEntity, ...]
    last: bool  # the service says it is the last, or the page is empty

    @classmethod
    def parse(cls, raw: object) -> EntityPage:
        """The page in *raw*; entities without an id are left out.

        Raises:
            UpstreamUnavailableError: *raw* is not a page (retryable: a proxy's hiccup).
        """
        if not isinstance(raw, dict):
            raise _malformed("page of entities")
        content = raw.get("content")
        found = (FileEntity.parse(item) for item in content) if isinstance(content, list) else ()
        return cls(tuple(x for x in found if x is not None), bool(raw.get("last", True)) or not content)


@dataclass(frozen=True, slots=True)
class AnalysisFile:
    """A file of an analysis (``files[]`` of ``GET /studies/{study}/analysis/{id}`` or of a submit answer)."""

    object_id: str
    file_name: str | None = None
    size: int | None = None  # None when absent or not a byte count
    md5: str | None = None

    @classmethod
    def parse(cls, raw: object) -> AnalysisFile | None:
        """The file in *raw*; None when it is not an object with an ``objectId``."""
        if not isinstance(raw, dict) or not raw.get("objectId"):
            return None
        size = raw.get("fileSize")
        return cls(
            str(raw["objectId"]),
            _text(raw.get("fileName")),
            size if isinstance(size, int) and size >= 0 else None,
            _text(raw.get("fileMd5sum")),
        )


def _files(raw: object) -> tuple[AnalysisFile, ...]:
    found = (AnalysisFile.parse(item) for item in raw) if isinstance(raw, list) else ()
    return tuple(f for f in found if f is not None)


@dataclass(frozen=True, slots=True)
class Analysis:
    """An analysis: its state and its files."""

    state: str | None
    files: tuple[AnalysisFile, ...]

    @classmethod
    def parse(cls, raw: object) -> Analysis:
        """The analysis in *raw*.

        Raises:
            UpstreamUnavailableError: *raw* is not an object.
        """
        if not isinstance(raw, dict):
            raise _malformed("analysis")
        return cls(str(raw["analysisState"]) if "analysisState" in raw else None, _files(raw.get("files")))


@dataclass(frozen=True, slots=True)
class SubmitReceipt:
    """Song's answer to ``POST /submit/{study}``; score-server's registry lists the files too."""

    analysis_id: str
    files: tuple[AnalysisFile, ...]  # empty when the service does not list them

    @classmethod
    def parse(cls, raw: object) -> SubmitReceipt:
        """The receipt in *raw*.

        Raises:
            UpstreamUnavailableError: not retryable (the analysis may exist), when it names no analysis.
        """
        if not isinstance(raw, dict) or not raw.get("analysisId"):
            raise e.UpstreamUnavailableError(
                "the metadata service accepted the analysis but did not say its id", retryable=False
            )
        return cls(str(raw["analysisId"]), _files(raw.get("files")))


@dataclass(frozen=True, slots=True)
class NewFile:
    """A data file to register in a new analysis."""

    name: str
    size: int
    md5: str
    access: str  # open | controlled

    @property
    def file_type(self) -> str:
        """Song's ``fileType``: the extension in capitals (``DATA`` without one)."""
        return PurePosixPath(self.name).suffix.lstrip(".").upper() or "DATA"


def analysis_payload(study: str, files: list[NewFile]) -> dict[str, object]:
    """Song's submit payload of a ``submittedFiles`` analysis of *files*."""
    return {
        "studyId": study,
        "analysisType": {"name": "submittedFiles"},
        "files": [
            {
                "fileName": f.name,
                "fileSize": f.size,
                "fileMd5sum": f.md5,
                "fileType": f.file_type,
                "fileAccess": f.access,
            }
            for f in files
        ],
    }


def payload_file_names(payload: dict[str, object]) -> list[object]:
    """The ``fileName`` of each of a payload's ``files[]`` (as given; None where there is none)."""
    files = payload.get("files")
    return [f.get("fileName") if isinstance(f, dict) else None for f in (files if isinstance(files, list) else [])]
