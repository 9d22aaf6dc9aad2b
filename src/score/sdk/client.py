"""``score.Client``: Score from Python, configured exactly as ``score-client`` is.

The same settings (flags become keyword arguments; then ``ACCESSTOKEN``/``SCORE_*`` and Score 5.x's environment
names, then the config file and its profiles), the same token renewal, retries, resume and MD5 checks: the
command line builds its transfers through this class, so there is one implementation.

    >>> from score import Client
    >>> with Client("https://score.example.org") as score:          # doctest: +SKIP
    ...     score.download("5b7a1c9e-...", "data/")
    ...     with score.open("5b7a1c9e-...") as f:                      # seekable, read in place
    ...         header = f.read(65536)
"""

from __future__ import annotations

import io
import shutil
import tempfile
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from score.domain import ids
from score.sdk.config import ClientSettings, load_client_settings
from score.sdk.session import Session

if TYPE_CHECKING:
    from score.client.http.metadata_api import MetadataApi
    from score.client.http.server_api import ServerApi
    from score.client.transfer.data_plane import DataPlane
    from score.client.transfer.download import Downloader, DownloadResult
    from score.client.transfer.progress import Board
    from score.client.transfer.upload import Uploader, UploadResult
    from score.sdk.reader import ObjectStat, Reader
    from score.slicing.viewer import ViewResult

__all__ = ["Client"]


class Client:
    """One server's objects: download, upload, read in place, URLs, slices. Thread-safe for reads;
    :meth:`close` (or ``with``) releases its connections.
    """

    def __init__(
        self,
        server_url: str | None = None,
        *,
        token: str | None = None,
        profile: str | None = None,
        config_file: Path | str | None = None,
        metadata_url: str | None = None,
        parallel: int | None = None,
        memory_mib: int | None = None,
        ca_bundle: Path | str | None = None,
        settings: ClientSettings | None = None,
        session: Session | None = None,
    ) -> None:
        """Resolve the settings as ``score-client`` does: arguments (None = not given) over the environment
        over the config file's profile. *settings* (already resolved) replaces all of that; *session* (the
        command line's, built from them) is used instead of a new one.

        Raises:
            ConfigError: an unreadable config file, an unknown profile or invalid values.
        """
        if settings is None:
            settings = load_client_settings(
                config=Path(config_file) if config_file else None,
                server_url=server_url,
                parallel=parallel,
                memory_mib=memory_mib,
                metadata_url=metadata_url,
                profile=profile,
                ca_bundle=Path(ca_bundle) if ca_bundle else None,
            )
        if token is not None:
            settings = replace(settings, token=token)
        self.settings = settings
        self.session = session or Session(settings)
        self._closing: list[ServerApi | DataPlane | MetadataApi | Reader] = []

    @classmethod
    def from_session(cls, session: Session) -> Client:
        """A client over an existing session (the command line's)."""
        return cls(settings=session.settings, session=session)

    @cached_property
    def api(self) -> ServerApi:
        """The Score API client (token attached, retries)."""
        api = self.session.server()
        self._closing.append(api)
        return api

    @cached_property
    def data_plane(self) -> DataPlane:
        """Transfers over pre-signed URLs."""
        data = self.session.data_plane()
        self._closing.append(data)
        return data

    @cached_property
    def reader(self) -> Reader:
        """The shared block cache and URL renewal behind :meth:`open` and :meth:`read_range`."""
        from score.sdk.reader import Reader

        reader = Reader(self.api, self.data_plane, workers=max(self.settings.parallel, 2) * 2)
        self._closing.append(reader)
        return reader

    def downloader(self, *, board: Board | None = None, fsync: bool = False) -> Downloader:
        """A downloader with these settings (the caller closes it)."""
        from score.client.transfer.download import Downloader

        return Downloader(self.api, self.data_plane, parallel=self.settings.parallel, board=board, fsync=fsync)

    def uploader(
        self, *, board: Board | None = None, parallel: int | None = None, memory_bytes: int | None = None
    ) -> Uploader:
        """An uploader with these settings (or *parallel* / *memory_bytes* instead)."""
        from score.client.transfer.upload import Uploader

        return Uploader(
            self.api,
            self.data_plane,
            parallel=parallel or self.settings.parallel,
            memory_bytes=memory_bytes or self.settings.memory_bytes,
            board=board,
        )

    def download(
        self,
        object_id: str,
        output_dir: Path | str = ".",
        *,
        output_file: Path | str | None = None,
        force: bool = False,
        validate: bool = True,
    ) -> DownloadResult:
        """Download the object into *output_dir* (as its object id, or *output_file*), resuming an interrupted
        download and verifying the whole file's MD5 (*validate*); a complete file already there is kept.

        Raises:
            ScoreError: refused, not found, integrity or disk-space failures (nothing left under the final name).
        """
        object_id = ids.validate_object_id(object_id)
        dl = self.downloader()
        try:
            target = Path(output_file) if output_file else None
            return dl.download(object_id, Path(output_dir), validate=validate, force=force, target=target)
        finally:
            dl.close()

    def upload(self, object_id: str, path: Path | str, *, md5: str | None = None, force: bool = False) -> UploadResult:
        """Upload *path* as the registered *object_id*, resuming an interrupted upload of the same file.

        Raises:
            ScoreError: refused, conflict (exists: *force* replaces it), integrity failures.
        """
        object_id = ids.validate_object_id(object_id)
        return self.uploader().upload(object_id, Path(path), md5=md5, force=force)

    def url(self, object_id: str) -> str:
        """A pre-signed URL of the whole object (it expires: see the server's URL lifetime)."""
        object_id = ids.validate_object_id(object_id)
        return self.api.object_url(object_id)[0]

    def stat(self, object_id: str) -> ObjectStat:
        """The object's size and MD5."""
        object_id = ids.validate_object_id(object_id)
        return self.reader.stat(object_id)

    def open(self, object_id: str) -> io.BufferedReader:
        """The object as a seekable, read-only binary file, read in place over ranged GETs (with read-ahead
        for sequential reads and a shared block cache); the bytes are not MD5-checked as a download's are.
        """
        object_id = ids.validate_object_id(object_id)
        return self.reader.open(object_id)

    def read_range(self, object_id: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``[start, end)`` of the object (negative offsets count from its end)."""
        object_id = ids.validate_object_id(object_id)
        return self.reader.read_range(object_id, start, end)

    def slice(
        self, object_id: str, region: str | list[str], output: Path | str, *, output_format: str = "BAM"
    ) -> ViewResult:
        """Write the records of a BAM or CRAM object overlapping *region* (``chr1:1-1000``; or several) to
        *output*, as ``score-client view`` does (its index found beside it in the analysis).

        Raises:
            ScoreError: not a BAM/CRAM, no index, refused, or an invalid region.
        """
        object_id = ids.validate_object_id(object_id)
        from score.domain import errors as e
        from score.slicing.lookup import remote_source
        from score.slicing.viewer import Query, check_query, view

        regions = (region,) if isinstance(region, str) else tuple(region)
        query = Query(queries=regions, output_format=output_format.upper(), output=Path(output).absolute())
        check_query(query)
        work = Path(tempfile.mkdtemp(prefix="score-slice-index-"))
        try:
            found = remote_source(
                object_id,
                self.session.metadata,
                self.session.server,
                self.data_plane,
                work,
                need_index=True,
                alignments_only=True,
            )
            if found is None:
                raise e.InvalidRequestError(f"object {object_id} is not a BAM, CRAM or SAM file (by its file name)")
            return view(found, query)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def close_connections(self) -> None:
        """Release the connections and the read cache opened so far (the session stays usable)."""
        while self._closing:
            self._closing.pop().close()
        for name in ("api", "data_plane", "reader"):
            self.__dict__.pop(name, None)  # opened again when next needed

    def close(self) -> None:
        """Release connections, the read cache and the session's identity-provider connections."""
        self.close_connections()
        self.session.close()

    def __enter__(self) -> Self:
        """Use as a context manager."""
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close."""
        self.close()
