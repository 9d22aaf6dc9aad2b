"""What every registry engine shares beyond validation: the row shapes it reads back and Song's state rule."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from score.domain.errors import AnalysisStateError
from score.domain.model import Access, AnalysisState, FileRow, ObjectRecord
from score.registry.validation import file_object_id

# The columns of a file row, in FileRow's order.
FILE_COLUMNS = "object_id, analysis_id, study, name, size, md5, type, access, created_ms"
# One row per file of the object's analysis (in object id order), each with the object's own fields;
# ``{p}`` is the engine's parameter mark.
RECORD_QUERY = """
SELECT f.object_id, f.study, f.access, f.analysis_id, a.state, f.name, f.size, f.md5, s.object_id, s.name
FROM file f JOIN analysis a ON a.id = f.analysis_id AND a.study = f.study JOIN file s ON s.analysis_id = f.analysis_id
WHERE f.object_id = {p} ORDER BY s.object_id
"""
# Change an analysis's state unless Song's rule forbids it (a suppressed analysis stays suppressed), in one
# statement, so two writers cannot interleave a check and an update; ``{p}`` is the parameter mark.
SET_STATE = (
    "UPDATE analysis SET state = {p} WHERE id = {p} AND study = {p} AND (state <> 'SUPPRESSED' OR {p} = 'SUPPRESSED')"
)


def insert_rows(analysis_id: str, study: str, files: list[dict[str, Any]], created_ms: int) -> list[tuple[Any, ...]]:
    """The values of ``FILE_COLUMNS`` for each checked file of a new analysis (``validation.parse_files``)."""
    fields = ("name", "size", "md5", "type", "access")
    return [
        (file_object_id(analysis_id, f["name"]), analysis_id, study, *(f[k] for k in fields), created_ms) for f in files
    ]


def file_row(r: Sequence[Any]) -> FileRow:
    """A FileRow from the columns of ``FILE_COLUMNS``."""
    return FileRow(r[0], r[1], r[2], r[3], int(r[4]), r[5], r[6], Access(r[7]), None if r[8] is None else int(r[8]))


def object_record(rows: Sequence[Sequence[Any]]) -> ObjectRecord | None:
    """The ObjectRecord from the rows of ``RECORD_QUERY``; None for no rows (not registered)."""
    if not rows:
        return None
    r = rows[0]
    return ObjectRecord(
        object_id=r[0],
        study_id=r[1],
        access=Access(r[2]),
        analysis_id=r[3],
        analysis_state=AnalysisState(r[4]),
        file_name=r[5],
        file_size=int(r[6]),
        file_md5=r[7],
        analysis_files=tuple((row[8], row[9]) for row in rows),
    )


def state_refused(current: AnalysisState) -> AnalysisStateError:
    """The error for a state change that ``SET_STATE`` did not apply to an existing analysis in *current*."""
    return AnalysisStateError(f"a suppressed analysis stays suppressed (it is {current.value})")
