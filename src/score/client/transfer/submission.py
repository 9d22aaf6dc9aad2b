"""Registering an analysis and writing its upload manifest: the payload from an analysis JSON or
built from data files (size and MD5 computed), the submit, and the manifest of the files it registered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from score.client.http.song_entities import NewFile, analysis_payload, payload_file_names
from score.client.transfer.manifest import UploadEntry, write_upload_manifest
from score.domain import errors as e

if TYPE_CHECKING:
    from score.client.http.song_entities import Analysis, SubmitReceipt


class Registrar(Protocol):
    """The part of the metadata API a submission needs."""

    def submit(self, study: str, payload: dict[str, object]) -> SubmitReceipt:
        """``POST /submit/{study}``."""
        ...

    def analysis(self, study: str, analysis_id: str) -> Analysis:
        """``GET /studies/{study}/analysis/{id}``."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True)
class Draft:
    """An analysis to submit and where its data files are, by file name."""

    payload: dict[str, object]
    paths: dict[str, Path]


@dataclass(frozen=True)
class Submitted:
    """A registered analysis and the upload manifest written for it."""

    analysis_id: str
    entries: tuple[UploadEntry, ...]
    manifest: Path


def md5_of(path: Path) -> str:
    """The file's MD5 (hex), read in 8 MiB chunks."""
    digest = hashlib.md5()  # noqa: S324 - Song's checksum
    with open(path, "rb") as fh:
        while chunk := fh.read(8 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def from_json(path: Path, input_dir: Path | None) -> Draft:
    """The analysis in a JSON file (Song's payload, with ``files[]``), its files in *input_dir* (default: beside it).

    Raises:
        InvalidRequestError: the file is missing, not JSON or not an object, or a data file is missing.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise e.InvalidRequestError(f"{path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise e.InvalidRequestError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise e.InvalidRequestError(f"{path} must hold a JSON object (an analysis)")
    where = input_dir or path.parent
    paths = {}
    for name in payload_file_names(data):
        if not isinstance(name, str) or not (where / name).is_file():
            raise e.InvalidRequestError(f"{where / str(name)} is not a file; use --input-dir")
        paths[name] = where / name
    return Draft(data, paths)


def from_files(study: str, files: list[Path], access: str) -> Draft:
    """A ``submittedFiles`` analysis of *files* with *access*, their sizes and MD5s computed.

    Raises:
        InvalidRequestError: a path is not a file, or two files share a name.
    """
    paths: dict[str, Path] = {}
    for path in files:
        if not path.is_file():
            raise e.InvalidRequestError(f"{path} is not a file")
        if path.name in paths:
            raise e.InvalidRequestError(f"two files are named {path.name!r}; an analysis needs distinct names")
        paths[path.name] = path
    new = [NewFile(name, path.stat().st_size, md5_of(path), access) for name, path in paths.items()]
    return Draft(analysis_payload(study, new), paths)


def submit(metadata: Callable[[], Registrar], study: str, analysis: Draft, manifest: Path) -> Submitted:
    """Submit *analysis* to *study*, then write the upload manifest of the files registered (only
    after the service accepted).

    Args:
        metadata: opens a metadata client (closed here).
        study: the study (program) id.
        analysis: the payload and the data files.
        manifest: the upload manifest to write.

    Raises:
        ScoreError: what the metadata service answered (refused, unreachable, malformed).
    """
    api = metadata()
    try:
        receipt = api.submit(study, analysis.payload)
        registered = receipt.files or api.analysis(study, receipt.analysis_id).files
    finally:
        api.close()
    entries = [
        UploadEntry(f.object_id, analysis.paths[f.file_name], f.md5 or "")
        for f in registered
        if f.file_name is not None and f.file_name in analysis.paths
    ]
    write_upload_manifest(manifest, receipt.analysis_id, entries)
    return Submitted(receipt.analysis_id, tuple(entries), manifest)
