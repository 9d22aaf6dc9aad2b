"""``score-client mount``: a real FUSE mount (mfusepy, fuse3) of a live server's objects, read with
ordinary tools: ls, hashlib, pread, samtools."""

from __future__ import annotations

import errno
import hashlib
import os
import random
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.e2e.conftest import ok, publish
from tests.kit.bam import HTSLIB_TEST, require_test_data, samtools
from tests.kit.files import MIB, random_file
from tests.kit.fusemount import mount, mounted_points, require_fuse
from tests.kit.loopback import LoopbackServer
from tests.kit.proxy import FaultProxy
from tests.kit.servers import ServerProcess, free_port, run_client

pytestmark = [pytest.mark.e2e, pytest.mark.fuse]
CE = HTSLIB_TEST / "ce.fa"


@dataclass
class Library:
    """A server with: study MNT (controlled, published: a 256 MiB file, BAM and CRAM with indexes),
    study OTHER (controlled), study PUB (open access) and study DRAFT (controlled, not published)."""

    srv: ServerProcess
    admin: str  # score.READ: every published object
    mnt_reader: str  # PROGRAMDATA-MNT.READ: study MNT and open files only
    src: Path
    analysis: str
    ids: dict[str, str]  # file name -> object id, every study
    analyses: dict[str, str]  # study -> analysis id


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, big_file: Path) -> Iterator[Library]:
    require_fuse()
    require_test_data()
    src = tmp_path_factory.mktemp("mount-src")
    for path in (
        HTSLIB_TEST / "range.bam",
        HTSLIB_TEST / "range.bam.bai",
        HTSLIB_TEST / "range.cram",
        HTSLIB_TEST / "range.cram.crai",
    ):
        shutil.copy(path, src / path.name)
    (src / "secret.txt").write_text("controlled data of another study\n")
    (src / "open.txt").write_text("open-access data\n")
    (src / "draft.txt").write_text("not published yet\n")
    data = tmp_path_factory.mktemp("mount-data")
    srv = ServerProcess(data, free_port(), env={"SCORE_METADATA__KIND": "registry"}).start()
    try:
        admin = srv.token("score.READ", "score.WRITE")
        ids: dict[str, str] = {}
        analyses = {}
        mnt_files = [big_file, *(src / n for n in ("range.bam", "range.bam.bai", "range.cram", "range.cram.crai"))]
        for study, files, access, published in (
            ("MNT", mnt_files, "controlled", True),
            ("OTHER", [src / "secret.txt"], "controlled", True),
            ("PUB", [src / "open.txt"], "open", True),
            ("DRAFT", [src / "draft.txt"], "controlled", False),
        ):
            work = src / study
            work.mkdir()
            analyses[study], got = publish(srv, admin, files, work, study, access=access, published=published)
            ids.update(got)
        yield Library(srv, admin, srv.token("PROGRAMDATA-MNT.READ"), src, analyses["MNT"], ids, analyses)
    finally:
        srv.stop()


def _tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()}


def _song_manifest(path: Path, ids: list[str]) -> None:
    path.write_text("analysis\t\t\n" + "".join(f"{oid}\t/nowhere/{oid}\t{'0' * 32}\n" for oid in ids))


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        while chunk := fh.read(4 * MIB):
            digest.update(chunk)
    return digest.hexdigest()


def test_bundle_layout_shows_what_the_token_may_read_and_reads_whole_files(
    library: Library, tmp_path: Path, big_file: Path
) -> None:
    with mount(library.srv.url, library.admin, tmp_path / "mnt") as m:
        a = library.analyses
        assert _tree(m.point) == {
            f"{a['MNT']}/big.bin": big_file.stat().st_size,
            f"{a['MNT']}/range.bam": (library.src / "range.bam").stat().st_size,
            f"{a['MNT']}/range.bam.bai": (library.src / "range.bam.bai").stat().st_size,
            f"{a['MNT']}/range.cram": (library.src / "range.cram").stat().st_size,
            f"{a['MNT']}/range.cram.crai": (library.src / "range.cram.crai").stat().st_size,
            f"{a['OTHER']}/secret.txt": 33,
            f"{a['PUB']}/open.txt": 17,
        }  # DRAFT is not published: nobody may download it, so nobody sees it
        big = m.point / a["MNT"] / "big.bin"
        assert _md5(big) == _md5(big_file)
        assert (m.point / a["OTHER"] / "secret.txt").read_text() == "controlled data of another study\n"
        with pytest.raises(OSError) as denied:
            (m.point / "new.txt").write_text("x")
        assert denied.value.errno == errno.EROFS
        with pytest.raises(OSError) as denied:
            open(big, "r+b")  # noqa: SIM115
        assert denied.value.errno == errno.EROFS
        with pytest.raises(FileNotFoundError):
            (m.point / a["MNT"] / "range.bam.csi").stat()
        rc, out, err = m.stop()
    assert rc == 0, err
    assert "unmounted" in out and "Traceback" not in err


def test_pread_at_random_offsets_by_concurrent_readers(library: Library, tmp_path: Path, big_file: Path) -> None:
    size = big_file.stat().st_size
    with mount(library.srv.url, library.admin, tmp_path / "mnt", "--layout", "object-id") as m:
        target = m.point / library.ids["big.bin"]
        assert target.stat().st_size == size
        errors: list[str] = []

        def reader(seed: int) -> None:
            rng = random.Random(seed)
            with open(big_file, "rb") as local, open(target, "rb") as remote:
                for _ in range(60):
                    offset = rng.choice(
                        [
                            rng.randrange(size),
                            rng.randrange(1, 256) * MIB - rng.randrange(1, 9000),
                            size - rng.randrange(1, 5000),
                        ]
                    )
                    length = rng.choice([1, 4096, 65536, 3 * MIB + 17])
                    want = os.pread(local.fileno(), length, offset)
                    got = os.pread(remote.fileno(), length, offset)
                    if got != want:
                        errors.append(f"reader {seed}: {length} bytes at {offset} differ ({len(got)} vs {len(want)})")
                assert os.pread(remote.fileno(), 100, size) == b""  # at the end: nothing
                assert os.pread(remote.fileno(), 100, size + 10 * MIB) == b""

        threads = [threading.Thread(target=reader, args=(seed,)) for seed in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        # hundreds of cache misses later, the mount holds a bounded set of connections (libfuse's threads
        # lose Python's thread-local state, so fetches must not keep connections there)
        sockets = [
            fd
            for fd in os.listdir(f"/proc/{m.proc.pid}/fd")
            if os.readlink(f"/proc/{m.proc.pid}/fd/{fd}").startswith("socket:")
        ]
        assert len(sockets) <= 40, f"{len(sockets)} sockets open in the mount process"


def test_samtools_reads_regions_through_the_mount(library: Library, tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"  # htslib must find the index beside the file, not in the working directory
    cwd.mkdir()
    with mount(library.srv.url, library.admin, tmp_path / "mnt") as m:
        folder = m.point / library.analysis
        for name, regions in (
            ("range.bam", ["CHROMOSOME_I:1,000-2,000", "CHROMOSOME_II", "CHROMOSOME_V"]),
            ("range.cram", ["CHROMOSOME_I:1000-2000", "CHROMOSOME_III"]),
        ):
            for region in regions:
                ref = ["-T", str(CE)] if name.endswith(".cram") else []
                through = samtools("view", *ref, str(folder / name), region, cwd=cwd)
                local = samtools("view", *ref, str(library.src / name), region, cwd=cwd)
                assert through == local, (name, region)
                if region != "CHROMOSOME_V":
                    assert through.strip(), (name, region)
        assert list(cwd.iterdir()) == []  # no index was downloaded into the working directory


def test_controlled_files_of_other_studies_are_invisible(library: Library, tmp_path: Path) -> None:
    with mount(library.srv.url, library.mnt_reader, tmp_path / "mnt") as m:
        a = library.analyses
        assert sorted(os.listdir(m.point)) == sorted([a["MNT"], a["PUB"]])
        assert not (m.point / a["OTHER"]).exists()
        assert (m.point / a["PUB"] / "open.txt").read_text() == "open-access data\n"
        assert (m.point / a["MNT"] / "range.bam").read_bytes() == (library.src / "range.bam").read_bytes()
    with mount(library.srv.url, library.mnt_reader, tmp_path / "flat", "--layout", "object-id") as m:
        assert sorted(os.listdir(m.point)) == sorted(
            library.ids[n]
            for n in ("big.bin", "range.bam", "range.bam.bai", "range.cram", "range.cram.crai", "open.txt")
        )


def _served(body: bytes) -> LoopbackServer:
    """A web server that answers every GET with *body* (a manifest at a URL, as Score's client takes it)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002  quiet
            pass

    return LoopbackServer(Handler).start()


@pytest.mark.parametrize("given_as", ["file", "url"])
def test_manifest_narrows_the_mount_and_brings_index_files(library: Library, tmp_path: Path, given_as: str) -> None:
    manifest = tmp_path / "manifest.tsv"
    _song_manifest(manifest, [library.ids["range.bam"], library.ids["secret.txt"]])
    web = _served(manifest.read_bytes()) if given_as == "url" else None
    spec = f"{web.url}/manifest.tsv" if web else str(manifest)
    try:
        with mount(library.srv.url, library.mnt_reader, tmp_path / "mnt", "--manifest", spec) as m:
            assert sorted(_tree(m.point)) == [f"{library.analysis}/range.bam", f"{library.analysis}/range.bam.bai"]
            rc, _out, err = m.stop()
    finally:
        if web:
            web.stop()
    assert rc == 0
    assert "1 object(s) of the manifest are not shown" in err and library.ids["secret.txt"] in err


def test_cache_metadata_reuses_the_names_but_never_the_access(library: Library, tmp_path: Path) -> None:
    with mount(library.srv.url, library.admin, tmp_path / "mnt", "--cache-metadata", cwd=tmp_path) as m:
        assert (m.point / library.analyses["OTHER"] / "secret.txt").exists()
        m.stop()
    assert (tmp_path / ".score-mount-entities.json").is_file()
    with mount(library.srv.url, library.mnt_reader, tmp_path / "mnt", "--cache-metadata", cwd=tmp_path) as m:
        assert not (m.point / library.analyses["OTHER"]).exists()  # the listing is always asked afresh
        assert (m.point / library.analysis / "range.bam").exists()
        rc, _, err = m.stop()
    assert rc == 0 and "entity names from" in err


@pytest.mark.parametrize("how", ["fusermount", "SIGINT", "SIGTERM"])
def test_every_way_of_ending_the_mount_leaves_nothing_mounted(library: Library, tmp_path: Path, how: str) -> None:
    with mount(library.srv.url, library.admin, tmp_path / "mnt") as m:
        assert os.listdir(m.point)
        rc, out, err = m.stop(how)
        assert rc == 0, err
        assert "unmounted" in out and "Traceback" not in err
        assert not os.path.ismount(m.point) and str(m.point) not in mounted_points()
        assert os.listdir(m.point) == []


def _ended(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except FileNotFoundError:
        return True


def test_daemonize_returns_once_mounted(library: Library, tmp_path: Path) -> None:
    point = tmp_path / "mnt"
    point.mkdir()
    (tmp_path / "link").symlink_to(point)  # a symlink to the mount point; an abbreviated flag
    log = tmp_path / "mount.log"
    r = run_client(
        ["mount", "--mount-point", str(tmp_path / "link"), "--daemon", "--log-file", str(log)],
        server=library.srv.url,
        token=library.admin,
        timeout=120,
    )
    try:
        out = ok(r)
        assert os.path.ismount(point) and f"mounted at {point}" in out
        pid = int(out.split("(process ")[1].split(",")[0])
        assert (point / library.analysis / "range.bam").read_bytes() == (library.src / "range.bam").read_bytes()
    finally:
        subprocess.run(["fusermount3", "-u", str(point)], check=False, capture_output=True)
    for _ in range(600):
        if _ended(pid):
            break
        threading.Event().wait(0.05)
    else:
        pytest.fail("the daemon did not exit after fusermount3 -u")
    assert "unmounted" in log.read_text()
    daemons = subprocess.run(
        ["pgrep", "-f", f"mount --mount-point {tmp_path / 'link'}"], capture_output=True, text=True
    ).stdout.split()
    assert daemons == []  # exactly one detached process was started, and it has ended
    assert str(point) not in mounted_points()


def test_mount_refusals_are_clear_and_mount_nothing(library: Library, tmp_path: Path) -> None:
    def refused(point: Path, token: str | None, *extra: str) -> str:
        r = run_client(["mount", "--mount-point", str(point), *extra], server=library.srv.url, token=token)
        assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
        assert str(point) not in mounted_points()
        return r.stderr

    assert "does not exist" in refused(tmp_path / "missing", library.admin)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    assert "is not empty" in refused(busy, library.admin)
    assert (busy / "keep.txt").read_text() == "mine"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "token" in refused(empty, None).lower()
    assert "malformed FUSE option" in refused(empty, library.admin, "--options", "a=b,,=c")
    assert "read-only" in refused(empty, library.admin, "--options", "rw")
    manifest = tmp_path / "m.tsv"
    _song_manifest(manifest, [library.ids["secret.txt"]])
    assert "no object of the manifest" in refused(empty, library.mnt_reader, "--manifest", str(manifest))


def test_a_killed_mount_is_explained_and_a_dead_server_gives_eio(
    library: Library, tmp_path: Path, server_factory: object, big_file: Path
) -> None:
    point = tmp_path / "mnt"
    with mount(library.srv.url, library.admin, point) as m:
        m.proc.kill()  # SIGKILL: the kernel keeps a dead mount
        m.proc.wait()
        with pytest.raises(OSError) as dead:
            os.listdir(point)
        assert dead.value.errno == errno.ENOTCONN
        r = run_client(["mount", "--mount-point", str(point)], server=library.srv.url, token=library.admin)
        assert r.returncode != 0 and f"fusermount3 -u {point}" in r.stderr
    # a server that goes away: names still list, reads fail with EIO instead of hanging
    small = random_file(tmp_path / "small.bin", 16 * MIB)
    srv = server_factory(SCORE_METADATA__KIND="registry")  # type: ignore[operator]
    token = srv.token("score.READ", "score.WRITE")
    analysis, _ = publish(srv, token, [small], tmp_path, study="GONE")
    with mount(srv.url, token, tmp_path / "mnt2") as m:
        path = m.point / analysis / "small.bin"
        with open(path, "rb") as fh:
            assert fh.read(100) == small.read_bytes()[:100]
            srv.stop()
            with pytest.raises(OSError) as failed:
                os.pread(fh.fileno(), 100, 12 * MIB)  # far from what was read (and read ahead)
            assert failed.value.errno == errno.EIO
        assert os.listdir(m.point / analysis) == ["small.bin"]
        with pytest.raises(OSError) as failed, open(path, "rb") as again:
            again.read()
        assert failed.value.errno == errno.EIO


def test_urls_are_renewed_and_only_needed_bytes_cross(tmp_path: Path, server_factory: object) -> None:
    require_fuse()
    blob = random_file(tmp_path / "blob.bin", 64 * MIB)
    port = free_port()
    proxy = FaultProxy(port, stream_gets=True).start()
    try:
        srv = server_factory(
            port=port,
            SCORE_METADATA__KIND="registry",
            SCORE_PUBLIC_URL=proxy.url,  # type: ignore[operator]
            SCORE_DOWNLOAD_URL_TTL="2",
        )
        token = srv.token("score.READ", "score.WRITE")
        _, ids = publish(srv, token, [blob], tmp_path, study="RENEW")
        with mount(srv.url, token, tmp_path / "mnt", "--layout", "object-id") as m:
            with open(m.point / ids["blob.bin"], "rb") as fh:
                assert os.pread(fh.fileno(), 4096, 40 * MIB + 5) == blob.read_bytes()[40 * MIB + 5 : 40 * MIB + 4101]
                sent = proxy.store_get_bytes[f"/_store/data/{ids['blob.bin']}"]
                assert 0 < sent <= 2 * MIB, f"{sent} bytes crossed for a 4 KiB read"
                threading.Event().wait(3)  # the first URL has expired by now
                assert os.pread(fh.fileno(), 4096, 7 * MIB) == blob.read_bytes()[7 * MIB : 7 * MIB + 4096]
            rc, out, _ = m.stop()
        assert rc == 0
        issued = int(out.split(" URL(s) issued")[0].rsplit(" ", 1)[1])
        assert issued >= 2, out
    finally:
        proxy.stop()
