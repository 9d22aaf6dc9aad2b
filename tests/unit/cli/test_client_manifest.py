"""``--manifest`` as Score's client takes it (issue 22): an http(s) URL is fetched, a portal manifest id is
read from ``PORTAL_URL``'s ``/api/v1/manifests/<id>``, and bad input is a usage error (exit 2) before
anything is downloaded; ``info --verbose``, ``version`` and ``view --output-type`` (in process)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from score import __version__
from score.cli import client_main
from tests.kit.loopback import LoopbackServer
from tests.kit.servers import free_port

OID = "5b6f2c52-2f1d-4a4e-9a56-0d1f1c6e9a01"
MANIFEST_ID = "0d6a4d2c-1f0e-4b5f-8a61-3f3c2e7b9a10"
SONG_MANIFEST = f"AN1\t\t\n{OID}\t/data/x.bam\t{'a' * 32}\n"
ENV = (
    "ACCESSTOKEN",
    "SCORE_ACCESS_TOKEN",
    "STORAGE_URL",
    "SCORE_SERVER_URL",
    "METADATA_URL",
    "SCORE_METADATA_URL",
    "SCORE_PROFILE",
    "STORAGE_PROFILE",
    "TRANSPORT_PARALLEL",
    "TRANSPORT_MEMORY",
    "SCORE_PARALLEL",
    "SCORE_MEMORY",
    "SCORE_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "PORTAL_URL",
    "SCORE_PORTAL_URL",
    "SCORE_CLIENT_SECRET",
    "SCORE_CLIENT_PROPERTIES",
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
)


class _Portal:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str | None]] = []  # (path, Authorization)


@pytest.fixture
def portal() -> Iterator[tuple[LoopbackServer, _Portal]]:
    seen = _Portal()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            seen.asked.append((self.path, self.headers.get("Authorization")))
            known = {f"/api/v1/manifests/{MANIFEST_ID}", "/m.tsv"}
            body = SONG_MANIFEST.encode() if self.path in known else b"not found"
            self.send_response(200 if self.path in known else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = LoopbackServer(Handler).start()
    yield srv, seen
    srv.stop()


@pytest.fixture
def client_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No settings from the machine; a server URL where nobody listens (nothing may be downloaded)."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("SCORE_CLIENT_CONFIG", str(tmp_path / "client.toml"))
    (tmp_path / "client.toml").write_text("")
    monkeypatch.setenv("STORAGE_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("ACCESSTOKEN", "secret-token-value")
    return tmp_path


def test_manifest_prints_a_fetched_url_without_sending_the_token(
    client_env: Path, portal: tuple[LoopbackServer, _Portal], capsys: pytest.CaptureFixture[str]
) -> None:
    srv, seen = portal
    assert client_main.main(["manifest", "--manifest", f"{srv.url}/m.tsv"]) == 0
    assert capsys.readouterr().out == SONG_MANIFEST
    assert seen.asked == [("/m.tsv", None)]  # Score's client sends no token with it either


def test_manifest_resolves_a_portal_id_with_portal_url(
    client_env: Path,
    portal: tuple[LoopbackServer, _Portal],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    srv, seen = portal
    monkeypatch.setenv("PORTAL_URL", srv.url)
    assert client_main.main(["manifest", "--manifest", MANIFEST_ID]) == 0
    assert capsys.readouterr().out == SONG_MANIFEST
    assert seen.asked == [(f"/api/v1/manifests/{MANIFEST_ID}", None)]


def test_a_portal_id_without_portal_url_names_the_setting(
    client_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(client_env)
    assert client_main.main(["manifest", "--manifest", MANIFEST_ID]) == 2
    err = capsys.readouterr().err
    assert f"manifest {MANIFEST_ID} is a portal manifest id, and no portal URL is configured: set PORTAL_URL" in err


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("ftp://host/m.tsv", "only http:// and https:// URLs are fetched"),
        ("{portal}/absent.tsv?sig=secret", "absent.tsv: the server answered 404 Not Found"),
        (MANIFEST_ID, "set PORTAL_URL"),
        ("missing.tsv", "manifest missing.tsv does not exist"),
    ],
)
def test_bad_manifests_are_usage_errors_before_anything_is_downloaded(
    client_env: Path,
    portal: tuple[LoopbackServer, _Portal],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    spec: str,
    needle: str,
) -> None:
    monkeypatch.chdir(client_env)
    out = client_env / "out"
    spec = spec.format(portal=portal[0].url)
    for command in (["download", "--output-dir", str(out)], ["view", "--output-dir", str(out), "--query", "1"]):
        assert client_main.main([*command, "--manifest", spec]) == 2, command
        err = capsys.readouterr().err
        assert needle in err and "secret" not in err and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


def test_download_reads_a_url_manifest_before_asking_the_server(
    client_env: Path,
    portal: tuple[LoopbackServer, _Portal],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before issue 22 the URL became the path ``http:/127.0.0.1:.../m.tsv`` ("does not exist")."""
    srv, seen = portal
    monkeypatch.setenv("STORAGE_URL", srv.url)  # the portal answers the server's calls with a 404 page
    code = client_main.main(["download", "--manifest", f"{srv.url}/m.tsv", "--output-dir", str(client_env / "o")])
    assert seen.asked[0] == ("/m.tsv", None)  # first, and without the token
    assert [auth for path, auth in seen.asked if OID in path][-1] == "Bearer secret-token-value"
    # the manifest's object was then asked of the "server", whose 404 page is no score-server's (issue 24)
    err = capsys.readouterr().err
    assert code == 2 and "no such endpoint" in err and "check --server-url / STORAGE_URL" in err, err


@pytest.mark.parametrize("kind", ["MERGED", "CROSS", "merged"])
def test_view_output_types_score_never_implemented_are_refused(
    client_env: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    args = ["view", "--object-id", str(uuid.uuid4()), "--query", "chr1:1-100", "--output-type", kind]
    assert client_main.main([*args, "--output-dir", str(client_env / "o")]) == 2
    err = capsys.readouterr().err
    assert f"--output-type {kind.upper()} is not implemented in Score's client either" in err
    assert "--output-type TRIMMED (the default) writes one file per object with the reads of every region" in err
    assert ("samtools merge" if kind.upper() == "MERGED" else "run view once per --query") in err
    assert not (client_env / "o").exists()


def test_version_prints_the_client_then_the_server(client_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert client_main.main(["version"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"score-client {__version__}"
    assert out[1].startswith("server URL:    http://127.0.0.1:")
    assert out[2] == "server:        unreachable (ConnectError)"


def test_info_verbose_lists_the_sources_never_a_secret(
    client_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (client_env / "client.toml").write_text(
        'parallel = 3\naccess_token = "file-token"\n[profiles.collab]\nserver_url = "http://127.0.0.1:1"\n'
        'client_secret = "file-secret"\n'
    )
    monkeypatch.setenv("HTTPS_PROXY", "http://user:proxy-pass@127.0.0.1:3128")
    monkeypatch.setenv("PORTAL_URL", "https://portal.example.org")
    props = client_env / "application.properties"  # the Java client's conf/application.properties
    props.write_text("accessToken=props-token\ntransport.parallel=6\n")
    monkeypatch.setenv("SCORE_CLIENT_PROPERTIES", str(props))
    assert client_main.main(["info", "--verbose", "--profile", "collab", "--parallel", "2"]) == 0
    out = capsys.readouterr().out
    assert f"  Score's properties {props}:\n    accessToken: set (never shown)\n    transport.parallel: 6\n" in out
    assert "  Score's profile collab:\n    metadata_url: https://song.cancercollaboratory.org\n" in out
    assert "configuration sources (a value comes from the first source that sets it):" in out
    assert "    --profile: collab\n    --parallel: 2\n" in out
    assert "    ACCESSTOKEN: set (never shown)\n" in out
    assert "    PORTAL_URL: https://portal.example.org\n" in out
    assert "    HTTPS_PROXY: http://<credentials hidden>@127.0.0.1:3128\n" in out
    assert "    access_token: set (never shown)\n    parallel: 3\n" in out
    assert "    [profiles.collab] (in use, over the keys above):\n      client_secret: set (never shown)\n" in out
    for secret in ("secret-token-value", "file-token", "file-secret", "proxy-pass", "props-token"):
        assert secret not in out
    assert client_main.main(["info"]) == 0
    assert "configuration sources" not in capsys.readouterr().out


def test_upload_reads_a_url_manifest_too(
    client_env: Path, portal: tuple[LoopbackServer, _Portal], capsys: pytest.CaptureFixture[str]
) -> None:
    """Score's UploadCommand takes a ManifestResource as well: the manifest is fetched, then its files checked."""
    srv, seen = portal
    assert client_main.main(["upload", "--manifest", f"{srv.url}/m.tsv"]) == 2
    assert "/data/x.bam is not a readable file" in capsys.readouterr().err  # the fetched manifest's file
    assert seen.asked == [("/m.tsv", None)]


def test_an_empty_manifest_is_refused_by_manifest_as_by_download(
    client_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """New-user trial: ``manifest --manifest empty.txt`` printed a blank line with exit 0; download says exit 2."""
    monkeypatch.chdir(client_env)
    (client_env / "empty.txt").write_text("")
    for command in (["manifest"], ["download", "--output-dir", str(client_env / "out")]):
        assert client_main.main([*command, "--manifest", "empty.txt"]) == 2, command
        captured = capsys.readouterr()
        assert captured.err == "score-client: error: manifest empty.txt is empty\n" and captured.out == ""
