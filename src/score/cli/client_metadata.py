"""score-client's metadata commands: submit (writing Song's upload manifest), publish, unpublish."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from score.cli import exit_codes as ec
from score.cli.arg_types import path_arg
from score.client.printable import printable
from score.domain.ids import check_path_id

if TYPE_CHECKING:
    from score.sdk.session import Session


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``submit``, ``publish`` and ``unpublish``."""
    submit = sub.add_parser(
        "submit", parents=[common], help="register an analysis (Song's submit) and write its upload manifest"
    )
    submit.add_argument("--study-id", required=True, help="the study (program) the analysis belongs to")
    what = submit.add_mutually_exclusive_group(required=True)
    what.add_argument("--file", type=path_arg, help="the analysis JSON (Song's payload, with files[])")
    what.add_argument(
        "--files",
        nargs="+",
        type=path_arg,
        metavar="DATA",
        help="or: build the analysis from these data files (size and MD5 computed)",
    )
    submit.add_argument(
        "--access",
        choices=["open", "controlled"],
        default="controlled",
        help="access of the files given with --files (default controlled)",
    )
    submit.add_argument("--input-dir", type=path_arg, help="where the data files are (default: the JSON's directory)")
    submit.add_argument(
        "--manifest",
        type=path_arg,
        default=Path("manifest.txt"),
        help="upload manifest to write (default manifest.txt)",
    )
    submit.add_argument("--metadata-url", help="Song or score-server URL (env METADATA_URL; default the server URL)")
    for action in ("publish", "unpublish"):
        cmd = sub.add_parser(action, parents=[common], help=f"{action} an analysis")
        cmd.add_argument("--study-id", required=True, help="the analysis's study (program)")
        cmd.add_argument("--analysis-id", required=True, help=f"the analysis to {action}")
        cmd.add_argument("--metadata-url", help="Song or score-server URL (env METADATA_URL)")


def submit(args: argparse.Namespace, session: Session, say: Callable[[str], None]) -> int:
    """Check the files exist, submit, write the manifest (only after the server accepted)."""
    from score.client.transfer import submission

    check_path_id("study id", args.study_id)
    if args.files:
        draft = submission.from_files(args.study_id, args.files, args.access)
    else:
        draft = submission.from_json(args.file, args.input_dir)
    done = submission.submit(session.metadata, args.study_id, draft, args.manifest)
    say(
        f"submitted analysis {done.analysis_id} ({len(done.entries)} files) to study {args.study_id}; "
        f"upload manifest written to {done.manifest}"
    )
    return ec.OK


def set_state(args: argparse.Namespace, session: Session, say: Callable[[str], None]) -> int:
    """Publish or unpublish."""
    check_path_id("study id", args.study_id)
    check_path_id("analysis id", args.analysis_id)
    api = session.metadata()
    try:
        state = api.set_state(args.study_id, args.analysis_id, args.command).state
    finally:
        api.close()
    say(f"analysis {args.analysis_id}: {printable(state if state is not None else args.command + 'ed')}")
    return ec.OK
