"""Structured JSON logs to stderr, with secrets kept out, one whole line per write.

Tokens appear only as short hashes; URLs lose their query strings (where signatures live). Each line is written
with one ``write(2)`` (:class:`LineHandler`), so the lines of the workers of ``serve --workers N``, which share
stderr, never interleave.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from json.encoder import encode_basestring_ascii as _quote
from pathlib import Path

from score.domain.redaction import redact

_second = (-1, "")  # the last whole second rendered, and its text (shared by every line of that second)


def iso_ms(created: float) -> str:
    """``datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")``, the same text at a
    fraction of the cost (the date and time of a second are rendered once for all its lines).
    """
    global _second  # noqa: PLW0603  a cache of one entry, replaced whole (no lock needed)
    whole = int(created // 1)
    micros = round((created - whole) * 1e6)  # as datetime does: half to even
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    cached = _second
    if cached[0] != whole:
        cached = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
        _second = cached
    return f"{cached[1]}.{micros // 1000:03d}+00:00"


def json_text(value: object) -> str:
    """``json.dumps(value)`` for one value: strings through the C escaper, ``None`` as ``null``."""
    if isinstance(value, str):
        return _quote(value)
    return "null" if value is None else json.dumps(value, default=str)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; extra fields passed via ``extra={"fields": {...}}``.

    A line without fields or exception (an audit line among them) is written without building a dict:
    the same text as ``json.dumps`` of it.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Render *record* as redacted JSON."""
        fields = getattr(record, "fields", None)
        if fields is None and not record.exc_info:
            return (
                f'{{"ts": "{iso_ms(record.created)}", "level": {json_text(record.levelname)}, '
                f'"logger": {json_text(record.name)}, "msg": {_quote(redact(record.getMessage()))}}}'
            )
        out: dict[str, object] = {
            "ts": iso_ms(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        if isinstance(fields, dict):
            out.update({k: redact(v) if isinstance(v, str) else v for k, v in fields.items()})
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, default=str)


class LineHandler(logging.Handler):
    """Writes each record as one line, its newline included, with a single ``write(2)`` on a file descriptor.

    Processes that share an output (the workers of one server on its stderr, or appending to one audit file)
    then never mix their lines: the kernel keeps one write whole on a pipe up to ``PIPE_BUF`` bytes (4096 on
    Linux; log and audit lines are a few hundred, a traceback may be longer), on a file opened with ``O_APPEND``,
    and on a regular file whose offset the processes share. A buffered text stream promises none of this.
    """

    def __init__(self, fd: int, *, owned: bool = False) -> None:
        """Write to *fd*; close it with the handler when *owned*."""
        super().__init__()
        self._fd = fd
        self._owned = owned

    @classmethod
    def appending(cls, path: Path) -> LineHandler:
        """A handler that appends to *path* (created if missing), opened ``O_APPEND`` by this process.

        Raises:
            OSError: *path* cannot be opened for writing.
        """
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        return cls(os.open(path, flags, 0o666), owned=True)  # the umask decides, as for open(path, "a")

    def emit(self, record: logging.LogRecord) -> None:
        """Write *record* formatted, in one call (the rest again only if the kernel took part of it)."""
        try:
            data = memoryview((self.format(record) + "\n").encode("utf-8", "backslashreplace"))
            while data:
                data = data[os.write(self._fd, data) :]
        except Exception:  # noqa: BLE001  logging's own policy: a failed write must not fail the request
            self.handleError(record)

    def close(self) -> None:
        """Close the file descriptor if the handler opened it."""
        if self._owned and self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        super().close()


def configure_server_logging(level: str) -> None:
    """Install the JSON formatter on the root logger (called by the server entry point only)."""
    # What the JSON lines never show is not gathered for each record either (the logging HOWTO's
    # "Optimization": the caller's file and line, thread, process and multiprocessing names).
    logging._srcfile = None  # noqa: SLF001  the documented switch
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    sys.stderr.flush()  # what was written before stays before: from now on lines go straight to the descriptor
    handler = LineHandler(sys.stderr.fileno())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # uvicorn's access log prints full URLs, signatures included: we log requests ourselves.
    logging.getLogger("uvicorn.access").disabled = True
