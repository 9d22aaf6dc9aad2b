"""Every flag of every command of Score 5.x's Java client parses here (issue 22, "the command line").

The flags were collected from overture-stack/score's ``score-client`` (``ClientMain.java`` for the global
options, ``command/*Command.java`` for each command's ``@Parameter``s; JCommander with ``separators = "="``,
so ``--flag value`` and ``--flag=value`` are both Score's forms). Each row is parsed by our argparse parser
(no server): it is accepted, or refused with a message naming the replacement, never argparse's
"unrecognized arguments".
"""

from __future__ import annotations

from typing import Any

import pytest

from score.cli.client_main import _parser

OID = "9a0b3a8e-3f1f-5d0e-9c7e-8e5f0d3b1a2c"
OID2 = "0f6c2b52-7c1e-5b3a-8d4e-1a2b3c4d5e6f"
PORTAL_ID = "a6d3c1e2-1111-4222-8333-944455556666"
# Rows marked "owned" below: what they do (``--manifest`` as a URL or portal id, ``info --verbose``,
# ``version``, ``view --output-type MERGED|CROSS``) is tested in tests/unit/cli/test_client_manifest.py and
# tests/e2e/test_score_cli_habits.py; here only their parsing is checked.

# Score's flags per command, as its Java source declares them (@Parameter names).
JAVA_FLAGS: dict[str, set[str]] = {
    "": {"--profile", "--quiet", "--silent", "--version", "--help"},  # ClientMain: before the command
    "upload": {"--file", "--manifest", "--force", "--object-id", "--md5", "--verify-connection"},
    "download": {
        "--manifest",
        "--object-id",
        "--analysis-id",
        "--program-id",
        "--study-id",
        "--output-dir",
        "--output-layout",
        "--offset",
        "--length",
        "--index",
        "--force",
        "--validate",
        "--verify-connection",
    },
    "view": {
        "--contained",
        "--header-only",
        "--output-original-header",
        "--output-format",
        "--object-id",
        "--input-file",
        "--input-file-index",
        "--reference-file",
        "--query",
        "--bed-query",
        "--manifest",
        "--output-type",
        "--output-dir",
        "--output-index",
        "--stdout",
        "--verify-connection",
    },
    "mount": {
        "--mount-point",
        "--manifest",
        "--layout",
        "--cache-metadata",
        "--daemonize",
        "--verify-connection",
        "--options",
    },
    "url": {"--object-id"},
    "info": {"--verbose"},
    "manifest": {"--manifest"},
    "version": set(),
    "help": set(),  # a positional command name
}

# (command the flag belongs to, the flag, a Score command line using it, what our parser must make of it)
Row = tuple[str, str, list[str], dict[str, Any]]
ROWS: list[Row | Any] = [  # Any: a pytest.param of a Row
    # ClientMain's global options, before the command (Score's only place for them)
    ("", "--profile", ["--profile", "collab", "url", "--object-id", OID], {"profile": "collab"}),
    ("", "--quiet", ["--quiet", "url", "--object-id", OID], {"quiet": True}),
    ("", "--silent", ["--silent", "url", "--object-id", OID], {"silent": True}),
    ("", "--profile", ["--profile", "collab", "--quiet", "--silent", "version"], {"quiet": True, "silent": True}),
    ("", "--version", ["--version"], {"exit": 0}),
    ("", "--help", ["--help"], {"exit": 0}),
    # upload (UploadCommand)
    ("upload", "--file", ["upload", "--object-id", OID, "--file", "f.bam", "--md5", "a" * 32], {"md5": "a" * 32}),
    ("upload", "--object-id", ["upload", "--object-id", OID, "--file", "f.bam"], {"object_id": OID}),
    ("upload", "--md5", ["upload", "--object-id", OID, "--file", "f", "--md5", "b" * 32], {"md5": "b" * 32}),
    ("upload", "--manifest", ["upload", "--manifest", "manifest.txt"], {}),
    ("upload", "--force", ["upload", "--manifest", "m.txt", "--force"], {"force": True}),
    (
        "upload",
        "--verify-connection",
        ["upload", "--manifest", "m", "--verify-connection", "true"],
        {"verify_connection": True},
    ),
    (
        "upload",
        "--verify-connection",
        ["upload", "--manifest", "m", "--verify-connection", "false"],
        {"verify_connection": False},
    ),
    (
        "upload",
        "--verify-connection",
        ["upload", "--verify-connection", "--manifest", "m"],
        {"verify_connection": True},
    ),
    # download (DownloadCommand)
    (
        "download",
        "--object-id",
        ["download", "--object-id", OID, OID2, "--output-dir", "o"],
        {"object_id": [OID, OID2]},
    ),
    (
        "download",
        "--object-id",
        ["download", "--object-id", OID, "--object-id", OID2, "--output-dir", "o"],
        {"object_id": [OID, OID2]},
    ),
    ("download", "--manifest", ["download", "--manifest", "manifest.tsv", "--output-dir", "o"], {}),
    ("download", "--analysis-id", ["download", "--analysis-id", "A1", "--study-id", "S", "--output-dir", "o"], {}),
    (
        "download",
        "--program-id",
        ["download", "--analysis-id", "A1", "--program-id", "S", "--output-dir", "o"],
        {"study_id": "S"},
    ),
    (
        "download",
        "--study-id",
        ["download", "--analysis-id", "A1", "--study-id", "S", "--output-dir", "o"],
        {"study_id": "S"},
    ),
    ("download", "--output-dir", ["download", "--object-id", OID, "--output-dir", "out"], {}),
    (
        "download",
        "--output-layout",
        ["download", "--object-id", OID, "--output-dir", "o", "--output-layout", "bundle"],
        {"output_layout": "bundle"},
    ),
    (
        "download",
        "--output-layout",
        ["download", "--object-id", OID, "--output-dir", "o", "--output-layout", "ID"],
        {"output_layout": "id"},
    ),
    (
        "download",
        "--output-layout",
        ["download", "--object-id", OID, "--output-dir", "o", "--output-layout", "Filename"],
        {"output_layout": "filename"},
    ),
    (
        "download",
        "--offset",
        ["download", "--object-id", OID, "--output-dir", "o", "--offset", "10", "--length", "5"],
        {"offset": 10, "length": 5},
    ),
    ("download", "--length", ["download", "--object-id", OID, "--output-dir", "o", "--length", "-1"], {"length": -1}),
    (
        "download",
        "--index",
        ["download", "--object-id", OID, "--output-dir", "o", "--index", "false"],
        {"index": False},
    ),
    ("download", "--force", ["download", "--object-id", OID, "--output-dir", "o", "--force"], {"force": True}),
    (
        "download",
        "--validate",
        ["download", "--object-id", OID, "--output-dir", "o", "--validate", "false"],
        {"validate": False},
    ),
    (
        "download",
        "--verify-connection",
        ["download", "--object-id", OID, "--output-dir", "o", "--verify-connection", "false"],
        {"verify_connection": False},
    ),
    # view (ViewCommand)
    ("view", "--object-id", ["view", "--object-id", OID, "--query", "chr1:1-100"], {"object_id": OID}),
    ("view", "--input-file", ["view", "--input-file", "x.bam", "--input-file-index", "x.bam.bai"], {}),
    ("view", "--input-file-index", ["view", "--input-file", "x.bam", "--input-file-index", "x.bai"], {}),
    ("view", "--reference-file", ["view", "--input-file", "x.cram", "--reference-file", "ref.fa"], {}),
    (
        "view",
        "--query",
        ["view", "--input-file", "x.bam", "--query", "chr1:1-10", "chr2"],
        {"query": ["chr1:1-10", "chr2"]},
    ),
    ("view", "--bed-query", ["view", "--input-file", "x.bam", "--bed-query", "r.bed"], {}),
    ("view", "--contained", ["view", "--input-file", "x.bam", "--query", "1", "--contained"], {"contained": True}),
    ("view", "--header-only", ["view", "--input-file", "x.bam", "--header-only"], {"header_only": True}),
    ("view", "--output-original-header", ["view", "--input-file", "x.bam", "--output-original-header"], {}),
    ("view", "--output-format", ["view", "--input-file", "x.bam", "--output-format", "bam"], {"output_format": "BAM"}),
    (
        "view",
        "--output-format",
        ["view", "--input-file", "x.bam", "--output-format", "CRAM", "--reference-file", "r.fa"],
        {},
    ),
    (
        "view",
        "--output-type",
        ["view", "--input-file", "x.bam", "--output-type", "trimmed"],
        {"output_type": "TRIMMED"},
    ),
    ("view", "--output-type", ["view", "--input-file", "x.bam", "--output-type", "MERGED"], {}),  # owned
    ("view", "--output-type", ["view", "--input-file", "x.bam", "--output-type", "CROSS"], {}),  # owned
    ("view", "--manifest", ["view", "--manifest", "manifest.tsv", "--output-dir", "o"], {}),
    ("view", "--output-dir", ["view", "--object-id", OID, "--output-dir", "o"], {}),
    (
        "view",
        "--output-index",
        ["view", "--object-id", OID, "--output-dir", "o", "--output-format", "BAM", "--output-index"],
        {},
    ),
    ("view", "--stdout", ["view", "--object-id", OID, "--stdout"], {"stdout": True}),
    (
        "view",
        "--verify-connection",
        ["view", "--input-file", "x.bam", "--verify-connection", "false"],
        {"verify_connection": False},
    ),
    # mount (MountCommand)
    ("mount", "--mount-point", ["mount", "--mount-point", "/mnt/score"], {}),
    ("mount", "--manifest", ["mount", "--mount-point", "m", "--manifest", "manifest.tsv"], {}),
    ("mount", "--layout", ["mount", "--mount-point", "m", "--layout", "bundle"], {"layout": "bundle"}),
    ("mount", "--layout", ["mount", "--mount-point", "m", "--layout", "OBJECT_ID"], {"layout": "object-id"}),
    ("mount", "--layout", ["mount", "--mount-point", "m", "--layout", "object-id"], {"layout": "object-id"}),
    ("mount", "--cache-metadata", ["mount", "--mount-point", "m", "--cache-metadata"], {"cache_metadata": True}),
    ("mount", "--daemonize", ["mount", "--mount-point", "m", "--daemonize"], {"daemonize": True}),
    ("mount", "--options", ["mount", "--mount-point", "m", "--options", "allow_other,fsname=score"], {}),
    ("mount", "--verify-connection", ["mount", "--mount-point", "m", "--verify-connection", "false"], {}),
    # url, info, manifest, version, help
    ("url", "--object-id", ["url", "--object-id", OID], {"object_id": OID}),
    ("info", "--verbose", ["info", "--verbose"], {"verbose": True}),  # owned
    ("manifest", "--manifest", ["manifest", "--manifest", "manifest.tsv"], {}),  # owned
    ("manifest", "--manifest", ["manifest", "--manifest", "https://portal/m.tsv"], {}),  # owned
    ("manifest", "--manifest", ["manifest", "--manifest", PORTAL_ID], {}),  # owned
    ("upload", "--manifest", ["upload", "--manifest", "https://h/m.txt"], {}),  # owned
    ("download", "--manifest", ["download", "--manifest", PORTAL_ID, "--output-dir", "o"], {}),  # owned
    ("version", "", ["version"], {"command": "version"}),  # owned
    ("help", "", ["help"], {"command": "help"}),
    ("help", "", ["help", "download"], {"topic": "download"}),
]


def _with_equals(argv: list[str]) -> list[str]:
    """The same line in JCommander's ``--flag=value`` form (each option's first value joined to it)."""
    out: list[str] = []
    for token in argv:
        if (
            out
            and out[-1].startswith("--")
            and "=" not in out[-1]
            and not token.startswith("-")
            and _takes_value(out[-1])
        ):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


VARIADIC = {"--query", "--object-id"}  # several values: only the first could follow '='
FLAGS_WITHOUT_VALUE = {
    "--quiet",
    "--silent",
    "--force",
    "--contained",
    "--header-only",
    "--output-original-header",
    "--output-index",
    "--stdout",
    "--cache-metadata",
    "--daemonize",
    "--verbose",
    "--version",
    "--help",
}


def _takes_value(option: str) -> bool:
    return option not in FLAGS_WITHOUT_VALUE


def _parse(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], int | None, str]:
    try:
        ns = _parser().parse_args(argv)
    except SystemExit as exc:
        return {}, int(exc.code or 0), capsys.readouterr().err
    return vars(ns), None, capsys.readouterr().err


def _check(argv: list[str], expected: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    values, code, err = _parse(argv, capsys)
    assert "unrecognized arguments" not in err, f"{argv}: {err}"
    if "exit" in expected:
        assert code == expected["exit"], f"{argv}: exit {code}, {err}"
        return
    if code is not None:  # a refusal must say what to use instead
        assert "instead" in err or "use " in err, f"{argv} refused without naming a replacement: {err}"
        return
    for key, value in expected.items():
        assert values.get(key) == value, f"{argv}: {key}={values.get(key)!r}, expected {value!r}"


@pytest.mark.parametrize(("command", "flag", "argv", "expected"), ROWS)
def test_score5_command_line_parses(
    command: str, flag: str, argv: list[str], expected: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """Score 5.x's command line, as its users type it, is accepted (issue 22)."""
    _check(argv, expected, capsys)
    if any(t.startswith("--") and "=" not in t for t in argv) and not VARIADIC & set(argv):
        _check(_with_equals(argv), expected, capsys)  # JCommander's separators = "="


def test_every_java_flag_has_a_row() -> None:
    """The table covers every @Parameter of every Java command, and no flag Score lacks is passed off as Score's."""
    seen: dict[str, set[str]] = {c: set() for c in JAVA_FLAGS}
    for row in ROWS:
        command, flag, _, _ = row.values if hasattr(row, "values") else row
        if flag:
            seen[command].add(flag)
    assert seen == JAVA_FLAGS


def test_global_options_after_the_command_still_work(capsys: pytest.CaptureFixture[str]) -> None:
    """Ours were taken after the command; Score's go before it: both places work, the later one wins."""
    _check(["url", "--object-id", OID, "--profile", "mine", "--quiet"], {"profile": "mine", "quiet": True}, capsys)
    _check(["--profile", "a", "url", "--object-id", OID, "--profile", "b"], {"profile": "b"}, capsys)
    _check(["--profile", "a", "url", "--object-id", OID], {"profile": "a", "quiet": False, "silent": False}, capsys)
    _check(
        [
            "--server-url",
            "http://h:1",
            "--parallel",
            "2",
            "--memory",
            "64",
            "download",
            "--object-id",
            OID,
            "--output-dir",
            "o",
        ],
        {"server_url": "http://h:1", "parallel": 2, "memory": 64},
        capsys,
    )


def test_verify_connection_rejects_a_non_boolean(capsys: pytest.CaptureFixture[str]) -> None:
    """Score's --verify-connection takes true or false (JCommander arity 1); anything else is a usage error."""
    _, code, err = _parse(["upload", "--manifest", "m", "--verify-connection", "maybe"], capsys)
    assert code == 2 and "true or false" in err
