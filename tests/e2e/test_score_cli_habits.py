"""Score 5.x command lines against a live server (issue 22): ``--manifest`` as an http(s) URL or a portal
manifest id (Score's ``ManifestResource``), ``manifest --manifest <id>``, ``info --verbose``, ``version``
with the server's version and health, and ``view --output-type MERGED|CROSS``."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from score import __version__
from tests.e2e.conftest import Served, publish
from tests.kit.checks import ok
from tests.kit.files import md5_of, random_file
from tests.kit.loopback import LoopbackServer
from tests.kit.servers import free_port, run_client

pytestmark = pytest.mark.e2e
ICGC_COLUMNS = (
    "repo_code file_id object_id file_format file_name file_size md5_sum index_object_id donor_id project_id study"
)
ICGC_HEADER = ICGC_COLUMNS.replace(" ", "\t")
MANIFEST_ID = "7f1c1d1e-5a0b-4c47-9a51-2d9e8b0f6c33"


class Portal:
    """A portal double: serves manifests by path; records (path, Authorization) of each request."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.asked: list[tuple[str, str | None]] = []
        lock = threading.Lock()
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with lock:
                    portal.asked.append((self.path, self.headers.get("Authorization")))
                body = portal.files.get(self.path)
                self.send_response(404 if body is None else 200)
                data = b"not found" if body is None else body
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = LoopbackServer(Handler).start()


@pytest.fixture
def portal() -> Iterator[Portal]:
    p = Portal()
    yield p
    p.server.stop()


def _icgc_manifest(rows: list[tuple[str, str, int, str]]) -> bytes:
    """An ICGC portal manifest of (object id, file name, size, md5) rows."""
    lines = [ICGC_HEADER]
    lines += [
        "\t".join(["local", f"FI{i}", oid, "BAM", name, str(size), md5, "", "DO1", "P1", "MAN"])
        for i, (oid, name, size, md5) in enumerate(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def test_download_and_manifest_take_a_url_or_a_portal_id(server_factory: Any, portal: Portal, tmp_path: Path) -> None:
    """Score's client reads ``--manifest`` from a URL or ``{portal.url}/api/v1/manifests/{id}``; before issue 22
    ours turned the URL into the path ``http:/...`` and said it did not exist."""
    srv = server_factory(SCORE_METADATA__KIND="registry")
    token = srv.token("score.READ", "score.WRITE")
    work = tmp_path / "src"
    work.mkdir()
    src = random_file(work / "sample.bin", 300_000)
    _, ids = publish(srv, token, [src], work, study="MAN")
    oid = ids["sample.bin"]
    body = _icgc_manifest([(oid, "sample.bin", src.stat().st_size, md5_of(src))])
    portal.files["/m.tsv?X-Amz-Signature=shh"] = body
    portal.files[f"/api/v1/manifests/{MANIFEST_ID}"] = body
    url = f"{portal.server.url}/m.tsv?X-Amz-Signature=shh"

    out = ok(
        run_client(["download", "--manifest", url, "--output-dir", str(tmp_path / "u")], server=srv.url, token=token)
    )
    assert "md5 verified" in out and md5_of(tmp_path / "u" / "sample.bin") == md5_of(src)

    env = {"PORTAL_URL": portal.server.url}
    down = ["download", "--manifest", MANIFEST_ID, "--output-dir", str(tmp_path / "i")]
    ok(run_client(down, server=srv.url, token=token, env=env))
    assert md5_of(tmp_path / "i" / "sample.bin") == md5_of(src)
    shown = ok(run_client(["manifest", "--manifest", MANIFEST_ID], server=srv.url, token=token, env=env))
    assert shown == body.decode()
    assert portal.asked == [
        ("/m.tsv?X-Amz-Signature=shh", None),
        (f"/api/v1/manifests/{MANIFEST_ID}", None),
        (f"/api/v1/manifests/{MANIFEST_ID}", None),
    ]  # the token goes to score-server only, as with Score's client

    # bad input: exit 2, the reason, nothing downloaded, the URL's query never shown
    for spec, env_, needle in (
        (MANIFEST_ID, {}, "no portal URL is configured: set PORTAL_URL"),
        (f"{portal.server.url}/absent.tsv?sig=shh", {}, "absent.tsv: the server answered 404 Not Found"),
        ("ftp://example.org/m.tsv", {}, "only http:// and https:// URLs are fetched"),
    ):
        r = run_client(
            ["download", "--manifest", spec, "--output-dir", str(tmp_path / "bad")],
            server=srv.url,
            token=token,
            env=env_,
            cwd=tmp_path,
        )
        assert r.returncode == 2 and needle in r.stderr and "shh" not in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and not (tmp_path / "bad").exists()


def test_version_prints_the_servers_version_and_health(server_factory: Any) -> None:
    srv = server_factory()
    lines = ok(run_client(["version"], server=srv.url, token=None)).splitlines()
    assert lines == [
        f"score-client {__version__}",
        f"server URL:    {srv.url}",
        f"server:        UP, version {__version__}",
    ]
    dead = run_client(["version"], server=f"http://127.0.0.1:{free_port()}", token=None)
    assert dead.returncode == 0 and dead.stdout.splitlines()[2] == "server:        unreachable (ConnectError)"


def test_info_verbose_shows_the_configuration_sources(server_factory: Any, tmp_path: Path) -> None:
    srv = server_factory()
    token = srv.token("score.READ")
    config = tmp_path / "client.toml"
    config.write_text(f'parallel = 3\naccess_token = "{token}"\n')
    r = run_client(
        ["info", "--verbose", "--parallel", "2"],
        server=srv.url,
        token=token,
        env={"SCORE_CLIENT_CONFIG": str(config), "TRANSPORT_PARALLEL": "5"},
    )
    out = ok(r)
    assert "server:        UP" in out and "configuration sources" in out
    assert "  command line:\n    --parallel: 2\n" in out
    assert f"    STORAGE_URL: {srv.url}\n" in out and "    ACCESSTOKEN: set (never shown)\n" in out
    assert "    TRANSPORT_PARALLEL: 5\n" in out
    assert f"  config file {config}:\n    access_token: set (never shown)\n    parallel: 3\n" in out
    assert token not in out and token[:20] not in out and token not in r.stderr


@pytest.mark.parametrize("kind", ["MERGED", "CROSS"])
def test_view_output_types_score_never_implemented(served: Served, tmp_path: Path, kind: str) -> None:
    """Score's client prints "Output type '...' not implemented" and writes nothing, except a header-only
    view, which it writes whatever the type: so is ours, and the rest is refused naming what to use."""
    oid = served.ids["range.bam"]
    out = tmp_path / "o"
    view = ["view", "--object-id", oid, "--output-dir", str(out), "--output-type", kind]
    r = run_client([*view, "--query", "CHROMOSOME_I:1-1000"], server=served.srv.url, token=served.token)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"--output-type {kind} is not implemented in Score's client either" in r.stderr
    assert "--output-type TRIMMED (the default)" in r.stderr and not out.exists()
    header = ok(run_client([*view, "--header-only"], server=served.srv.url, token=served.token))
    assert "header ->" in header and [p.suffix for p in out.iterdir()] == [".sam"]
    assert (out / next(out.iterdir()).name).read_text().startswith("@")


def test_a_uuid_named_manifest_file_is_still_read_without_a_portal(tmp_path: Path) -> None:
    name = str(uuid.uuid4())
    (tmp_path / name).write_text(f"AN1\t\t\n{uuid.uuid4()}\tx.bam\t{'a' * 32}\n")
    r = run_client(["manifest", "--manifest", name], server=f"http://127.0.0.1:{free_port()}", token=None, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("AN1")
