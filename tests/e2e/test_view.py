"""``score-client view`` on real BAM/CRAM files (Debian's samtools-test and htslib-test) served by a
live score-server: the records equal ``samtools view`` of a local copy, for every output format."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from score.cli import client_main
from score.formats import bgzf
from tests.e2e.conftest import Served, ok, publish
from tests.kit.bam import (
    HTSLIB_TEST,
    corrupt_copied_block,
    file_records,
    large_bam,
    require_test_data,
    samtools,
    samtools_records,
)
from tests.kit.proxy import FaultProxy
from tests.kit.servers import PYTHON, ServerProcess, free_port, run_client

pytestmark = pytest.mark.e2e
CE = HTSLIB_TEST / "ce.fa"


@pytest.fixture
def client_env(served: Served, monkeypatch: pytest.MonkeyPatch) -> Served:
    monkeypatch.setenv("ACCESSTOKEN", served.token)
    monkeypatch.setenv("STORAGE_URL", served.srv.url)
    return served


def _view(args: list[str]) -> int:
    return client_main.main(["view", "--quiet", *args])


def _reference(served: Served, name: str) -> Path:
    return served.src / "colons.fa" if name == "colons.bam" else CE


def _slice(served: Served, name: str, regions: list[str], fmt: str, out: Path, *extra: str) -> list[str]:
    reference = _reference(served, name)
    ref = ["--reference-file", str(reference)] if name.endswith(".cram") or fmt == "CRAM" else []
    query = ["--query", *regions] if regions else []
    rc = _view(
        ["--object-id", served.ids[name], *query, "--output-format", fmt, "--output-dir", str(out), *ref, *extra]
    )
    assert rc == 0
    written = [p for p in out.iterdir() if p.suffix == f".{fmt.lower()}"]
    assert len(written) == 1 and not [p for p in out.iterdir() if p.name.endswith(".part")]
    records = file_records(written[0], reference if fmt == "CRAM" else None, decode_md=False)
    shutil.rmtree(out)
    return records


CASES = [
    ("range.bam", ["CHROMOSOME_I:1,000-2,000"]),
    ("range.bam", ["CHROMOSOME_II"]),  # a whole contig
    ("range.bam", ["CHROMOSOME_III:1-2500", "CHROMOSOME_I:1000-1100", "CHROMOSOME_III:2000-3000"]),  # overlaps
    ("range.bam", ["CHROMOSOME_IV:2584-5000", "CHROMOSOME_II:1-1136"]),  # one base of a read; a contig's end
    ("range.bam", ["CHROMOSOME_V"]),  # no reads
    ("range.bam", ["CHROMOSOME_I:900000-1009800"]),  # no reads, at the far end of a long contig
    ("range.cram", ["CHROMOSOME_I:1000-2000"]),
    ("range.cram", ["CHROMOSOME_II:100-200", "CHROMOSOME_III"]),
    ("range.cram", ["CHROMOSOME_X"]),  # no reads
    ("mpileup.1.bam", ["17:100-1000", "17:1000-2000"]),  # adjacent: reads over 1000 come once
    ("colons.bam", ["{chr1:100}:1-500", "chr3:1-1000", "{chr1,chr3}"]),  # htslib's braces for names with ':'
    ("ce#unmap2.bam", ["CHROMOSOME_I", "*"]),  # placed reads, then the unplaced ones
    ("ce#unmap2.bam", ["*"]),
]


@pytest.mark.parametrize(("name", "regions"), CASES, ids=[f"{n}:{' '.join(r)}" for n, r in CASES])
def test_slices_equal_samtools_in_every_output_format(
    client_env: Served, tmp_path: Path, name: str, regions: list[str]
) -> None:
    local = client_env.src / name
    if name == "colons.bam":  # samtools 1.16's -M ignores braces: one region at a time (no overlaps here)
        expected = [line for region in regions for line in samtools_records(local, [region])]
    else:
        expected = samtools_records(local, regions, CE if name.endswith(".cram") else None)
    # mpileup.1.bam's reference in samtools-test is cut short (17:1-4200): no CRAM output for it
    for fmt in ("SAM", "BAM") if name == "mpileup.1.bam" else ("SAM", "BAM", "CRAM"):
        got = _slice(client_env, name, regions, fmt, tmp_path / fmt)
        assert got == expected, f"{fmt}: {len(got)} records, samtools {len(expected)}"
    # the cases with no reads are exactly those meant to have none
    assert (not expected) == (regions in (["CHROMOSOME_V"], ["CHROMOSOME_I:900000-1009800"], ["CHROMOSOME_X"]))


def test_contained_bed_header_and_index(client_env: Served, tmp_path: Path) -> None:
    import pysam

    oid = client_env.ids["range.bam"]
    # --contained: only reads wholly inside [1000, 2000]
    out = tmp_path / "c"
    assert (
        _view(["--object-id", oid, "--query", "CHROMOSOME_I:1000-2000", "--contained", "--output-dir", str(out)]) == 0
    )
    got = file_records(out / "range.CHROMOSOME_I_1000-2000.sam")
    every = samtools_records(client_env.src / "range.bam", ["CHROMOSOME_I:1000-2000"])
    with pysam.AlignmentFile(str(client_env.src / "range.bam")) as f:
        ends = [pysam.AlignedSegment.fromstring(line, f.header).reference_end for line in every]
    inside = [
        line for line, end in zip(every, ends, strict=False) if int(line.split("\t")[3]) >= 1000 and (end or 0) <= 2000
    ]
    assert got == inside and 0 < len(inside) < len(every)
    # a BED file (0-based, half-open) replaces --query and names the output
    bed = tmp_path / "genes.bed"
    bed.write_text("track name=x\nCHROMOSOME_I\t999\t2000\nCHROMOSOME_III\t0\t2500\n")
    out = tmp_path / "b"
    assert (
        _view(
            [
                "--object-id",
                oid,
                "--bed-query",
                str(bed),
                "--query",
                "CHROMOSOME_II",
                "--output-format",
                "BAM",
                "--output-index",
                "--output-dir",
                str(out),
            ]
        )
        == 0
    )
    bam = out / "range.genes.bam"
    assert file_records(bam) == samtools_records(
        client_env.src / "range.bam", ["CHROMOSOME_I:1000-2000", "CHROMOSOME_III:1-2500"]
    )
    assert (out / "range.genes.bam.bai").is_file()
    assert samtools("view", "-c", str(bam), "CHROMOSOME_III").strip() == "32"  # the index written works
    # headers: the original one as it is, or the source's with a @PG line of score-client
    original = samtools("view", "-H", "--no-PG", str(client_env.src / "range.bam"))
    out = tmp_path / "h"
    assert _view(["--object-id", oid, "--header-only", "--output-original-header", "--output-dir", str(out)]) == 0
    assert samtools("view", "-H", "--no-PG", str(out / "range.header.sam")) == original
    out = tmp_path / "p"
    assert _view(["--object-id", oid, "--query", "CHROMOSOME_II", "--output-dir", str(out)]) == 0
    header = samtools("view", "-H", "--no-PG", str(out / "range.CHROMOSOME_II.sam"))
    pg = [line for line in header.splitlines() if line.startswith("@PG") and "PN:score-client" in line]
    assert len(pg) == 1 and "CL:score-client" in pg[0] and "--query CHROMOSOME_II" in pg[0]
    assert header.splitlines()[: len(original.splitlines())] == original.splitlines()


def test_stdout_manifest_and_a_stale_index_in_the_working_directory(served: Served, tmp_path: Path) -> None:
    # htslib reuses a stale .bai of the same name in the current directory: ours runs elsewhere
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    shutil.copy(served.src / "mpileup.1.bam.bai", cwd / "range.bam.bai")
    shutil.copy(served.src / "mpileup.1.bam.bai", cwd / "range.bam")
    r = run_client(
        ["view", "--object-id", served.ids["range.bam"], "--query", "CHROMOSOME_I:1000-2000", "--stdout"],
        server=served.srv.url,
        token=served.token,
        cwd=cwd,
    )
    lines = ok(r).splitlines()
    assert [x for x in lines if not x.startswith("@")] == samtools_records(
        served.src / "range.bam", ["CHROMOSOME_I:1000-2000"]
    )
    assert len([x for x in lines if not x.startswith("@")]) == 14 and r.stderr == ""
    assert sorted(p.name for p in cwd.iterdir()) == ["range.bam", "range.bam.bai"]
    # a manifest: every BAM/CRAM sliced, other files skipped; one broken file fails the run, not the others
    manifest = tmp_path / "m.txt"
    rows = [served.ids[n] for n in ("range.bam", "range.cram", "notes.txt", "truncated.bam")]
    manifest.write_text("analysis\n" + "".join(f"{oid}\tfile\t{'0' * 32}\n" for oid in rows))  # Song's manifest
    out = tmp_path / "out"
    r = run_client(
        [
            "view",
            "--manifest",
            str(manifest),
            "--query",
            "CHROMOSOME_II",
            "--reference-file",
            str(CE),
            "--output-dir",
            str(out),
        ],
        server=served.srv.url,
        token=served.token,
    )
    assert r.returncode == 5 and "Traceback" not in r.stderr and "truncated.bam is truncated" in r.stderr
    assert "skipped" in r.stdout and served.ids["notes.txt"] in r.stdout
    # both are called range: the second one keeps its full file name
    assert sorted(p.name for p in out.iterdir()) == ["range.CHROMOSOME_II.sam", "range.cram.CHROMOSOME_II.sam"]
    assert file_records(out / "range.CHROMOSOME_II.sam") == samtools_records(
        served.src / "range.bam", ["CHROMOSOME_II"]
    )
    assert file_records(out / "range.cram.CHROMOSOME_II.sam") == samtools_records(
        served.src / "range.cram", ["CHROMOSOME_II"], CE
    )


ERRORS = [
    ("range.bam", ["--query", "chrZ:1-100"], 2, "unknown contig 'chrZ'"),
    ("range.bam", ["--query", "CHROMOSOME_I:2000-1000"], 2, "the end is before the start"),
    ("range.bam", ["--query", "CHROMOSOME_I:abc"], 2, "malformed region"),
    ("colons.bam", ["--query", "chr1:100-200"], 2, "ambiguous"),
    ("noindex.bam", ["--query", "CHROMOSOME_I"], 4, "no index (.bai/.crai) for noindex.bam"),
    ("noindex.bam", ["--query", "CHROMOSOME_I"], 4, "same analysis (or use --header-only for the header alone)"),
    ("range.cram", ["--query", "CHROMOSOME_I"], 2, "give its reference with --reference-file"),
    ("truncated.bam", ["--query", "CHROMOSOME_I"], 5, "truncated.bam is truncated"),
    ("notbam.bam", ["--query", "CHROMOSOME_I"], 2, "notbam.bam is not a readable BAM, CRAM or SAM file"),
    ("notes.txt", ["--query", "CHROMOSOME_I"], 2, "notes.txt is not a BAM, CRAM or SAM file (by its name)"),
    ("range.bam", ["--query", "CHROMOSOME_I", "--output-format", "CRAM"], 2, "CRAM output needs the reference"),
    ("range.bam", ["--query", "CHROMOSOME_I", "--output-index"], 2, "--output-index needs"),
]


@pytest.mark.parametrize(("name", "args", "code", "message"), ERRORS, ids=[m for *_, m in ERRORS])
def test_errors_have_a_message_and_an_exit_code(
    client_env: Served,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    args: list[str],
    code: int,
    message: str,
) -> None:
    out = tmp_path / "out"
    assert _view(["--object-id", client_env.ids[name], *args, "--output-dir", str(out)]) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())  # nothing partial is left behind
    if code != 5:  # refused before anything is written: not even the output directory is made
        assert not out.exists()


def test_a_region_past_the_contig_end_is_empty_and_an_unreadable_object_never_shows_its_url(
    served: Served, tmp_path: Path
) -> None:
    """New-user trial: ``--query chr:99999999-999999999`` (past the contig's end) said the BAM was "not readable"
    (SAM output), and ``--header-only`` of random bytes printed htslib's "Exec format error: '<the pre-signed
    URL, signature and all>'"."""
    for fmt in ("SAM", "BAM"):
        out = tmp_path / fmt
        args = ["view", "--object-id", served.ids["range.bam"], "--query", "CHROMOSOME_I:99999999-999999999"]
        r = run_client(
            [*args, "--output-format", fmt, "--output-dir", str(out)], server=served.srv.url, token=served.token
        )
        assert r.returncode == 0 and "0 records" in r.stdout, r.stderr
    noise = tmp_path / "src" / "noise.bam"
    noise.parent.mkdir()
    noise.write_bytes(os.urandom(3000))
    _, ids = publish(served.srv, served.srv.token("score.READ", "score.WRITE"), [noise], tmp_path, "NOISE")
    r = run_client(
        ["view", "--object-id", ids["noise.bam"], "--header-only", "--stdout"],
        server=served.srv.url,
        token=served.token,
    )
    assert r.returncode == 2 and "noise.bam is not a readable BAM, CRAM or SAM file" in r.stderr, r.stderr
    assert "?" not in r.stderr and "signature" not in r.stderr.lower() and "Traceback" not in r.stderr


def test_header_only_needs_no_index_and_errors_from_the_command_line(served: Served, tmp_path: Path) -> None:
    r = run_client(
        ["view", "--object-id", served.ids["noindex.bam"], "--header-only", "--stdout"],
        server=served.srv.url,
        token=served.token,
    )
    assert ok(r).startswith("@HD") and all(x.startswith("@") for x in r.stdout.splitlines())
    r = run_client(
        ["view", "--object-id", served.ids["range.bam"], "--query", "nope", "--stdout"],
        server=served.srv.url,
        token=served.token,
    )
    assert r.returncode == 2 and "unknown contig 'nope'" in r.stderr and r.stdout == ""
    r = run_client(
        ["view", "--object-id", served.ids["range.bam"], "--input-file", "x.bam"],
        server=served.srv.url,
        token=served.token,
    )
    assert r.returncode == 2 and "exactly one of" in r.stderr
    r = run_client(
        ["view", "--object-id", served.ids["range.bam"], "--query", "CHROMOSOME_I"], server=served.srv.url, token=""
    )
    assert r.returncode == 3 and "Traceback" not in r.stderr


def test_local_files_with_and_without_an_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_test_data()
    shutil.copy(HTSLIB_TEST / "range.cram", tmp_path / "range.cram")
    out = tmp_path / "out"
    assert (
        _view(
            [
                "--input-file",
                str(tmp_path / "range.cram"),
                "--query",
                "CHROMOSOME_I",
                "--reference-file",
                str(CE),
                "--output-dir",
                str(out),
            ]
        )
        == 2
    )
    assert (
        "range.cram has no index (.bai/.crai), so regions cannot be read; index it (samtools index) (or use "
        "--header-only for the header alone)" in capsys.readouterr().err
    )
    assert (
        _view(
            [
                "--input-file",
                str(tmp_path / "range.cram"),
                "--input-file-index",
                str(HTSLIB_TEST / "range.cram.crai"),
                "--query",
                "CHROMOSOME_I",
                "--reference-file",
                str(CE),
                "--output-dir",
                str(out),
                "--output-format",
                "BAM",
            ]
        )
        == 0
    )
    assert file_records(out / "range.CHROMOSOME_I.bam") == samtools_records(
        HTSLIB_TEST / "range.cram", ["CHROMOSOME_I"], CE
    )


@pytest.mark.slow
def test_a_small_region_of_a_large_bam_transfers_a_small_fraction(tmp_path: Path, server_factory: Any) -> None:
    require_test_data()
    bam = large_bam(tmp_path / "large.bam", 48 * 1024 * 1024)
    port = free_port()
    proxy = FaultProxy(port, stream_gets=True).start()
    try:
        srv = server_factory(port=port, SCORE_METADATA__KIND="registry", SCORE_PUBLIC_URL=proxy.url)
        token = srv.token("score.READ", "score.WRITE")
        _, ids = publish(srv, token, [bam, Path(str(bam) + ".bai")], tmp_path, study="BIG")
        r = run_client(
            [
                "view",
                "--object-id",
                ids["large.bam"],
                "--query",
                "chr1:20,000,000-20,010,000",
                "--output-dir",
                str(tmp_path / "out"),
                "--output-format",
                "BAM",
            ],
            server=srv.url,
            token=token,
        )
        ok(r)
        got = file_records(tmp_path / "out" / "large.chr1_20,000,000-20,010,000.bam")
        assert got == samtools_records(bam, ["chr1:20000000-20010000"]) and len(got) > 10
        sent = proxy.store_get_bytes[f"/_store/data/{ids['large.bam']}"]
        assert 0 < sent < bam.stat().st_size // 20, f"{sent} of {bam.stat().st_size} bytes crossed"
        # a large region: whole blocks copied from the store, edges re-packed; about the bytes samtools reads
        r = run_client(
            [
                "view",
                "--object-id",
                ids["large.bam"],
                "--query",
                "chr1:10,000,000-25,000,000",
                "--output-dir",
                str(tmp_path / "big"),
                "--output-format",
                "BAM",
            ],
            server=srv.url,
            token=token,
        )
        ok(r)
        assert "whole blocks copied" in r.stdout
        got = file_records(tmp_path / "big" / "large.chr1_10,000,000-25,000,000.bam")
        assert got == samtools_records(bam, ["chr1:10000000-25000000"])
        moved = proxy.store_get_bytes[f"/_store/data/{ids['large.bam']}"] - sent
        output = (tmp_path / "big" / "large.chr1_10,000,000-25,000,000.bam").stat().st_size
        assert output * 0.9 < moved < output * 1.1 + 2 * 1024 * 1024, (moved, output)
    finally:
        proxy.stop()


@pytest.mark.parametrize("fmt", ["BAM", "CRAM", "SAM"])
def test_slices_around_the_small_slice_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    """A small slice is written on the calling thread, a larger one on htslib's pool after the records read
    ahead: the same records either way, the read-ahead ones written once and first."""
    from score.slicing import viewer

    require_test_data()
    bam = HTSLIB_TEST / "range.bam"
    expected = samtools_records(bam, ["CHROMOSOME_I"])
    assert len(expected) > 3
    ref = ["--reference-file", str(CE)] if fmt == "CRAM" else []
    for threshold in (1, len(expected) - 1, len(expected), len(expected) + 1):
        monkeypatch.setattr(viewer, "SMALL_SLICE", threshold)
        out = tmp_path / f"out-{threshold}"
        assert (
            _view(
                [
                    "--input-file",
                    str(bam),
                    "--query",
                    "CHROMOSOME_I",
                    "--output-format",
                    fmt,
                    "--output-dir",
                    str(out),
                    *ref,
                ]
            )
            == 0
        )
        written = out / f"range.CHROMOSOME_I.{fmt.lower()}"
        assert file_records(written, CE if fmt == "CRAM" else None, decode_md=False) == expected, threshold


REGION = ("chr1:10,000,001-30,000,000", 0, 10_000_000, 30_000_000)  # whole blocks copied between its edges
HOW = ("deflate", "crc32", "isize")


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A generated BAM published as it is, and three copies of it whose stored bytes (in the store's data
    directory, after upload) have one block that the region's slice copies whole damaged."""
    require_test_data()
    src = tmp_path_factory.mktemp("damaged")
    good = large_bam(src / "good.bam", 12 * 1024 * 1024)
    for how in HOW:
        shutil.copy(good, src / f"{how}.bam")
        shutil.copy(f"{good}.bai", src / f"{how}.bam.bai")
    data = tmp_path_factory.mktemp("damaged-data")
    srv = ServerProcess(data, free_port(), env={"SCORE_METADATA__KIND": "registry"})
    srv.start()
    try:
        token = srv.token("score.READ", "score.WRITE")
        analysis, ids = publish(srv, token, sorted(src.glob("*.bam*")), src, study="DAMAGED")
        for how in HOW:
            size = good.stat().st_size
            stored = [p for p in data.rglob(ids[f"{how}.bam"]) if p.is_file() and p.stat().st_size == size]
            assert len(stored) == 1, stored
            stored[0].write_bytes(corrupt_copied_block(good, how, *REGION[1:])[0])
        yield Served(srv, token, ids, src, analysis)
    finally:
        srv.stop()


def _client_bytes(served: Served, args: list[str]) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "STORAGE_URL": served.srv.url, "ACCESSTOKEN": served.token}
    return subprocess.run([PYTHON, "-m", "score.cli.client_main", *args], capture_output=True, env=env, timeout=120)


@pytest.mark.parametrize("how", HOW)
def test_a_block_damaged_at_rest_fails_the_view_with_exit_5(damaged: Served, tmp_path: Path, how: str) -> None:
    """Issue 20, defect 6: a copied block is inflated and checked against its CRC32 and ISIZE; a damaged
    one fails the view (exit 5, what and where), and nothing complete-looking is left: no output file, and
    on standard output no BGZF end-of-file block."""
    good = damaged.src / "good.bam"
    bad, offset = corrupt_copied_block(good, how, *REGION[1:])
    frame = bgzf.block_frame(bad, offset)
    assert frame is not None
    damaged_block = bad[offset : offset + frame[1]]
    oid = damaged.ids[f"{how}.bam"]
    out = tmp_path / "out"
    r = run_client(
        ["view", "--object-id", oid, "--query", REGION[0], "--output-format", "BAM", "--output-dir", str(out)],
        server=damaged.srv.url,
        token=damaged.token,
    )
    assert r.returncode == 5, r.stderr
    assert f"{how}.bam: the BGZF block at byte {offset} is corrupt" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists() or not any(out.iterdir())
    piped = _client_bytes(damaged, ["view", "--object-id", oid, "--query", REGION[0], "--output-format", "BAM"])
    assert piped.returncode == 5 and b"is corrupt" in piped.stderr
    assert damaged_block not in piped.stdout and not piped.stdout.endswith(bgzf.EOF_BLOCK)
    # the same region of the undamaged object is copied whole, as samtools reads it
    r = run_client(
        [
            "view",
            "--object-id",
            damaged.ids["good.bam"],
            "--query",
            REGION[0],
            "--output-format",
            "BAM",
            "--output-dir",
            str(tmp_path / "good"),
        ],
        server=damaged.srv.url,
        token=damaged.token,
    )
    assert "whole blocks copied" in ok(r)
    assert file_records(next((tmp_path / "good").glob("*.bam"))) == samtools_records(good, [REGION[0]])


@pytest.mark.parametrize("fmt", ["BAM", "SAM"])
def test_a_closed_output_pipe_ends_quietly_with_exit_0(damaged: Served, fmt: str) -> None:
    """Issue 20, defect 6: ``view ... | head -c 100`` ends with 0 and says nothing (BAM: copied blocks on
    Python's stdout; SAM: records written by htslib), as a pipeline with samtools does."""
    env = {**os.environ, "STORAGE_URL": damaged.srv.url, "ACCESSTOKEN": damaged.token}
    with subprocess.Popen(
        [
            PYTHON,
            "-m",
            "score.cli.client_main",
            "view",
            "--object-id",
            damaged.ids["good.bam"],
            "--query",
            REGION[0],
            "--output-format",
            fmt,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    ) as view:
        assert view.stdout is not None and view.stderr is not None
        head = subprocess.run(["head", "-c", "100"], stdin=view.stdout, capture_output=True, timeout=120)
        view.stdout.close()
        err = view.stderr.read()
        assert view.wait(timeout=120) == 0 and err == b"", err
    assert head.returncode == 0 and len(head.stdout) == 100
