"""The cleanup job on the memory store with a fixed clock: uploads older than the cut-off are aborted with their
state, younger ones kept; a dry run changes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import anyio

from score.services.cleanup import CleanupService
from score.services.upload import UploadService
from tests.unit.services.conftest import WRITER, World

TOKEN = "c" * 64


def test_stale_uploads_are_aborted_and_young_ones_kept(world: World) -> None:
    uploads = UploadService(world.ctx)
    old, young = str(uuid.uuid4()), str(uuid.uuid4())
    anyio.run(uploads.initiate, WRITER, old, 10, None, False, TOKEN)
    world.clock.advance(days=2)
    anyio.run(uploads.initiate, WRITER, young, 10, None, False, TOKEN)
    world.clock.advance(hours=1)
    cleanup = CleanupService(world.ctx)

    dry = anyio.run(lambda: cleanup.run(timedelta(days=1), dry_run=True))
    assert [a.split()[0] for a in dry.aborted] == [f"data/{old}"] and dry.kept == 1
    assert len(anyio.run(world.store.pending_uploads)) == 2

    report = anyio.run(cleanup.run, timedelta(days=1))
    assert [a.split()[0] for a in report.aborted] == [f"data/{old}"] and report.kept == 1
    assert [u.key for u in anyio.run(world.store.pending_uploads)] == [f"data/{young}"]
    assert anyio.run(world.store.list, f"upload/{old}_").keys == []  # its state went too
