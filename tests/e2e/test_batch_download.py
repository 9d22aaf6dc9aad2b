"""Batch downloads: manifests (ICGC portal, Song), layouts, duplicate names, --json with one corrupt object."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.kit.checks import ok
from tests.kit.files import MIB, md5_of, random_file
from tests.kit.servers import ServerProcess, run_client, start_client

pytestmark = pytest.mark.e2e
ICGC_COLUMNS = (
    "repo_code file_id object_id file_format file_name file_size md5_sum index_object_id donor_id project_id study"
)
ICGC_HEADER = "\t".join(ICGC_COLUMNS.split())


def _publish_one(srv: ServerProcess, token: str, tmp: Path, name: str, size: int) -> tuple[str, str, Path]:
    """Submit, upload and publish one file called *name*; return (analysis id, object id, source)."""
    src_dir = tmp / f"src-{len(list(tmp.glob('src-*')))}"
    src_dir.mkdir()
    src = random_file(src_dir / name, size)
    manifest = src_dir / "manifest.txt"
    out = ok(
        run_client(
            ["submit", "--study-id", "BAT", "--files", str(src), "--manifest", str(manifest)],
            server=srv.url,
            token=token,
        )
    )
    analysis = out.split("submitted analysis ")[1].split()[0]
    object_id = manifest.read_text().splitlines()[1].split("\t")[0]
    ok(run_client(["upload", "--manifest", str(manifest)], server=srv.url, token=token))
    ok(run_client(["publish", "--study-id", "BAT", "--analysis-id", analysis], server=srv.url, token=token))
    return analysis, object_id, src


def test_manifest_layouts_duplicates_and_json(server_factory: Any, tmp_path: Path) -> None:
    srv = server_factory(SCORE_METADATA__KIND="registry", SCORE_STORAGE__MIN_PART_SIZE_BYTES=str(4 * MIB))
    token = srv.token("score.READ", "score.WRITE")
    a1, o1, s1 = _publish_one(srv, token, tmp_path, "same.bam", 5 * MIB)
    a2, o2, s2 = _publish_one(srv, token, tmp_path, "same.bam", 1000)
    a3, o3, s3 = _publish_one(srv, token, tmp_path, "other.vcf.gz", 2000)
    manifest = tmp_path / "portal.tsv"
    rows = [f"collab\tFI{i}\t{o}\tBAM\tx\t1\tmd5\t\tDO1\tP\tS" for i, o in enumerate((o1, o2, o3))]
    manifest.write_text("\n".join([ICGC_HEADER, *rows]) + "\n")
    # the default layout (file names) would write two objects to same.bam: refused up front
    clash = run_client(
        ["download", "--manifest", str(manifest), "--output-dir", str(tmp_path / "f")], server=srv.url, token=token
    )
    assert clash.returncode == 2 and "same.bam" in clash.stderr and "--output-layout" in clash.stderr
    assert not (tmp_path / "f").exists() or not any((tmp_path / "f").iterdir())
    ok(
        run_client(
            ["download", "--manifest", str(manifest), "--output-dir", str(tmp_path / "b"), "--output-layout", "bundle"],
            server=srv.url,
            token=token,
        )
    )
    for analysis, name, src in ((a1, "same.bam", s1), (a2, "same.bam", s2), (a3, "other.vcf.gz", s3)):
        assert md5_of(tmp_path / "b" / analysis / name) == md5_of(src)
    ok(run_client(["download", "--object-id", o3, "--output-dir", str(tmp_path / "n")], server=srv.url, token=token))
    assert md5_of(tmp_path / "n" / "other.vcf.gz") == md5_of(s3)  # Score's default layout: the file name
    # one object corrupted in the store: reported failed with its reason, the others succeed, exit non-zero
    stored = srv.data_dir / "objects" / "data" / o1
    raw = bytearray(stored.read_bytes())
    raw[100] ^= 0xFF
    stored.write_bytes(bytes(raw))
    r = run_client(
        [
            "download",
            "--manifest",
            str(manifest),
            "--output-dir",
            str(tmp_path / "j"),
            "--output-layout",
            "id",
            "--json",
        ],
        server=srv.url,
        token=token,
    )
    assert r.returncode == 5 and "Traceback" not in r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    by_id = {x["object_id"]: x for x in lines if "object_id" in x}
    assert by_id[o1]["status"] == "failed" and "MD5" in by_id[o1]["error"] and by_id[o1]["exit_code"] == 5
    assert by_id[o2]["status"] == by_id[o3]["status"] == "ok" and by_id[o2]["md5_verified"] is True
    assert lines[-1]["summary"] == {**lines[-1]["summary"], "objects": 3, "succeeded": 2, "failed": 1, "exit_code": 5}
    assert not (tmp_path / "j" / o1).exists() and md5_of(tmp_path / "j" / o2) == md5_of(s2)
    # its report piped into a reader that goes away at once (``| head -1``): the batch still runs to its end
    # and its exit code is still the failure's (it stopped at the first line, with exit 0)
    for as_json in ([], ["--json"]):
        out = tmp_path / f"piped{len(as_json)}"
        args = ["download", "--manifest", str(manifest), "--output-dir", str(out), "--output-layout", "id", *as_json]
        proc = start_client(["--parallel", "1", *args], server=srv.url, token=token)
        assert proc.stdout is not None
        proc.stdout.close()  # the reader is gone before the first line
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 5 and "Traceback" not in stderr, stderr
        assert md5_of(out / o2) == md5_of(s2) and md5_of(out / o3) == md5_of(s3) and not (out / o1).exists()
    # ``2>&1 | head -1``: standard error's reader gone too (its notes stopped the batch with exit 0 before any file)
    out = tmp_path / "piped-both"
    args = ["download", "--manifest", str(manifest), "--output-dir", str(out), "--output-layout", "id"]
    proc = start_client(["--parallel", "1", *args], server=srv.url, token=token)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 5
    assert md5_of(out / o2) == md5_of(s2) and md5_of(out / o3) == md5_of(s3) and not (out / o1).exists()


def test_too_little_free_space_is_refused_before_anything_is_written(
    server_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil
    from collections import namedtuple

    from score.cli import client_main

    srv = server_factory(SCORE_METADATA__KIND="registry", SCORE_STORAGE__MIN_PART_SIZE_BYTES=str(4 * MIB))
    token = srv.token("score.READ", "score.WRITE")
    _, oid, src = _publish_one(srv, token, tmp_path, "big.bam", 6 * MIB)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 * MIB, 9 * MIB, 1 * MIB))
    monkeypatch.setenv("ACCESSTOKEN", token)
    monkeypatch.setenv("STORAGE_URL", srv.url)
    # the size is known from the metadata: refused before the first request for data
    out = tmp_path / "out"
    assert client_main.main(["download", "--object-id", oid, "--output-dir", str(out)]) == 8
    assert "needs 6.0 MiB" in capsys.readouterr().err
    assert not out.exists() or not any(out.rglob("*"))
    # an object the metadata cannot size is checked when it starts: refused, nothing written either
    monkeypatch.setenv("METADATA_URL", "http://127.0.0.1:9")  # not consulted: --output-layout id --index false
    assert (
        client_main.main(
            [
                "download",
                "--object-id",
                oid,
                "--output-dir",
                str(out),
                "--output-layout",
                "id",
                "--index",
                "false",
                "--json",
            ]
        )
        == 8
    )
    line = json.loads(capsys.readouterr().out.splitlines()[0])
    assert line["status"] == "failed" and line["error_code"] == "disk_space" and "needs 6.0 MiB" in line["error"]
    assert not (out / oid).exists()
    monkeypatch.undo()
    monkeypatch.setenv("ACCESSTOKEN", token)
    monkeypatch.setenv("STORAGE_URL", srv.url)
    assert client_main.main(["download", "--object-id", oid, "--output-dir", str(out), "--quiet"]) == 0
    assert md5_of(out / "big.bam") == md5_of(src)


def test_index_files_come_with_their_data_files(server_factory: Any, tmp_path: Path) -> None:
    srv = server_factory(SCORE_METADATA__KIND="registry")
    token = srv.token("score.READ", "score.WRITE")
    src = tmp_path / "src"
    src.mkdir()
    names = ["x.bam", "x.bam.bai", "y.cram", "y.crai", "z.vcf.gz", "notes.txt"]
    paths = [random_file(src / n, 3000 + i) for i, n in enumerate(names)]
    manifest = tmp_path / "manifest.txt"
    out = ok(
        run_client(
            ["submit", "--study-id", "IDX", "--files", *map(str, paths), "--manifest", str(manifest)],
            server=srv.url,
            token=token,
        )
    )
    analysis = out.split("submitted analysis ")[1].split()[0]
    ok(run_client(["upload", "--manifest", str(manifest)], server=srv.url, token=token))
    ok(run_client(["publish", "--study-id", "IDX", "--analysis-id", analysis], server=srv.url, token=token))
    ids = {Path(line.split("\t")[1]).name: line.split("\t")[0] for line in manifest.read_text().splitlines()[1:]}
    data = [ids["x.bam"], ids["y.cram"], ids["z.vcf.gz"]]
    r = run_client(
        ["download", "--object-id", *data, "--output-dir", str(tmp_path / "with")], server=srv.url, token=token
    )
    ok(r)
    got = sorted(p.name for p in (tmp_path / "with").iterdir() if p.is_file())
    assert got == ["x.bam", "x.bam.bai", "y.crai", "y.cram", "z.vcf.gz"]
    for name in got:
        assert md5_of(tmp_path / "with" / name) == md5_of(src / name)
    assert "no index file for z.vcf.gz" in r.stderr and "5 of 5 objects" in r.stdout
    # the same through an ICGC portal manifest, bundle layout
    portal = tmp_path / "portal.tsv"
    portal.write_text("\n".join([ICGC_HEADER, f"collab\tFI1\t{ids['y.cram']}\tCRAM\ty.cram\t1\tm\t\tD\tP\tS"]) + "\n")
    ok(
        run_client(
            ["download", "--manifest", str(portal), "--output-dir", str(tmp_path / "b"), "--output-layout", "bundle"],
            server=srv.url,
            token=token,
        )
    )
    assert sorted(p.name for p in (tmp_path / "b" / analysis).iterdir()) == ["y.crai", "y.cram"]
    # --index false: only what was asked for
    ok(
        run_client(
            ["download", "--object-id", ids["x.bam"], "--output-dir", str(tmp_path / "without"), "--index", "false"],
            server=srv.url,
            token=token,
        )
    )
    assert [p.name for p in (tmp_path / "without").iterdir()] == ["x.bam"]


def test_uploads_write_nothing_beside_the_data(server_factory: Any, tmp_path: Path) -> None:
    """Score needs CLIENT_UPLOADSTATEDIR for read-only data directories (its issue #302); our uploads
    keep their state on the server, so the data directory is only ever read, even across a resume."""
    srv = server_factory(SCORE_STORAGE__MIN_PART_SIZE_BYTES=str(MIB))
    token = srv.token("score.READ", "score.WRITE")
    data = tmp_path / "readonly"
    data.mkdir()
    src = random_file(data / "reads.bam", 3 * MIB)
    before = {p: p.stat().st_mtime_ns for p in data.rglob("*")}
    data.chmod(0o555)
    try:
        oid = "6a1d1d52-0b7e-5a50-9d1c-3d9a4bb1c002"
        ok(
            run_client(
                ["upload", "--object-id", oid, "--file", str(src)],
                server=srv.url,
                token=token,
                env={"CLIENT_UPLOADSTATEDIR": str(tmp_path / "ignored")},
            )
        )
        assert {p: p.stat().st_mtime_ns for p in data.rglob("*")} == before
        assert not (tmp_path / "ignored").exists()
        ok(
            run_client(
                ["download", "--object-id", oid, "--output-dir", str(tmp_path / "o"), "--index", "false"],
                server=srv.url,
                token=token,
            )
        )
        assert md5_of(tmp_path / "o" / oid) == md5_of(src)
    finally:
        data.chmod(0o755)
