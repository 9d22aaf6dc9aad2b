"""client_main with Score 5.x's habits (issue 22): global options before the command reach the settings,
Score settings we do not support are warned about on stderr, ``--verify-connection`` checks before a transfer."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from score.cli import client_main, client_upload
from score.cli import exit_codes as ec
from score.domain import errors as e
from score.sdk.session import Session

OID = "9a0b3a8e-3f1f-5d0e-9c7e-8e5f0d3b1a2c"


@contextmanager
def _stdout_restored() -> Iterator[None]:
    """main() sends stdout to /dev/null under --silent (Score closes it): close that and put ours back."""
    saved = sys.stdout
    try:
        yield
    finally:
        if sys.stdout is not saved:
            sys.stdout.close()
            sys.stdout = saved


def test_profile_before_the_command_reaches_the_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert client_main.main(["--profile", "nope", "logout"]) == ec.USAGE
    assert "no profile 'nope'" in capsys.readouterr().err
    assert client_main.main(["--profile", "collab", "--quiet", "logout"]) == ec.OK


def test_unsupported_settings_are_warned_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLIENT_SSL_CUSTOM", "true")
    assert client_main.main(["logout"]) == ec.OK
    captured = capsys.readouterr()
    assert "score-client: warning: Score setting CLIENT_SSL_CUSTOM (environment) is not supported" in captured.err
    assert "--ca-bundle" in captured.err and ("signed out: " in captured.out or "not signed in: " in captured.out)
    with _stdout_restored():
        assert client_main.main(["--silent", "logout"]) == ec.OK  # Score's --silent: nothing at all
    assert capsys.readouterr().err == ""


def test_score_quiet_and_silent_settings(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CLIENT_SILENT", "true")
    monkeypatch.setenv("CLIENT_SSL_CUSTOM", "true")  # its warning is not printed either
    with _stdout_restored():
        assert client_main.main(["logout"]) == ec.OK
        assert sys.stdout.name == "/dev/null"
    assert capsys.readouterr() == ("", "")


def test_verify_connection_runs_before_the_transfer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "f.bin"
    f.write_bytes(b"x")
    calls: list[str] = []

    def failing_check(_session: Session) -> None:
        calls.append("ping")
        raise e.UpstreamUnavailableError("could not verify the connection to the repository: down")

    def upload(*_args: object) -> int:
        calls.append("upload")
        return ec.OK

    monkeypatch.setattr(Session, "verify_connection", failing_check)
    monkeypatch.setattr(client_upload, "run", upload)
    argv = ["--quiet", "upload", "--object-id", OID, "--file", str(f)]
    assert client_main.main([*argv, "--verify-connection"]) == ec.UPSTREAM
    assert calls == ["ping"] and "could not verify the connection" in capsys.readouterr().err
    calls.clear()
    assert client_main.main([*argv, "--verify-connection", "false"]) == ec.OK
    assert client_main.main(argv) == ec.OK
    assert calls == ["upload", "upload"]


def test_view_without_its_extra_says_what_to_install() -> None:
    """New-user trial: after scripts/serve (then the server extra alone), ``view`` ended in a traceback,
    "ModuleNotFoundError: No module named 'pysam'"."""
    code = (
        "import sys; sys.modules['pysam'] = None; from score.cli.client_main import main; "
        "sys.exit(main(['view', '--object-id', '5b7a1c9e-3f4d-4e2a-9b8c-0d1e2f3a4b5c', '--query', 'chr1']))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "STORAGE_URL": "http://127.0.0.1:9", "ACCESSTOKEN": "t"},
        check=False,
    )
    assert (r.returncode, r.stderr) == (2, "score-client: error: view needs pysam: pip install 'score[view]'\n")


@pytest.mark.parametrize(
    "argv",
    [
        ["download", "--object-id", "5b7a1c9e-3f4d-4e2a-9b8c-0d1e2f3a4b5c", "--output-dir", ""],
        ["view", "--object-id", "5b7a1c9e-3f4d-4e2a-9b8c-0d1e2f3a4b5c", "--header-only", "--output-dir", " "],
        ["submit", "--study-id", "S", "--files", "a.bam", "--manifest", ""],
    ],
)
def test_an_empty_path_is_refused_not_taken_as_the_current_directory(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """New-user trial: ``download --output-dir ""`` (an unset shell variable) quietly wrote into the current
    directory."""
    with pytest.raises(SystemExit) as stopped:
        client_main.main(argv)
    assert stopped.value.code == 2
    assert "an empty path: give a file or directory (. for the current directory)" in capsys.readouterr().err


def test_json_output_says_a_failure_before_any_object_as_a_json_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """New-user trial: ``download --json`` with the server unreachable (or a malformed token) wrote no JSON line
    at all; a pipeline reading stdout saw nothing."""
    import json

    monkeypatch.setenv("STORAGE_URL", "http://127.0.0.1:9")  # nothing listens
    monkeypatch.setenv("ACCESSTOKEN", "t")
    oid = "5b7a1c9e-3f4d-4e2a-9b8c-0d1e2f3a4b5c"
    assert client_main.main(["download", "--object-id", oid, "--output-dir", "out", "--json"]) == 6
    captured = capsys.readouterr()
    line = json.loads(captured.out.strip().splitlines()[-1])
    assert line["exit_code"] == 6 and line["error_code"] == "upstream_unavailable"
    assert line["error"].startswith("cannot reach") and captured.err.startswith("score-client: error: cannot reach")
