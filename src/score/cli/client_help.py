"""The end of every ``score-client`` command's ``--help`` (its environment variables, exit codes and an
example), and the suggestion for a mistyped option.

Plain text only: imported by every run of the command line, it must stay cheap (no httpx).
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Sequence

_COMMON_ENV = (
    "  ACCESSTOKEN           the access token (or run score-client login)\n"
    "  STORAGE_URL           the score-server URL (--server-url)\n"
    "  SCORE_PROFILE         the profile (--profile; also STORAGE_PROFILE)\n"
    "  TRANSPORT_PARALLEL    parallel part transfers (--parallel)\n"
    "  SCORE_CA_BUNDLE       the CAs to trust (--ca-bundle)"
)
_METADATA_ENV = "\n  METADATA_URL          Song or score-server URL (--metadata-url; default the server URL)"
_LOGIN_ENV = (
    "\n  SCORE_OIDC_ISSUER     the identity provider (--issuer)"
    "\n  SCORE_CLIENT_ID       the OAuth2 client (--client-id)"
)
_EXIT_CODES = (
    "exit codes:\n"
    "  0 ok, 1 other failure, 2 usage (bad flags, wrong --server-url, configuration), 3 token missing, expired\n"
    "  or without the scope, 4 not found, 5 integrity (MD5/size), 6 unreachable after retries, 7 conflict,\n"
    "  8 not enough disk space, 130 interrupted (re-run the same command to resume; without --force)"
)
EXAMPLES: dict[str, str] = {
    "upload": "score-client upload --object-id 9a0b3a8e-3f1f-5d0e-9c7e-8e5f0d3b1a2c --file sample.bam",
    "download": "score-client download --object-id 9a0b3a8e-3f1f-5d0e-9c7e-8e5f0d3b1a2c --output-dir out",
    "view": "score-client view --object-id 9a0b3a8e-3f1f-5d0e-9c7e-8e5f0d3b1a2c --query chr1:1-100000 --stdout",
    "mount": "score-client mount --mount-point /mnt/score",
    "url": "score-client url --object-id 9a0b3a8e-3f1f-5d0e-9c7e-8e5f0d3b1a2c",
    "version": "score-client version",
    "submit": "score-client submit --study-id DEMO --files sample.bam --manifest manifest.txt",
    "publish": "score-client publish --study-id DEMO --analysis-id 6d7c3f2e-0b6a-4e9b-9a59-7a0c1f1b2e3d",
    "unpublish": "score-client unpublish --study-id DEMO --analysis-id 6d7c3f2e-0b6a-4e9b-9a59-7a0c1f1b2e3d",
    "login": "score-client login --issuer https://idp.example.org/realms/score --client-id score-client",
    "logout": "score-client logout",
    "info": "score-client info --verbose",
    "manifest": "score-client manifest --manifest manifest.txt",
    "help": "score-client help download",
}
_WITH_METADATA = frozenset({"download", "view", "submit", "publish", "unpublish", "info"})


def epilog(command: str) -> str:
    """The text after *command*'s options: environment variables, exit codes, an example."""
    env = _COMMON_ENV + (_METADATA_ENV if command in _WITH_METADATA else "")
    env += _LOGIN_ENV if command == "login" else ""
    return f"environment variables:\n{env}\n\n{_EXIT_CODES}\n\nexample:\n  {EXAMPLES[command]}"


def add_epilogs(commands: dict[str, argparse.ArgumentParser]) -> None:
    """Give every command's parser its epilog, kept as written (line breaks included)."""
    for name, parser in commands.items():
        parser.epilog = epilog(name)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter


def unknown_flags(parser: argparse.ArgumentParser, args: Sequence[str]) -> list[str]:
    """The ``--flags`` among *args* that *parser* does not know (nor as an abbreviation), up to a ``--``."""
    known = [s for action in parser._actions for s in action.option_strings]  # noqa: SLF001  no public list
    unknown = []
    for arg in args:
        if arg == "--":
            break
        flag = arg.split("=", 1)[0]
        if flag.startswith("--") and flag not in known and not any(k.startswith(flag) for k in known):
            unknown.append(arg)
    return unknown


def unrecognized(parser: argparse.ArgumentParser, extras: Sequence[str]) -> str:
    """The "unrecognized arguments" message of argparse for *parser*, with the option each mistyped one
    is closest to (``--objectid``: did you mean ``--object-id``?).
    """
    known = [s for action in parser._actions for s in action.option_strings]  # noqa: SLF001  argparse has no public list
    hints = []
    for extra in extras:
        if not extra.startswith("--"):
            continue
        close = difflib.get_close_matches(extra.split("=", 1)[0], known, n=1, cutoff=0.7)
        if close:
            hints.append(f"{extra.split('=', 1)[0]}: did you mean {close[0]}?")
    message = "unrecognized arguments: " + " ".join(extras)
    return message + (" (" + "; ".join(hints) + ")" if hints else "")
