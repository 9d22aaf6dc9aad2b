"""Song's JSON shapes for the registry's answers (field names as Song's API)."""

from __future__ import annotations

from typing import Any

from score.domain.model import AnalysisRow, FileRow


def entity_json(f: FileRow) -> dict[str, Any]:
    """Song's legacy entity (``GET /entities/{id}``), as Score reads it.

    ``createdTime`` (ms since the epoch, a JSON number) is the field of Score's client-side ``Entity``
    (``long createdTime``, from ICGC's metadata service); Song's ``LegacyEntity`` never sends it, so
    Score's client reads 0 from Song. A file registered before the registry kept the time has none.
    """
    out: dict[str, Any] = {
        "id": f.object_id,
        "gnosId": f.analysis_id,
        "fileName": f.name,
        "projectCode": f.study,
        "access": f.access.value,
    }
    if f.created_ms is not None:
        out["createdTime"] = f.created_ms
    return out


def file_json(f: FileRow) -> dict[str, Any]:
    """One file of an analysis."""
    return {
        "objectId": f.object_id,
        "studyId": f.study,
        "analysisId": f.analysis_id,
        "fileName": f.name,
        "fileSize": f.size,
        "fileMd5sum": f.md5,
        "fileType": f.type,
        "fileAccess": f.access.value,
    }


def analysis_json(a: AnalysisRow) -> dict[str, Any]:
    """An analysis: the submitted payload with Song's identity, state and files."""
    return {
        **a.payload,
        "analysisId": a.analysis_id,
        "studyId": a.study,
        "analysisState": a.state.value,
        "files": [file_json(f) for f in a.files],
    }


def page_json(rows: list[FileRow], total: int, page: int, size: int) -> dict[str, Any]:
    """A Spring Data page of entities (Song's ``GET /entities``)."""
    pages = -(-total // size) if size else 0
    return {
        "content": [entity_json(f) for f in rows],
        "totalElements": total,
        "totalPages": pages,
        "number": page,
        "size": size,
        "numberOfElements": len(rows),
        "first": page == 0,
        "last": page + 1 >= pages,
    }
