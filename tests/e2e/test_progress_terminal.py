"""The progress line as a person sees it: score-client in a real terminal (tmux) at 80 and 200 columns,
against a live score-server behind a proxy that slows the store so each transfer lasts a few seconds.
During a transfer the screen shows one line with the speed and ETA; after it, the summary once and the
prompt on its own line; after Ctrl-C and after a failure, the message on its own line under the line as
it stopped, never "100.0% 0 B/0 B" (issue 24)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.kit.files import MIB, random_file
from tests.kit.proxy import FaultProxy
from tests.kit.servers import PYTHON, ServerProcess, free_port
from tests.kit.terminal import PROMPT, Terminal, shell_env

pytestmark = pytest.mark.e2e
SIZE = 16 * MIB + 12345  # 17 parts of 1 MiB, two at a time, each store request held 0.3 s: about 3 s
BAR = re.compile(r"\d+\.\d% .*/s (ETA \S+|in \S+|stopped after \S+)")


@dataclass
class Setup:
    srv: ServerProcess
    proxy: FaultProxy
    work: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    work = tmp_path_factory.mktemp("tty")
    port = free_port()
    proxy = FaultProxy(port, store_delay=0.3).start()
    srv = ServerProcess(
        work / "data", port, env={"SCORE_PUBLIC_URL": proxy.url, "SCORE_STORAGE__MIN_PART_SIZE_BYTES": str(MIB)}
    ).start()
    bin_dir = work / "bin"
    bin_dir.mkdir()
    sc = bin_dir / "sc"  # a short command, so that what is typed fits one row at 80 columns
    sc.write_text(f'#!/bin/sh\nexec "{PYTHON}" -m score.cli.client_main "$@" --parallel 2\n')
    sc.chmod(0o755)
    env = shell_env(
        STORAGE_URL=srv.url,
        ACCESSTOKEN=srv.token("score.READ", "score.WRITE"),
        PATH=f"{bin_dir}:{shell_env()['PATH']}",
        XDG_CONFIG_HOME=str(work / "home"),
    )
    yield Setup(srv, proxy, work, env)
    srv.stop()
    proxy.stop()


def bars(rows: list[str]) -> list[str]:
    return [r for r in rows if BAR.search(r)]


def during(term: Terminal) -> list[str]:
    """The screen once the line shows a speed and an ETA: one row, within the width."""
    rows = term.wait_for(lambda rows: any(re.search(r"[1-9][0-9.]* \S+/s ETA \d", r) for r in rows), 30)
    shown = bars(rows)
    assert len(shown) == 1 and len(shown[0]) < term.width, rows
    assert rows[-1] == shown[0], rows  # nothing wrapped under it
    assert "…" in shown[0] or "big.bin" in shown[0], rows  # the id is shortened
    return rows


def after(term: Terminal, timeout: float = 60) -> list[str]:
    """The screen once the prompt is back: on a row of its own, at its start."""
    rows = term.wait_for(lambda rows: rows[-1:] == [PROMPT], timeout)
    assert not any(PROMPT in r for r in rows[1:-1]), rows  # no prompt glued to a line
    return rows


@pytest.mark.parametrize("width", [80, 200])
def test_progress_line_in_a_real_terminal(setup: Setup, width: int, tmp_path: Path) -> None:
    term = Terminal(width, 30, tmp_path, setup.env)
    try:
        oid = str(uuid.uuid4())
        random_file(tmp_path / "big.bin", SIZE)
        term.clear()
        term.type(f"sc upload --object-id {oid} --file big.bin")
        rows = during(term)
        print(f"--- {width} columns, during an upload ---\n" + "\n".join(rows))
        line = rows[-1]
        assert f"upload {oid[:8]}…: " in line and oid not in line, line
        rows = after(term)
        print(f"--- {width} columns, after the upload ---\n" + "\n".join(rows))
        final = bars(rows)
        assert len(final) == 1 and re.search(r"100\.0% 16\.0 MiB/16\.0 MiB .*/s in \d+s$", final[0]), rows
        assert f"uploaded {oid}: {SIZE} bytes" in "".join(rows[rows.index(final[0]) + 1 :]), rows

        term.clear()
        term.type(f"sc download --object-id {oid} --output-dir out")
        during(term)
        rows = after(term)
        final = bars(rows)
        assert len(final) == 1 and re.search(r"100\.0% 16\.0 MiB/16\.0 MiB .*/s in \d+s$", final[0]), rows
        assert rows[rows.index(final[0]) + 1].startswith(f"downloaded {oid} -> "), rows
        assert (tmp_path / "out" / oid).stat().st_size == SIZE

        term.clear()
        term.type(f"sc download --object-id {oid} --output-dir cut")
        during(term)
        term.key("C-c")
        rows = after(term)
        print(f"--- {width} columns, after Ctrl-C ---\n" + "\n".join(rows))
        final = bars(rows)
        assert len(final) == 1 and "stopped after" in final[0] and "^C" not in final[0], rows
        assert "100.0%" not in final[0] and "0 B/0 B" not in final[0], rows
        message = rows[rows.index(final[0]) + 1]
        assert message.startswith("score-client: ") and "interrupted" in message, rows

        term.clear()
        term.type(f"sc download --object-id {oid} --output-dir cut")  # resumed: the parts kept count as done
        rows = after(term)
        final = bars(rows)
        assert len(final) == 1 and re.search(r"100\.0% 16\.0 MiB/16\.0 MiB .*/s in \d+s$", final[0]), rows
        assert re.search(r"fetched, [1-9]\d* resumed", "".join(rows)), rows

        term.clear()
        term.type(f"sc download --object-id {oid} --output-dir failed")
        during(term)
        setup.proxy.corrupt_gets = setup.proxy.corrupted_gets + 10_000  # every body from now on is damaged
        try:
            rows = after(term)
        finally:
            setup.proxy.corrupt_gets = setup.proxy.corrupted_gets
        final = bars(rows)
        assert len(final) == 1 and "stopped after" in final[0], rows
        assert "100.0%" not in final[0] and "0 B/0 B" not in final[0], rows
        assert rows[rows.index(final[0]) + 1].startswith("score-client: "), rows
        print(f"--- {width} columns, after the failure ---\n" + "\n".join(rows))
    finally:
        term.close()


def test_ctrl_c_of_a_command_with_force_says_to_re_run_it_without(setup: Setup, tmp_path: Path) -> None:
    """Outside-in trial, issue 24: Ctrl-C of a command given --force said to re-run the same command, which
    starts over; it is to be re-run without --force, and that resumes."""
    term = Terminal(80, 30, tmp_path, setup.env)
    try:
        oid = str(uuid.uuid4())
        random_file(tmp_path / "big.bin", SIZE)
        term.clear()
        term.type(f"O={oid}")
        term.clear()
        term.type("sc upload --object-id $O --file big.bin --force")
        during(term)
        term.key("C-c")
        rows = after(term)
        print("--- 80 columns, after Ctrl-C of --force ---\n" + "\n".join(rows))
        final = bars(rows)
        assert len(final) == 1 and "stopped after" in final[0], rows
        message = "".join(rows[rows.index(final[0]) + 1 : -1])  # its own rows, wrapped at 80 columns
        assert message == (
            "score-client: error: interrupted; re-run the command without --force to resume (with --force it starts "
            "over)"
        ), rows
        term.clear()
        term.type("sc upload --object-id $O --file big.bin >up.log")  # without --force: it resumes
        after(term)
        log = (tmp_path / "up.log").read_text()
        sent = re.search(rf"uploaded {oid}: {SIZE} bytes, .*, \d+ of 17 parts sent, (\d+) already on the server", log)
        assert sent and int(sent[1]) > 0, log
    finally:
        term.close()


def test_a_batch_line_fits_the_terminal_with_stdout_redirected(setup: Setup, tmp_path: Path) -> None:
    """Outside-in trial, issue 24: with stdout redirected the line took standard output's width (none there:
    120 columns), so a batch's line with its files in flight wrapped on an 80-column terminal."""
    term = Terminal(80, 30, tmp_path, setup.env)
    try:
        ids = [str(uuid.uuid4()), str(uuid.uuid4())]
        random_file(tmp_path / "big.bin", SIZE)
        term.clear()
        term.type(f"O={ids[0]} P={ids[1]}")
        for name in ("O", "P"):
            term.clear()
            term.type(f"sc upload --object-id ${name} --file big.bin >up.log")
            after(term)
        term.clear()
        term.type("sc download --object-id $O $P --output-dir out --output-layout id --index false >down.log")
        rows = during(term)  # one row within the width, with the files in flight as far as they fit
        print("--- 80 columns, stdout redirected, during a batch ---\n" + "\n".join(rows))
        after(term)
        log = (tmp_path / "down.log").read_text()
        assert all(f"downloaded {oid}" in log for oid in ids), log
    finally:
        term.close()
