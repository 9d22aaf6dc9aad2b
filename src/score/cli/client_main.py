"""``score-client``: upload, download, view, mount, url, version, submit, publish, unpublish.

The only place that knows exit codes. Everything it prints has its control characters escaped
(:mod:`score.client.printable`): names and messages from servers reach it inside its own text.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from score import __version__
from score.cli import client_help, client_login, client_metadata
from score.cli import exit_codes as ec
from score.cli.arg_types import path_arg
from score.client.printable import printable_lines
from score.domain import errors as e
from score.domain.ids import validate_object_id

if TYPE_CHECKING:
    from score.sdk.config import ClientSettings
    from score.sdk.session import Session

    # the class add_subparsers() makes (argparse has no public name for it): generic only to type checkers
    _SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]  # noqa: SLF001
else:
    _SubParsers = argparse._SubParsersAction  # noqa: SLF001


def _bool(text: str) -> bool:
    if text.lower() in ("true", "yes", "1"):
        return True
    if text.lower() in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError("expected true or false")


def _object_id(text: str) -> str:
    try:
        return validate_object_id(text)
    except e.InvalidRequestError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _common(before_command: bool) -> argparse.ArgumentParser:
    """The options of every command, taken before the command (Score's place: ``score-client --profile collab
    download ...``) and after it. After it they default to nothing at all, so one given before is kept.
    """
    d: dict[str, Any] = {} if before_command else {"default": argparse.SUPPRESS}
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--server-url", **d, help="score-server URL (env STORAGE_URL; default http://127.0.0.1:5431)")
    common.add_argument("--config", type=path_arg, **d, help="client TOML file (default ~/.config/score/client.toml)")
    common.add_argument(
        "--profile",
        **d,
        help="a [profiles.NAME] table of the config file, or Score's profile (collab, aws, azure, default...; "
        "env SCORE_PROFILE or STORAGE_PROFILE)",
    )
    common.add_argument("--parallel", type=int, **d, help="parallel part transfers (env TRANSPORT_PARALLEL; default 4)")
    common.add_argument(
        "--memory",
        type=int,
        metavar="MIB",
        **d,
        help="upload buffer budget in MiB (default 100; env TRANSPORT_MEMORY in GiB as Score, SCORE_MEMORY in MiB)",
    )
    common.add_argument("--ca-bundle", type=path_arg, **d, help="PEM file of the CAs to trust (env SCORE_CA_BUNDLE)")
    common.add_argument("--quiet", action="store_true", **d, help="no progress bar")
    common.add_argument("--silent", action="store_true", **d, help="print nothing at all")
    return common


def _verify_connection(parser: argparse.ArgumentParser) -> None:
    """Score's ``--verify-connection [true|false]`` (upload, download, view)."""
    parser.add_argument(
        "--verify-connection",
        type=_bool,
        nargs="?",
        const=True,
        default=None,
        metavar="true|false",
        help="first check that the server and its object store answer (GET /download/ping, then the URL it "
        "returns), stopping if not; Score checks by default, score-client only when asked",
    )


class _Commands(_SubParsers):
    """The commands. A command's own flags are added when it is the one given, so its module (and httpx,
    pysam...) is imported only then: ``version`` and ``--help`` stay cheap (issue 23). The help of
    every command, and its flags in that order, are as if they were added up front.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.later: dict[str, Callable[[argparse.ArgumentParser], None]] = {}

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        """Add the given command's flags, then parse them; a flag the command does not have is refused with
        the command's usage (not the top-level one) and the flag it is closest to.
        """
        name = str(values[0]) if isinstance(values, list) and values else ""  # the command, then its arguments
        fill = self.later.pop(name, None)
        if fill is not None:
            fill(self.choices[name])  # choices: the name -> parser map
        if name in self.choices and isinstance(values, list):
            # before argparse's own checks, which would report a missing required option and hide the typo
            mistyped = client_help.unknown_flags(self.choices[name], [str(v) for v in values[1:]])
            if mistyped:
                self.choices[name].error(client_help.unrecognized(self.choices[name], mistyped))
        super().__call__(parser, namespace, values, option_string)
        extras = getattr(namespace, argparse._UNRECOGNIZED_ARGS_ATTR, None)  # noqa: SLF001  where argparse keeps them
        if extras and name in self.choices:
            self.choices[name].error(client_help.unrecognized(self.choices[name], extras))


def _upload_flags(up: argparse.ArgumentParser) -> None:
    from score.cli import client_manifest

    up.add_argument("--object-id", type=_object_id, help="the object's id (from Song's submit or manifest)")
    up.add_argument("--file", type=path_arg, help="the file to upload (with --object-id)")
    up.add_argument(
        "--manifest",
        help="Song's upload manifest (object id, file, md5; first line skipped): " + client_manifest.MANIFEST_HELP,
    )
    up.add_argument("--md5", help="the file's MD5 (hex); computed when not given")
    up.add_argument("--force", action="store_true", help="replace an existing object / restart the upload")
    _verify_connection(up)


def _download_flags(down: argparse.ArgumentParser) -> None:
    from score.cli import client_download

    client_download.add_arguments(down, _object_id, _bool)
    _verify_connection(down)


def _view_flags(view: argparse.ArgumentParser) -> None:
    from score.cli import client_view

    client_view.add_arguments(view, _object_id)
    _verify_connection(view)


def _mount_flags(mount: argparse.ArgumentParser) -> None:
    from score.cli import client_mount

    client_mount.add_arguments(mount)


def _info_flags(info: argparse.ArgumentParser) -> None:
    from score.cli import client_info

    client_info.add_arguments(info)


def _manifest_flags(show: argparse.ArgumentParser) -> None:
    from score.cli import client_manifest

    client_manifest.add_arguments(show)


def _parser() -> argparse.ArgumentParser:
    common = _common(before_command=False)
    p = argparse.ArgumentParser(
        prog="score-client", description="Transfer files through a Score server.", parents=[_common(True)]
    )
    p.add_argument("--version", action="version", version=f"score-client {__version__}")
    sub = p.add_subparsers(dest="command", required=True, action=_Commands)
    assert isinstance(sub, _Commands)
    sub.add_parser("upload", parents=[common], help="upload a file, or every file of a manifest")
    sub.later["upload"] = _upload_flags
    sub.add_parser("download", parents=[common], help="download objects")
    sub.later["download"] = _download_flags
    sub.add_parser("view", parents=[common], help="slice BAM/CRAM by region (SAM, BAM or CRAM output)")
    sub.later["view"] = _view_flags
    sub.add_parser("mount", parents=[common], help="show readable objects as a read-only file system (FUSE)")
    sub.later["mount"] = _mount_flags
    url = sub.add_parser("url", parents=[common], help="print a pre-signed URL of the whole object")
    url.add_argument("--object-id", required=True, type=_object_id, help="the object whose URL to print")
    sub.add_parser("version", parents=[common], help="print the client version (and the server's health)")
    client_metadata.add_commands(sub, common)
    client_login.add_commands(sub, common)
    sub.add_parser("info", parents=[common], help="show the effective settings and the server (never the token)")
    sub.later["info"] = _info_flags
    sub.add_parser("manifest", parents=[common], help="print a manifest (a file, a URL or a portal manifest id)")
    sub.later["manifest"] = _manifest_flags
    helper = sub.add_parser("help", help="help on a command")
    helper.add_argument("topic", nargs="?", help="a command (default: the list of commands)")
    client_help.add_epilogs(sub.choices)
    return p


def _line(text: str, stream: TextIO) -> None:
    """Write one line to *stream* (standard output or error). If its reader went away (``download ... 2>&1 |
    head -1``), the work goes on and the rest of its lines go nowhere: a transfer is not cancelled, nor its exit
    code lost, because nobody reads its report any more (``view``'s records are not lines: a closed pipe ends
    it, as samtools).
    """
    try:
        print(text, file=stream, flush=True)
    except BrokenPipeError:
        _to_devnull(stream.fileno())


def _to_devnull(fd: int) -> None:
    """Send *fd* to /dev/null from now on (what Python still holds for it included, or its flush at exit would
    fail again).
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.silent:
        _line(printable_lines(text), sys.stdout)


def _url(args: argparse.Namespace, session: Session) -> int:
    from score.sdk.client import Client

    client = Client.from_session(session)
    try:
        url = client.url(args.object_id)
    finally:
        client.close_connections()
    _say(args, url)
    return ec.OK


def _run(args: argparse.Namespace, session: Session) -> int:  # noqa: PLR0911  one branch a command
    """Run the command; its module is imported here, not before."""
    progress = sys.stderr.isatty() and not args.quiet and not args.silent
    if getattr(args, "verify_connection", None):  # upload, download, view
        session.verify_connection()
    if args.command in ("info", "version"):
        from score.cli import client_info

        run = client_info.run if args.command == "info" else client_info.version
        return run(args, session, lambda text: _say(args, text))
    if args.command == "manifest":
        from score.cli import client_manifest

        return client_manifest.run(args, session, lambda text: _say(args, text))
    if args.command == "upload":
        from score.cli import client_upload

        return client_upload.run(args, session, progress, lambda text: _say(args, text))
    if args.command == "download":
        from score.cli import client_download

        return client_download.run(
            args, session, progress, lambda t: _say(args, t), lambda t: _err(args, t), lambda t: _note(args, t)
        )
    if args.command == "view":
        from score.cli import client_view

        return client_view.run(args, session, lambda t: _say(args, t), lambda t: _err_plain(args, t))
    if args.command == "mount":
        from score.cli import client_mount

        return client_mount.run(args, session, lambda t: _say(args, t), lambda t: _err_plain(args, t))
    if args.command == "submit":
        return client_metadata.submit(args, session, lambda text: _say(args, text))
    if args.command in ("publish", "unpublish"):
        return client_metadata.set_state(args, session, lambda text: _say(args, text))
    if args.command == "login":
        return client_login.login(args, session, lambda text: _err_plain(args, text))
    if args.command == "logout":
        return client_login.logout(session, lambda text: _say(args, text))
    return _url(args, session)


def _err_plain(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "silent", False):
        _line(printable_lines(text), sys.stderr)


def _note(args: argparse.Namespace, text: str) -> None:
    """A notice, not a failure (a file downloaded without an index file)."""
    if not getattr(args, "silent", False):
        _line(f"score-client: note: {printable_lines(text)}", sys.stderr)


def _err(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "silent", False):
        _line(f"score-client: error: {printable_lines(text)}", sys.stderr)


def _apply_output_settings(args: argparse.Namespace, settings: ClientSettings) -> None:
    """Score's ``client.quiet`` / ``client.silent`` settings, as the flags; then the settings' warnings
    (Score settings this client does not support), on stderr.
    """
    args.quiet = args.quiet or settings.quiet
    if settings.silent and not args.silent:
        args.silent = True
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Score's --silent closes output
    for warning in settings.warnings:
        _err_plain(args, f"score-client: {warning}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``score-client``."""
    if "httpx" not in sys.modules:
        # httpx's __init__ imports its own command line, httpx._main, which imports click, rich and pygments
        # whenever they are installed (~70 ms of every transfer, for a CLI this process never runs); without
        # it, httpx defines a stub ``httpx.main`` instead (its ImportError fallback)
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    parser = _parser()
    args = parser.parse_args(argv)
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    if args.command == "help":
        if args.topic:
            parser.parse_args([args.topic, "--help"])  # prints the command's help and exits
        parser.print_help()
        return ec.OK
    if args.silent:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Score's --silent closes output
    from score.sdk.config import load_client_settings
    from score.sdk.session import Session

    try:
        if args.command == "version":
            _say(args, f"score-client {__version__}")  # before the settings: shown even when they are wrong
        settings = load_client_settings(
            config=args.config,
            server_url=args.server_url,
            parallel=args.parallel,
            memory_mib=args.memory,
            metadata_url=getattr(args, "metadata_url", None),
            profile=args.profile,
            ca_bundle=args.ca_bundle,
        )
        _apply_output_settings(args, settings)
        session = Session(settings)
        try:
            return _run(args, session)
        finally:
            session.close()
    except e.ScoreError as exc:
        code = ec.exit_code_for(exc)
        hint = ec.hint_for(exc)
        _err(args, exc.message + (f" ({hint})" if hint else ""))
        summarized = getattr(args, "json_summarized", False)  # the batch's own summary line is out already
        if getattr(args, "json", False) and not summarized:  # a failure before any object is a JSON line too
            _say(args, json.dumps({"error": exc.message, "error_code": exc.code, "exit_code": code}))
        return code
    except KeyboardInterrupt:
        _err(args, ec.interrupted_message(forced=bool(getattr(args, "force", False))))
        return ec.INTERRUPTED
    except BrokenPipeError as exc:
        from score.slicing.viewer import reader_gone

        if not reader_gone():  # a socket, not our output: a failure like any other
            _err(args, f"{exc.strerror or exc}")
            return ec.FAILURE
        # the reader of standard output went away (``view ... | head``): it has what it wanted, so end
        # quietly with 0 (samtools dies of SIGPIPE, silently, and the pipeline's status is head's)
        _to_devnull(1)
        return ec.OK
    except OSError as exc:
        _err(args, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return ec.FAILURE


if __name__ == "__main__":
    sys.exit(main())
