"""Errors that say what went wrong and what to do (issue 24): each message exactly as printed, with its exit
code, through score-client's main() against the server's app in process (no sockets)."""

from __future__ import annotations

import argparse
import errno
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
import pytest

from score.cli import client_download, client_help, client_main
from score.cli import exit_codes as ec
from score.client.http import metadata_api
from score.client.http.server_api import ServerApi
from score.client.transfer import download
from score.client.transfer.batch import NoIndex
from score.client.transfer.output_layout import ObjectEntry
from score.client.transfer.upload import Uploader
from score.sdk.session import Session
from tests.kit.inprocess import BASE_URL, KIB, App, MemoryDataPlane

OID = str(uuid.UUID(int=7, version=4))
Handler = Callable[[httpx.Request], httpx.Response]


@contextmanager
def _app_transport(app: App) -> Iterator[httpx.MockTransport]:
    """A sync transport into the app (as ``App.server_api``), for the ServerApi main() builds."""
    with anyio.from_thread.start_blocking_portal() as portal:
        client = app.async_client()

        def handle(request: httpx.Request) -> httpx.Response:
            async def send() -> httpx.Response:
                r = await client.request(request.method, request.url, headers=request.headers, content=request.read())
                await r.aread()
                return r

            r = portal.call(send)
            return httpx.Response(r.status_code, headers=r.headers, content=r.content)

        try:
            yield httpx.MockTransport(handle)
        finally:
            portal.call(client.aclose)


def _serve(monkeypatch: pytest.MonkeyPatch, transport: httpx.BaseTransport) -> None:
    """main()'s ServerApi talks to *transport* and does not wait between attempts."""

    def server(self: Session) -> ServerApi:
        return ServerApi(self.settings.server_url, self.tokens, transport=transport, sleep=lambda _s: None)

    monkeypatch.setattr(Session, "server", server)


@pytest.fixture
def app(tmp_path: Path) -> App:
    return App(tmp_path)


@pytest.fixture
def served(app: App, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    with _app_transport(app) as transport:
        _serve(monkeypatch, transport)
        yield app


def _url(*flags: str) -> list[str]:
    return ["--server-url", BASE_URL, *flags, "url", "--object-id", OID]


def test_no_token_says_to_set_one(served: App, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 24: a request sent without any token is not "the token lacks score.READ"."""
    assert client_main.main(_url()) == ec.AUTH
    assert (
        capsys.readouterr().err == "score-client: error: no access token: set ACCESSTOKEN or run score-client login\n"
    )


def test_a_token_without_the_scope_names_the_scopes_that_would_allow_it(
    served: App, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 24: another study's token is told which scopes would do; the object's study stays unnamed to it
    (an unknown id answers the same: no existence oracle, issue 20)."""
    monkeypatch.setenv("ACCESSTOKEN", served.token("PROGRAMDATA-ELSE.READ"))
    assert client_main.main(_url()) == ec.AUTH
    assert capsys.readouterr().err == (
        "score-client: error: the token lacks the scope needed for a download: 'score.READ', or "
        "'PROGRAMDATA-<study>.READ' for the object's study\n"  # it says what would do: no hint after it
    )


def test_an_expired_token_names_the_leeway(
    served: App, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 24: ``token --ttl 1s`` keeps working for 30 s; the error says why."""
    monkeypatch.setenv("ACCESSTOKEN", served.token("score.READ", ttl=timedelta(seconds=-40)))
    assert client_main.main(_url()) == ec.AUTH
    assert capsys.readouterr().err == (  # it says what to do: no hint after it (outside-in trial, issue 24)
        "score-client: error: the access token has expired (it is accepted until 30 s past its expiry time, the "
        "clock-skew leeway SCORE_AUTH__LEEWAY); get a new one\n"
    )
    monkeypatch.setenv("ACCESSTOKEN", "not-a-jwt")  # any other refusal keeps the hint
    assert client_main.main(_url()) == ec.AUTH
    assert capsys.readouterr().err == (
        "score-client: error: the access token is not valid (DecodeError) (check the access token (env ACCESSTOKEN) "
        "and its scopes)\n"
    )


def test_a_wrong_server_path_is_not_an_unknown_object(
    served: App, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 24: a server URL with a wrong path answers 404 for every route: check --server-url, exit 2; an
    unknown object (to a token that may read any) stays "check the object id", exit 4."""
    monkeypatch.setenv("ACCESSTOKEN", served.token("score.READ"))
    argv = ["--server-url", f"{BASE_URL}/score", "url", "--object-id", OID]
    assert client_main.main(argv) == ec.USAGE
    assert capsys.readouterr().err == (
        f"score-client: error: no such endpoint: GET {BASE_URL}/score/download/{OID} answered 404 Not Found; "
        "check --server-url / STORAGE_URL\n"
    )
    assert client_main.main(_url()) == ec.NOT_FOUND
    assert capsys.readouterr().err == f"score-client: error: object {OID} not found (check the object id)\n"


def test_a_404_web_page_is_no_such_endpoint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 24: a 404 that is not an API's answer (a proxy's or web server's page) means a wrong URL."""
    page = httpx.MockTransport(lambda _r: httpx.Response(404, text="<html>Not Found</html>"))
    _serve(monkeypatch, page)
    monkeypatch.setenv("ACCESSTOKEN", "tok")
    assert client_main.main(_url()) == ec.USAGE
    assert capsys.readouterr().err == (
        f"score-client: error: no such endpoint: GET {BASE_URL}/download/{OID} answered 404 Not Found; "
        "check --server-url / STORAGE_URL\n"
    )


@pytest.mark.parametrize(
    "failure",
    [
        "[Errno 111] Connection refused",
        "[Errno -2] Name or service not known",
        "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000)",  # https:// to a plain HTTP server
    ],
)
def test_no_connection_says_to_check_the_url(
    failure: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 24: refused, DNS and TLS handshake failures are not "the metadata service ... re-run"."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(failure, request=request)

    _serve(monkeypatch, httpx.MockTransport(refuse))
    monkeypatch.setenv("ACCESSTOKEN", "tok")
    assert client_main.main(_url()) == ec.UPSTREAM
    assert capsys.readouterr().err == (
        f"score-client: error: cannot reach the server at {BASE_URL}: check --server-url / STORAGE_URL ({failure}) "
        f"({ec.UNREACHABLE_HINT})\n"
    )


def test_a_missing_index_is_a_note_printed_once(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 24: a BAM without an index file is a notice (``score-client: note:``), once, not an error."""
    args = argparse.Namespace(silent=False)
    errors: list[str] = []
    say = client_download._note(errors.append, lambda t: client_main._note(args, t))
    item = ObjectEntry(OID, file_name="a.bam", analysis_id="AN1")
    say(NoIndex(item))
    say(NoIndex(item))
    assert errors == []
    assert capsys.readouterr().err == "score-client: note: no index file for a.bam in analysis AN1\n"


def test_a_mistyped_option_suggests_the_right_one_with_the_commands_usage(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 24: ``--objectid`` -> ``--object-id``, under ``usage: score-client download``."""
    with pytest.raises(SystemExit) as exit_:
        client_main.main(["download", "--objectid", OID, "--output-dir", "out"])
    assert exit_.value.code == ec.USAGE
    err = capsys.readouterr().err
    assert err.startswith("usage: score-client download [-h]")
    assert err.endswith(
        "score-client download: error: unrecognized arguments: --objectid (--objectid: did you mean --object-id?)\n"
    )


def test_a_mistyped_option_is_named_before_a_missing_required_one(capsys: pytest.CaptureFixture[str]) -> None:
    """The typo is the mistake to fix: "--output-dir is required" alone would hide it."""
    with pytest.raises(SystemExit) as exit_:
        client_main.main(["download", "--objectid", OID])
    assert exit_.value.code == ec.USAGE
    err = capsys.readouterr().err
    assert err.endswith(
        "score-client download: error: unrecognized arguments: --objectid (--objectid: did you mean --object-id?)\n"
    )
    with pytest.raises(SystemExit):
        client_main.main(["download", "--object", OID])  # an abbreviation argparse accepts is not a typo
    assert "--output-dir" in capsys.readouterr().err


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = client_main._parser()
    sub = next(a for a in parser._actions if isinstance(a, client_main._Commands))
    for name, fill in list(sub.later.items()):
        fill(sub.choices[name])
    return dict(sub.choices)


def test_every_command_describes_every_option_with_environment_exit_codes_and_an_example() -> None:
    """Issue 24: ``--help`` of every command: each option's help (a hidden Score flag is hidden on purpose),
    the environment variables, the exit codes and an example."""
    commands = _commands()
    assert set(commands) == set(client_help.EXAMPLES)
    for name, parser in commands.items():
        undescribed = [a.option_strings or a.dest for a in parser._actions if not a.help]
        assert undescribed == [], name
        text = parser.format_help()
        assert "\nenvironment variables:\n  ACCESSTOKEN " in text, name
        assert "\nexit codes:\n  0 ok, 1 other failure, 2 usage" in text, name
        assert f"\nexample:\n  score-client {name}" in text, name


def test_the_examples_parse() -> None:
    """Each example is a command line the parser takes."""
    for name, example in client_help.EXAMPLES.items():
        if name == "help":
            continue
        args = client_main._parser().parse_args(example.split()[1:])
        assert args.command == name


@pytest.mark.parametrize(
    ("metadata_flags", "says"),
    [
        ([], f"cannot reach the server at {BASE_URL}: check --server-url / STORAGE_URL"),
        (
            ["--metadata-url", "http://song.test"],
            "cannot reach the metadata service at http://song.test: check --metadata-url / METADATA_URL",
        ),
    ],
)
def test_no_connection_to_the_metadata_service_names_where_its_url_came_from(
    metadata_flags: list[str], says: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 24: download asks the metadata service first, which is the server unless --metadata-url is given."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    class Refused(metadata_api.MetadataApi):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs, transport=httpx.MockTransport(refuse))

    monkeypatch.setattr(metadata_api, "MetadataApi", Refused)
    monkeypatch.setenv("ACCESSTOKEN", "tok")
    argv = ["--server-url", BASE_URL, "download", "--object-id", OID, "--output-dir", "out", *metadata_flags]
    assert client_main.main(argv) == ec.UPSTREAM
    assert capsys.readouterr().err == (
        f"score-client: error: {says} ([Errno 111] Connection refused) ({ec.UNREACHABLE_HINT})\n"
    )


def test_token_help_documents_the_clock_skew_leeway(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 24: ``token --ttl 1s`` is accepted for about 31 s; ``score-server token --help`` says why."""
    from score.cli import server_main

    with pytest.raises(SystemExit) as exit_:
        server_main.main(["token", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "servers accept it for their clock-skew leeway longer (SCORE_AUTH__LEEWAY, default 30 s)" in text
    assert "--ttl 1s is still accepted for about 31 s." in text


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["upload", "--object-id", OID, "--file", "f.bin"], "re-run the same command to resume"),
        (
            ["upload", "--object-id", OID, "--file", "f.bin", "--force"],
            "re-run the command without --force to resume (with --force it starts over)",
        ),
        (
            ["download", "--object-id", OID, "--output-dir", "out", "--force"],
            "re-run the command without --force to resume (with --force it starts over)",
        ),
    ],
)
def test_ctrl_c_says_how_to_resume(
    argv: list[str], says: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Outside-in trial, issue 24: after Ctrl-C of a command with --force, "re-run the same command" starts
    over (--force restarts the upload, or discards the download's parts): it is to be re-run without it."""

    def interrupted(args: argparse.Namespace, session: Session) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(client_main, "_run", interrupted)
    assert client_main.main(["--server-url", BASE_URL, *argv]) == ec.INTERRUPTED
    assert capsys.readouterr().err == f"score-client: error: interrupted; {says}\n"


def test_a_full_disk_stops_a_batch_with_one_message(
    served: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Outside-in trial, issue 24: a disk that filled up mid-batch printed an error for every object left
    (172 lines); the batch stops at the first full-disk error, with one message and exit 8, the files already
    complete kept, and the resume state of the one that stopped."""
    data = MemoryDataPlane(served.store)
    ids = [str(uuid.UUID(int=i, version=4)) for i in range(1, 7)]
    with served.server_api(served.rw_token()) as api:
        for oid in ids:  # three parts each (4, 4 and 2 KiB)
            src = tmp_path / "src.bin"
            src.write_bytes(os.urandom(10 * KIB))
            Uploader(api, data, parallel=1).upload(oid, src)
    monkeypatch.setattr(Session, "data_plane", lambda self: data)
    writes = {"left": 7}  # two objects of three parts each, then one part of the third

    def pwrite_all(fd: int, chunk: bytes | memoryview, offset: int) -> None:
        writes["left"] -= 1
        if writes["left"] < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        os.pwrite(fd, chunk, offset)

    monkeypatch.setattr(download, "pwrite_all", pwrite_all)
    monkeypatch.setenv("ACCESSTOKEN", served.token("score.READ"))
    out = tmp_path / "out"
    argv = ["--server-url", BASE_URL, "--parallel", "1", "download", "--object-id", *ids, "--output-dir", str(out)]
    assert client_main.main([*argv, "--output-layout", "id", "--index", "false"]) == ec.DISK_SPACE
    printed = capsys.readouterr()
    assert printed.err == (
        f"score-client: error: the output file system is full: writing {out}/.{ids[2]}/data failed (No space left "
        "on device); the parts written so far are kept (free some space or choose another --output-dir; nothing "
        "was lost, re-run to resume)\n"
    )
    assert [line.split()[1] for line in printed.out.splitlines()] == ids[:2]
    assert {p.name for p in out.iterdir() if not p.name.startswith(".")} == set(ids[:2])  # complete: kept
    assert (out / f".{ids[2]}" / "data").exists()  # its resume state: the same command resumes


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """An app with the embedded registry; main()'s server and metadata clients both talk to it."""
    app = App(tmp_path / "data", metadata={"kind": "registry"})
    with _app_transport(app) as transport:
        _serve(monkeypatch, transport)

        class InProcess(metadata_api.MetadataApi):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **{**kwargs, "transport": transport})

        monkeypatch.setattr(metadata_api, "MetadataApi", InProcess)
        monkeypatch.setenv("ACCESSTOKEN", app.rw_token())
        yield app


def test_an_unknown_analysis_is_not_an_unknown_object(registry: App, capsys: pytest.CaptureFixture[str]) -> None:
    """Outside-in trial, issue 24: "(check the object id)" followed an analysis that was not found."""
    argv = ["--server-url", BASE_URL, "publish", "--study-id", "ABC", "--analysis-id", "AN-1"]
    assert client_main.main(argv) == ec.NOT_FOUND
    assert capsys.readouterr().err == (
        "score-client: error: analysis 'AN-1' not found in study 'ABC' (check the study id and the analysis id)\n"
    )
    argv = ["--server-url", BASE_URL, "download", "--study-id", "ABC", "--analysis-id", "AN-1", "--output-dir", "o"]
    assert client_main.main(argv) == ec.NOT_FOUND
    assert capsys.readouterr().err == (
        "score-client: error: analysis AN-1 of study ABC has no files (or does not exist) (check the study id and "
        "the analysis id)\n"
    )
