"""A real terminal for tests: a shell in a detached tmux session of a chosen size, typed into with
``send-keys`` and read with ``capture-pane``, as a person sees it (tmux is Debian's, from scripts/setup)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

PROMPT = "PROMPT$"


class Terminal:
    """``bash`` (no rc files, prompt ``PROMPT$``) in a *width* x *height* tmux pane of a server of its own."""

    def __init__(self, width: int, height: int, cwd: Path, env: dict[str, str]) -> None:
        """Start the session in *cwd* with *env* (the terminal's size is tmux's, never ``COLUMNS``)."""
        tmux = shutil.which("tmux")
        if tmux is None:
            raise RuntimeError("tmux is missing: run scripts/setup (scripts/test does)")
        self._tmux = [tmux, "-L", f"score-test-{uuid.uuid4().hex[:12]}", "-f", "/dev/null"]
        full = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES", "TMUX", "TMUX_PANE")}
        full.update(TERM=env.get("TERM") or "xterm-256color")
        shell = f"env PS1='{PROMPT} ' bash --norc --noprofile"  # tmux does not pass its own PS1 on
        self._run("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height), "-c", str(cwd), shell, env=full)
        self.width = width
        self.wait_for(lambda rows: rows[-1:] == [PROMPT], 10)

    def _run(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run([*self._tmux, *args], capture_output=True, text=True, env=env, timeout=10, check=True)
        return done.stdout

    def type(self, line: str) -> None:
        """Type *line* and Enter."""
        self._run("send-keys", "-t", "t", "-l", line)
        self._run("send-keys", "-t", "t", "Enter")

    def key(self, name: str) -> None:
        """Press a key by tmux's name for it (``C-c``)."""
        self._run("send-keys", "-t", "t", name)

    def clear(self) -> None:
        """An empty screen with the prompt on its first row, and no scrollback."""
        self.type("clear")
        self.wait_for(lambda rows: rows == [PROMPT], 10)
        self._run("clear-history", "-t", "t")

    def rows(self) -> list[str]:
        """The screen's rows as shown (a wrapped line is several rows), without the blank ones at the end."""
        rows = [r.rstrip() for r in self._run("capture-pane", "-p", "-t", "t").split("\n")]
        while rows and not rows[-1]:
            rows.pop()
        return rows

    def wait_for(self, ready: Callable[[list[str]], bool], timeout: float) -> list[str]:
        """The screen once *ready* holds for it; fails with the last screen after *timeout* s."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.rows()
            if ready(rows):
                return rows
            if time.monotonic() > deadline:
                raise AssertionError("the screen never got there:\n" + "\n".join(rows))
            time.sleep(0.05)

    def close(self) -> None:
        """Kill the tmux server (and the shell and whatever runs in it)."""
        subprocess.run([*self._tmux, "kill-server"], capture_output=True, timeout=10, check=False)


def shell_env(**extra: str) -> dict[str, str]:
    """This process's environment plus *extra*."""
    return {**os.environ, **extra}
