"""score-client's metadata commands: submit (writing Song's upload manifest), publish, unpublish."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

from score.cli import exit_codes as ec
from score.cli.client_session import Session
from score.client.http.metadata_api import MetadataApi
from score.client.printable import printable
from score.client.transfer.manifest import UploadEntry, write_upload_manifest
from score.client.transfer.output_layout import ObjectEntry
from score.domain import errors as e


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``submit``, ``publish`` and ``unpublish``."""
    submit = sub.add_parser(
        "submit", parents=[common], help="register an analysis (Song's submit) and write its upload manifest"
    )
    submit.add_argument("--study-id", required=True)
    what = submit.add_mutually_exclusive_group(required=True)
    what.add_argument("--file", type=Path, help="the analysis JSON (Song's payload, with files[])")
    what.add_argument(
        "--files",
        nargs="+",
        type=Path,
        metavar="DATA",
        help="or: build the analysis from these data files (size and MD5 computed)",
    )
    submit.add_argument(
        "--access",
        choices=["open", "controlled"],
        default="controlled",
        help="access of the files given with --files (default controlled)",
    )
    submit.add_argument("--input-dir", type=Path, help="where the data files are (default: the JSON's directory)")
    submit.add_argument(
        "--manifest", type=Path, default=Path("manifest.txt"), help="upload manifest to write (default manifest.txt)"
    )
    submit.add_argument("--metadata-url", help="Song or score-server URL (env METADATA_URL; default the server URL)")
    for action in ("publish", "unpublish"):
        cmd = sub.add_parser(action, parents=[common], help=f"{action} an analysis")
        cmd.add_argument("--study-id", required=True)
        cmd.add_argument("--analysis-id", required=True)
        cmd.add_argument("--metadata-url", help="Song or score-server URL (env METADATA_URL)")


def _payload(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise e.InvalidRequestError(f"{path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise e.InvalidRequestError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise e.InvalidRequestError(f"{path} must hold a JSON object (an analysis)")
    return data


def _md5_of(path: Path) -> str:
    digest = hashlib.md5()  # noqa: S324 - Song's checksum
    with open(path, "rb") as fh:
        while chunk := fh.read(8 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _payload_from_files(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Path]]:
    paths: dict[str, Path] = {}
    for path in args.files:
        if not path.is_file():
            raise e.InvalidRequestError(f"{path} is not a file")
        if path.name in paths:
            raise e.InvalidRequestError(f"two files are named {path.name!r}; an analysis needs distinct names")
        paths[path.name] = path
    files = [
        {
            "fileName": name,
            "fileSize": path.stat().st_size,
            "fileMd5sum": _md5_of(path),
            "fileType": path.suffix.lstrip(".").upper() or "DATA",
            "fileAccess": args.access,
        }
        for name, path in paths.items()
    ]
    return {"studyId": args.study_id, "analysisType": {"name": "submittedFiles"}, "files": files}, paths


def submit(args: argparse.Namespace, session: Session, say: Any) -> int:
    """Check the files exist, submit, write the manifest (only after the server accepted)."""
    if args.files:
        payload, paths = _payload_from_files(args)
    else:
        payload = _payload(args.file)
        input_dir = args.input_dir or args.file.parent
        raw_files = payload.get("files")
        files: list[Any] = raw_files if isinstance(raw_files, list) else []
        paths = {}
        for f in files:
            name = f.get("fileName") if isinstance(f, dict) else None
            if not isinstance(name, str) or not (input_dir / name).is_file():
                raise e.InvalidRequestError(f"{input_dir / str(name)} is not a file; use --input-dir")
            paths[name] = input_dir / name
    api = session.metadata()
    try:
        out = api.submit(args.study_id, payload)
        analysis_id = str(out["analysisId"])
        registered = out.get("files") or api.analysis(args.study_id, analysis_id).get("files", [])
    finally:
        api.close()
    entries = [
        UploadEntry(str(f["objectId"]), paths[str(f["fileName"])], str(f["fileMd5sum"]))
        for f in registered
        if str(f["fileName"]) in paths
    ]
    write_upload_manifest(args.manifest, analysis_id, entries)
    say(
        f"submitted analysis {analysis_id} ({len(entries)} files) to study {args.study_id}; "
        f"upload manifest written to {args.manifest}"
    )
    return ec.OK


def set_state(args: argparse.Namespace, session: Session, say: Any) -> int:
    """Publish or unpublish."""
    api = session.metadata()
    try:
        out = api.set_state(args.study_id, args.analysis_id, args.command)
    finally:
        api.close()
    say(f"analysis {args.analysis_id}: {printable(str(out.get('analysisState', args.command + 'ed')))}")
    return ec.OK


def analysis_files(session: Session, analysis_id: str, study: str) -> list[ObjectEntry]:
    """The files of an analysis, with their names (for ``download --analysis-id``).

    Raises:
        NotFoundError: the analysis has no files.
    """
    api = session.metadata()
    try:
        entities = api.analysis_entities(analysis_id, study)
    finally:
        api.close()
    if not entities:
        raise e.NotFoundError(f"analysis {analysis_id} of study {study} has no files (or does not exist)")
    return [named(entity) for entity in entities]


def _text(value: Any) -> str | None:
    return str(value or "") or None


def named(entity: dict[str, Any]) -> ObjectEntry:
    """An object, its name, analysis and study from a Song entity (which carries no size)."""
    return ObjectEntry(
        str(entity["id"]),
        _text(entity.get("fileName")),
        _text(entity.get("gnosId")),
        study=_text(entity.get("projectCode")),
    )


def analysis_file_list(api: MetadataApi, study: str, analysis_id: str) -> list[ObjectEntry]:
    """The files of an analysis with names and sizes (``GET /studies/{study}/analysis/{id}``)."""
    out = []
    for f in api.analysis(study, analysis_id).get("files") or []:
        if isinstance(f, dict) and f.get("objectId"):
            size = f.get("fileSize")
            out.append(
                ObjectEntry(
                    str(f["objectId"]),
                    _text(f.get("fileName")),
                    analysis_id,
                    size if isinstance(size, int) and size >= 0 else None,
                    study,
                )
            )
    return out
