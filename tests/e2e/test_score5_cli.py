"""A Score 5.x user's command lines against a live score-server (issue 22): global options before the command,
Score's ``conf/application.properties`` and profiles, ``--verify-connection``, ``--silent``."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.kit.checks import ok
from tests.kit.files import MIB, md5_of, random_file
from tests.kit.servers import free_port, run_client

pytestmark = pytest.mark.e2e
NO_ENV = {"STORAGE_URL": "", "ACCESSTOKEN": ""}  # everything from Score's conf/ files


def test_score_style_command_lines_end_to_end(server_factory: Any, tmp_path: Path) -> None:
    """``score-client --profile site --quiet upload --verify-connection ...`` with Score's conf/ files, then the
    download the same way: the properties give the token, the profile's file the server, TRANSPORT_MEMORY-style
    GiB; an unsupported key is warned about; the read-only data directory needs no upload state dir."""
    srv = server_factory()
    token = srv.token("score.READ", "score.WRITE")
    work = tmp_path / "work"
    conf = work / "conf"
    conf.mkdir(parents=True)
    state = tmp_path / "state"
    (conf / "application.properties").write_text(
        f"accessToken={token}\nstorage.url=http://127.0.0.1:1\ntransport.parallel=2\ntransport.memory=1\n"
        f"client.uploadStateDir={state}\ntransport.fileFrom=remote\n"
    )
    (conf / "application-site.properties").write_text(f"storage.url={srv.url}\n")
    data = tmp_path / "reads"  # (tmp_path / "data" is the server's)
    data.mkdir()
    src = random_file(data / "reads.bin", 3 * MIB + 17)
    data.chmod(stat.S_IRUSR | stat.S_IXUSR)  # read-only, as on a shared data volume (Score's issue #302)
    oid = str(uuid.uuid4())
    try:
        up = run_client(
            ["--profile", "site", "--quiet", "upload", "--verify-connection", "--object-id", oid, "--file", str(src)],
            server=srv.url,
            token=None,
            env=NO_ENV,
            cwd=work,
        )
    finally:
        data.chmod(stat.S_IRWXU)
    assert md5_of(src) in ok(up)
    assert "note: reading Score's settings from" in up.stderr
    assert "warning: Score setting transport.fileFrom" in up.stderr
    assert not state.exists()  # no upload state is kept anywhere
    out = tmp_path / "out"
    down = run_client(
        [
            "--profile=site",
            "--quiet",
            "download",
            "--verify-connection=true",
            "--object-id",
            oid,
            "--output-dir",
            str(out),
            "--output-layout",
            "ID",
        ],
        server=srv.url,
        token=None,
        env=NO_ENV,
        cwd=work,
    )
    ok(down)
    assert md5_of(out / oid) == md5_of(src)
    silent = run_client(
        ["--silent", "--profile", "site", "url", "--object-id", oid], server=srv.url, token=None, env=NO_ENV, cwd=work
    )
    assert (silent.returncode, silent.stdout, silent.stderr) == (0, "", "")


def test_verify_connection_stops_at_once_when_the_server_is_down(tmp_path: Path) -> None:
    """Score's ping is asked once: a dead server fails the command quickly, naming the check and its switch."""
    src = random_file(tmp_path / "f.bin", 1024)
    dead = f"http://127.0.0.1:{free_port()}"
    r = run_client(
        ["--quiet", "upload", "--verify-connection", "--object-id", str(uuid.uuid4()), "--file", str(src)],
        server=dead,
        token="t",
        timeout=30,
    )
    assert r.returncode == 6, r.stderr
    assert "could not verify the connection to the repository" in r.stderr and "--verify-connection false" in r.stderr
    assert "Traceback" not in r.stderr


def test_ping_needs_no_token(server_factory: Any) -> None:
    """``GET /download/ping`` answers anyone, as Score's (``Authorization`` is optional there), with a URL that
    serves the sentinel object."""
    srv = server_factory()
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        ping = httpx.get(f"{srv.url}/download/ping", headers=headers)
        assert ping.status_code == 200, ping.text
        assert httpx.get(ping.text).status_code == 200
