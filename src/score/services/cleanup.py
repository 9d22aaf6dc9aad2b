"""The cleanup job: abort stale multipart uploads and delete their state (Score's nightly cron).

Run by ``score-server cleanup`` from cron or a Kubernetes CronJob; safe to run on several
replicas at once (every step tolerates a concurrent one).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import timedelta

from score.domain import ids
from score.domain.errors import NotFoundError
from score.services.context import ServiceContext
from score.services.state import UploadStateRepository


@dataclass
class CleanupReport:
    """What the job did (or, in a dry run, would do)."""

    aborted: list[str] = field(default_factory=list)  # "<key> <uploadId>"
    orphaned_state: list[str] = field(default_factory=list)  # state dirs without an open upload
    kept: int = 0  # open uploads younger than the cut-off


class CleanupService:
    """Aborts uploads older than a cut-off."""

    def __init__(self, ctx: ServiceContext) -> None:
        """Bind to the store in *ctx*."""
        self._ctx = ctx
        self._state = UploadStateRepository(ctx.store)

    async def run(self, older_than: timedelta, *, dry_run: bool = False) -> CleanupReport:
        """Abort every multipart upload started before now - *older_than*, with its state.

        State directories whose multipart upload no longer exists are removed once their
        ``.meta`` is older than the cut-off (younger ones may belong to a finalize in progress).
        """
        report = CleanupReport()
        cutoff = self._ctx.clock.now() - older_than
        open_ids: set[str] = set()
        for upload in await self._ctx.store.pending_uploads():
            open_ids.add(upload.upload_id)
            if upload.initiated >= cutoff:
                report.kept += 1
                continue
            report.aborted.append(f"{upload.key} {upload.upload_id}")
            if dry_run:
                continue
            await self._ctx.store.abort_multipart(upload.key, upload.upload_id)
            object_id = upload.key.rsplit("/", 1)[-1]
            if ids.is_object_id(object_id):
                with contextlib.suppress(NotFoundError):
                    await self._state.delete_upload(object_id, upload.upload_id)
        listing = await self._ctx.store.list(f"{ids.UPLOAD_DIR}/", delimiter="/")
        for prefix in listing.prefixes:
            name = prefix[len(ids.UPLOAD_DIR) + 1 :].rstrip("/")
            object_id, sep, upload_id = name.partition("_")
            if not sep or not ids.is_object_id(object_id) or upload_id in open_ids:
                continue
            meta = await self._ctx.store.head(ids.upload_meta_key(object_id, upload_id))
            if meta is not None and meta.last_modified >= cutoff:
                continue
            if f"{ids.object_key(object_id)} {upload_id}" in report.aborted:
                continue
            report.orphaned_state.append(prefix)
            if not dry_run:
                await self._state.delete_upload(object_id, upload_id)
        return report
