"""Check copied BGZF blocks on their way to the output.

A slice copies most of its blocks without decoding them (``bamslice``), so nothing else would notice a
block damaged at rest. Each block is inflated and compared with its CRC32 and ISIZE, as htslib does when
it reads one; ISA-L's inflate (``isal``, twice zlib's speed here) does the work on worker threads, which it
runs without the GIL, while the caller goes on fetching. Bytes reach the output only in whole batches of
blocks that checked, in order, so a corrupt block never does.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Protocol, Self, cast

from score.domain import errors as e
from score.formats import bgzf

BATCH_BYTES = 1024 * 1024  # compressed bytes handed to a worker at a time
AHEAD = 8  # batches checked or being checked ahead of the output: the memory bound is AHEAD * BATCH_BYTES


class Sink(Protocol):
    """Where bytes go: an open binary file, standard output, or a :class:`CheckedWriter`."""

    def write(self, data: bytes | bytearray | memoryview, /) -> object:
        """Write all of *data*."""


def check_blocks(batch: bgzf.Buf, offset: int) -> None:
    """Inflate each block of *batch* (whole blocks, from file offset *offset*) and compare it with its
    CRC32 and ISIZE.

    Raises:
        IntegrityError: a block is not BGZF, does not inflate, or does not match its CRC32 or ISIZE.
    """
    from isal import isal_zlib  # the view extra's: imported here, so that the rest of the client runs without it

    inflate_error = cast("type[Exception]", isal_zlib.error)  # the stub declares it as an instance
    view = memoryview(batch)
    pos = 0
    while pos < len(view):
        frame = _frame(view, pos, offset)
        if frame is None or pos + frame[1] > len(view):
            raise e.IntegrityError(f"the copied bytes end inside the BGZF block at byte {offset + pos}")
        start, size = frame
        crc, isize = bgzf.FOOTER.unpack_from(view, pos + size - 8)
        if isize > bgzf.MAX_BLOCK:
            raise bgzf.corrupt(offset + pos)
        try:
            data = isal_zlib.decompress(view[start : pos + size - 8], -15, max(isize, 1))
        except inflate_error:
            raise bgzf.corrupt(offset + pos) from None
        if len(data) != isize or isal_zlib.crc32(data) != crc:
            raise bgzf.corrupt(offset + pos)
        pos += size


def _frame(buf: bgzf.Buf, pos: int, offset: int) -> tuple[int, int] | None:
    """:func:`bgzf.block_frame`, where something that is not a block header is damage, not a wrong format."""
    try:
        return bgzf.block_frame(buf, pos)
    except e.InvalidRequestError:
        raise e.IntegrityError(
            f"the copied bytes at byte {offset + pos} are not a BGZF block (the object is damaged)"
        ) from None


def _checked(batch: bytearray, offset: int) -> bytearray:
    check_blocks(batch, offset)
    return batch


class CheckedWriter:
    """A sink for the bytes of whole BGZF blocks from file offset *offset* on: it cuts them into blocks,
    has batches of them checked on worker threads, and writes each batch to *out*, in order, once it checked.

    Use it as a context manager: leaving it normally writes what is left (and raises if the bytes ended
    inside a block); leaving it on an error drops what was not written.
    """

    def __init__(self, out: Sink, offset: int, workers: int | None = None) -> None:
        self._out = out
        self._offset = offset  # file offset of self._pending[0]
        self._pending = bytearray()  # bytes not handed to a worker yet
        self._whole = 0  # how many bytes at the start of self._pending are whole blocks
        self._ahead: deque[Future[bytearray]] = deque()
        self._pool = ThreadPoolExecutor(workers or _workers(), thread_name_prefix="bgzf-check")

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        """Take *data* (copied: the caller may reuse its buffer); write the batches that checked.

        Raises:
            IntegrityError: a block did not check.
            OSError: writing to the output failed.
        """
        self._pending += data
        while (frame := _frame(self._pending, self._whole, self._offset + self._whole)) is not None:
            if self._whole + frame[1] > len(self._pending):
                break
            self._whole += frame[1]
            if self._whole >= BATCH_BYTES:
                self._submit()
        self._drain(AHEAD)
        return len(data)

    def _submit(self) -> None:
        batch = self._pending[: self._whole]
        del self._pending[: self._whole]
        self._ahead.append(self._pool.submit(_checked, batch, self._offset))
        self._offset += self._whole
        self._whole = 0

    def _drain(self, keep: int) -> None:
        """Write checked batches, in order: all that are done, and more until at most *keep* are left."""
        while self._ahead and (len(self._ahead) > keep or self._ahead[0].done()):
            self._out.write(self._ahead.popleft().result())

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if kind is None:
                if self._whole:
                    self._submit()
                if self._pending:
                    raise e.IntegrityError(f"the copied bytes end inside the BGZF block at byte {self._offset}")
                self._drain(0)
        finally:
            for future in self._ahead:
                future.cancel()
            self._pool.shutdown(wait=True, cancel_futures=True)


def _workers() -> int:
    """Two threads at least (one checks while the other's batch is written), four at most."""
    return max(2, min(4, os.cpu_count() or 1))
