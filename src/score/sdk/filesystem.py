"""``score://`` for fsspec: the objects a token may read, as a read-only file system (pandas, dask, xarray...).

Registered through the ``fsspec.specs`` entry point, so ``fsspec.open("score://<object id>")`` and
``pandas.read_csv("score://...", storage_options={...})`` find it without importing this module. Configured
exactly as :class:`score.Client` and ``score-client``: storage options are the client's keyword arguments
(``server_url``, ``token``, ``profile``, ``config_file``, ``metadata_url``, ``parallel``, ``ca_bundle``...);
what they leave out comes from ``ACCESSTOKEN``/``SCORE_*`` (and Score 5.x's names), then the config file.

    >>> import fsspec                                                        # doctest: +SKIP
    >>> fs = fsspec.filesystem("score", server_url="https://score.example.org")
    >>> fs.ls("score://")                         # studies, and objects without a name by id
    >>> with fs.open("score://DEMO/AN1/reads.bam") as f:
    ...     magic = f.read(4)

Paths: ``score://<object id>`` (any object), and ``score://<study>/<analysis id>/<file name>`` named by the
metadata service (Song, or score-server's registry), :mod:`score.sdk.bundles` says how. Reads go through
:attr:`score.Client.reader`: ranged GETs on pre-signed URLs renewed before they expire, a block cache shared by
every file of the file system, read-ahead for sequential readers; bytes are not MD5-checked as a download's are
(``Client.download`` does that). Nothing is written: writes raise :class:`PermissionError` (``EROFS``).

Score's refusals are Python's: :class:`FileNotFoundError` for an unknown object, analysis or name,
:class:`PermissionError` for a token that may not read it (or none, or an analysis not published), each with
Score's message; the :class:`~score.domain.errors.ScoreError` is the ``__cause__``. Other failures (server
unreachable after retries) stay Score's errors.

pysam (htslib) reads only real file descriptors, not Python file objects: give it :meth:`ScoreFileSystem.url`
(a pre-signed URL htslib reads with ranged GETs, with the index's URL for regions; htslib keeps a copy of a remote
index in the working directory, named by the object id), or copy the file object into a pipe and give pysam the
pipe's read end (tests/integration/test_fsspec.py does both).
"""

from __future__ import annotations

import errno
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fsspec.dircache import DirCache
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from score.client.http.server_api import NO_ENDPOINT_REASON
from score.domain import errors as e
from score.domain.ids import is_object_id
from score.fuse.tree import Listed
from score.rangeio.cache import Stream
from score.sdk import bundles
from score.sdk.client import Client

if TYPE_CHECKING:
    from score.client.http.metadata_api import MetadataApi
    from score.client.http.song_entities import FileEntity

__all__ = ["ScoreFile", "ScoreFileSystem"]

# what fsspec itself takes from storage options (AbstractFileSystem and its instance cache), and ``anon``, which
# pandas adds when it retries after a PermissionError (for S3): accepted and ignored, the token stays the token
FSSPEC_OPTIONS = frozenset(
    {"use_listings_cache", "listings_expiry_time", "max_paths", "skip_instance_cache", "asynchronous", "loop", "anon"}
)
READ_ONLY = "Score objects are read-only here; upload with score-client upload or score.Client.upload"
_RESOLVED_MAX = 4096  # bundle paths -> object ids kept (cleared by invalidate_cache)


@contextmanager
def os_errors(path: str) -> Iterator[None]:
    """Raise Score's not-found and refusals as :class:`FileNotFoundError` and :class:`PermissionError`."""
    try:
        yield
    except e.NotFoundError as exc:
        raise FileNotFoundError(errno.ENOENT, exc.message, f"score://{path}") from exc
    except (e.ForbiddenError, e.UnauthenticatedError, e.AnalysisStateError) as exc:
        raise PermissionError(errno.EACCES, exc.message, f"score://{path}") from exc


def read_only(what: str) -> PermissionError:
    """The error for any write."""
    return PermissionError(errno.EROFS, f"{what}: {READ_ONLY}")


def _close(client: Client, metadata_apis: list[MetadataApi], *, for_good: bool = True) -> None:
    if for_good:
        client.close()
    else:
        client.close_connections()
    while metadata_apis:
        metadata_apis.pop().close()


def _missing(path: str, why: str) -> FileNotFoundError:
    return FileNotFoundError(errno.ENOENT, why, f"score://{path}")


class ScoreFile(AbstractBufferedFile):  # type: ignore[misc]  # fsspec ships no type information
    """One object, open for reading: seekable, read in place over the file system's shared block cache.

    fsspec's own cache is off by default (``cache_type="none"``): Score's block cache already keeps blocks
    and reads ahead of a sequential reader; any fsspec ``cache_type`` can still be asked for.
    """

    DEFAULT_BLOCK_SIZE = 256 * 1024  # only readline's step and fsspec's caches use it: one cache block

    def __init__(
        self,
        fs: ScoreFileSystem,
        path: str,
        details: dict[str, Any],
        block_size: int | None = None,
        cache_type: str = "none",
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Read the object *details* describes (from :meth:`ScoreFileSystem.info`) at *path*."""
        self.object_id = str(details["object_id"])
        self._client = fs.client
        self._stream = Stream()  # this file's read-ahead state
        super().__init__(
            fs,
            path,
            "rb",
            block_size=block_size,
            cache_type=cache_type,
            cache_options=cache_options,
            size=details["size"],
            **kwargs,
        )
        self.details = details

    def _fetch_range(self, start: int, end: int) -> bytes:
        with os_errors(self.path):
            return self._client.reader.cache.read(self.object_id, self.size, start, end - start, self._stream)


class ScoreFileSystem(AbstractFileSystem):  # type: ignore[misc]  # fsspec ships no type information
    """Score's objects under ``score://``, read-only; thread-safe for reads (fsspec keeps an instance per thread
    and per set of storage options).
    """

    protocol = "score"
    root_marker = ""

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
        **storage_options: Any,
    ) -> None:
        """Settings as :class:`score.Client` resolves them (None = not given); *storage_options* are fsspec's
        (``use_listings_cache``, ``listings_expiry_time``, ``max_paths``, ``skip_instance_cache``).
        Nothing is contacted yet.

        Raises:
            ConfigError: an unreadable config file, an unknown profile or invalid values.
            TypeError: an option neither the client nor fsspec knows (a misspelled one would be ignored).
        """
        unknown = sorted(set(storage_options) - FSSPEC_OPTIONS)
        if unknown:
            raise TypeError(
                f"unknown score:// storage option(s) {', '.join(unknown)}: the client's are server_url, token, "
                "profile, config_file, metadata_url, parallel, memory_mib, ca_bundle; fsspec's "
                + ", ".join(sorted(FSSPEC_OPTIONS))
            )
        super().__init__(**{k: v for k, v in storage_options.items() if k != "anon"})
        self.client = Client(
            server_url,
            token=token,
            profile=profile,
            config_file=config_file,
            metadata_url=metadata_url,
            parallel=parallel,
            memory_mib=memory_mib,
            ca_bundle=ca_bundle,
        )
        self._metadata_apis: list[MetadataApi] = []
        # fsspec drops instances made with skip_instance_cache (pandas' storage_options often are): close their
        # connections when collected, and the cached ones' at exit
        weakref.finalize(self, _close, self.client, self._metadata_apis)
        options = {k: v for k, v in storage_options.items() if k in ("use_listings_cache", "listings_expiry_time")}
        self._listing = DirCache(**options)  # GET /listing, as long as a directory listing is kept
        self._resolved: dict[str, str] = {}

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        """The path without ``score://`` and without slashes at either end (the root is ``""``)."""
        stripped = super()._strip_protocol(path)
        return [p.lstrip("/") for p in stripped] if isinstance(stripped, list) else stripped.lstrip("/")

    def _shown(self, path: Any) -> str:
        """*path* as a ``score://`` URL, for messages (whether or not it came with the protocol)."""
        return f"score://{self._strip_protocol(str(path))}"

    @cached_property
    def _metadata(self) -> MetadataApi:
        api = self.client.session.metadata()
        self._metadata_apis.append(api)
        return api

    def close(self) -> None:
        """Release connections and the read cache (the file system stays usable: they are opened again)."""
        self.__dict__.pop("_metadata", None)
        _close(self.client, self._metadata_apis, for_good=False)

    def invalidate_cache(self, path: str | None = None) -> None:
        """Forget listings and resolved names (all of them: the listing of what the token may read is one)."""
        self.dircache.clear()
        self._listing.clear()
        self._resolved.clear()
        super().invalidate_cache(path)

    # What the token may read, and what the metadata service names.

    def _listed(self, refresh: bool = False) -> dict[str, Listed]:
        if not refresh:
            try:
                found: dict[str, Listed] = self._listing[""]
                return found
            except KeyError:
                pass
        with os_errors(""):
            listed = {
                item.id: Listed(item.id, item.size, item.lastModified)
                for item in self.client.api.listing()
                if is_object_id(item.id) and item.size >= 0
            }
        self._listing[""] = listed
        return listed

    def _entities(self, path: str, filters: dict[str, str] | None) -> list[FileEntity] | None:
        """File entities matching *filters*; None when there is no metadata service (the server has no registry)."""
        with os_errors(path):
            try:
                if filters is not None and "gnosId" in filters:
                    return self._metadata.analysis_entities(filters["gnosId"], filters["projectCode"])
                return self._metadata.find_entities(filters)
            except e.NotFoundError as exc:
                if exc.reason == NO_ENDPOINT_REASON:
                    return None
                raise

    def _object_id(self, path: str) -> str | None:
        """The object a file path names; None when the path has a directory's shape.

        Raises:
            FileNotFoundError: a ``<study>/<analysis>/<name>`` the metadata service does not know.
        """
        parts = path.split("/")
        if len(parts) == 1 and is_object_id(parts[0]):
            return parts[0]
        if len(parts) != 3:
            return None
        known = self._resolved.get(path)
        if known is not None:
            return known
        study, analysis_id, name = parts
        entities = self._entities(path, {"gnosId": analysis_id, "projectCode": study})
        if entities is None:
            raise _missing(path, "the server has no metadata service to name files: use score://<object id>")
        entities = list(entities)
        ids = bundles.candidates(entities, study, analysis_id, name)
        if not ids:
            names = sorted({str(x.file_name) for x in entities if x.analysis_id == analysis_id and x.file_name})
            if not names:
                raise _missing(path, f"study {study} has no analysis {analysis_id} that this server knows")
            shown = ", ".join(repr(n) for n in names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            raise _missing(path, f"no file {name!r} in analysis {analysis_id} of study {study} (it has {shown})")
        if len(ids) > 1:  # named alike: the one ls shows, the first the token may read
            readable = self._listed()
            ids = [oid for oid in ids if oid in readable] or ids
        if len(self._resolved) >= _RESOLVED_MAX:
            self._resolved.clear()
        self._resolved[path] = ids[0]
        return ids[0]

    def _file_id(self, path: str) -> str:
        oid = self._object_id(path)
        if oid is None:
            if self.isdir(path):
                raise IsADirectoryError(errno.EISDIR, "a directory, not a file", f"{self._shown(path)}")
            raise _missing(path, "no such file: use score://<object id> or score://<study>/<analysis id>/<name>")
        return oid

    def _list_dir(self, path: str, refresh: bool) -> list[dict[str, Any]]:
        parts = path.split("/") if path else []
        if len(parts) > 2:
            raise _missing(path, "no such directory")
        listed = self._listed(refresh)
        if not parts:
            return bundles.root_entries(listed, self._entities(path, None))
        filters = {"projectCode": parts[0]} if len(parts) == 1 else {"gnosId": parts[1], "projectCode": parts[0]}
        entities = self._entities(path, filters)
        if entities is None:
            raise _missing(path, "the server has no metadata service: score:// lists objects by id only")
        if len(parts) == 1:
            entries = bundles.study_entries(parts[0], listed, entities)
        else:
            entries = bundles.analysis_entries(parts[0], parts[1], listed, entities)
        if not entries:
            raise _missing(path, "no such study or analysis, or none of its files may be read with this token")
        return entries

    # What fsspec reads through.

    def ls(self, path: str, detail: bool = True, refresh: bool = False, **kwargs: Any) -> list[Any]:
        """The entries of a directory (a file: its own entry); see :mod:`score.sdk.bundles`.

        Listings are kept (fsspec's ``use_listings_cache``, ``listings_expiry_time``) until
        :meth:`invalidate_cache` or ``refresh=True``.

        Raises:
            FileNotFoundError: nothing readable there.
            PermissionError: the token may not list (none, or expired).
        """
        path = self._strip_protocol(path)
        entries: list[dict[str, Any]] | None
        if self._object_id(path) is not None:
            entries = [self.info(path)]
        else:
            entries = None if refresh else self.dircache.get(path)
            if entries is None:
                entries = self._list_dir(path, refresh)
                self.dircache[path] = entries
        return entries if detail else [entry["name"] for entry in entries]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """``name``, ``size``, ``type``; for a file also ``object_id`` and ``md5`` (None if the server lacks it).

        Raises:
            FileNotFoundError: no such object, name or directory.
            PermissionError: the token may not read the object.
        """
        path = self._strip_protocol(path)
        if not path:
            return bundles.directory("")
        oid = self._object_id(path)
        if oid is None:
            if path.count("/") > 1:
                raise _missing(path, "no such file or directory")
            self.ls(path, detail=False)  # FileNotFoundError when nothing readable is there
            return bundles.directory(path)
        with os_errors(path):
            stat = self.client.stat(oid)
        return {**bundles.file(path, oid, stat.size), "md5": stat.md5}

    def exists(self, path: str, **kwargs: Any) -> bool:
        """Whether the path names something this token may read (other failures are raised)."""
        try:
            self.info(path)
        except (FileNotFoundError, PermissionError):
            return False
        return True

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        """Bytes ``[start, end)`` of a file (negative offsets count from its end), in one ranged read."""
        path = self._strip_protocol(path)
        oid = self._file_id(path)
        with os_errors(path):
            return self.client.read_range(oid, start or 0, end)

    def get_file(self, rpath: str, lpath: str, callback: Any = None, outfile: Any = None, **kwargs: Any) -> None:
        """Copy a file to the local path *lpath* as ``score.Client.download`` does: resumable, the whole file
        MD5-verified before it appears under its name (into an open *outfile*: fsspec's plain copy instead).

        Raises:
            FileNotFoundError / PermissionError: as :meth:`info`; ScoreError: integrity or disk-space failures.
        """
        if outfile is not None or self.isdir(rpath):
            super().get_file(rpath, lpath, callback=callback, outfile=outfile, **kwargs)
            return
        path = self._strip_protocol(rpath)
        oid = self._file_id(path)
        target = Path(lpath)
        with os_errors(path):
            self.client.download(oid, target.parent, output_file=target, force=True)

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> ScoreFile:
        """A :class:`ScoreFile` (``rb`` only)."""
        if mode != "rb":
            raise read_only(f"open({self._shown(path)}, {mode!r})")
        details = self.info(path)
        if details["type"] != "file":
            raise IsADirectoryError(errno.EISDIR, "a directory, not a file", f"{self._shown(path)}")
        return ScoreFile(self, path, details, block_size=block_size, cache_options=cache_options, **kwargs)

    def url(self, path: str) -> str:
        """A pre-signed URL of the whole file, for tools that read URLs themselves (htslib: pysam, samtools).

        It expires after the server's download URL lifetime; ask again for a fresh one.
        """
        path = self._strip_protocol(path)
        oid = self._file_id(path)
        with os_errors(path):
            return self.client.url(oid)

    def sign(self, path: str, expiration: int = 100, **kwargs: Any) -> str:
        """:meth:`url`: the server chooses the lifetime (*expiration* is not Score's to ask for)."""
        return self.url(path)

    def checksum(self, path: str) -> int:
        """The file's MD5 as an int (fsspec's caches use it to see a change)."""
        md5 = self.info(path).get("md5")
        return int(md5, 16) if md5 else int(super().checksum(path))

    def ukey(self, path: str) -> str:
        """The file's MD5 (or fsspec's hash of its info when the server has none)."""
        md5 = self.info(path).get("md5")
        return str(md5) if md5 else str(super().ukey(path))

    # Writes are refused, each with the same message.

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        """Refused: read-only."""
        raise read_only(f"pipe_file({self._shown(path)})")

    def touch(self, path: str, truncate: bool = True, **kwargs: Any) -> None:
        """Refused: read-only."""
        raise read_only(f"touch({self._shown(path)})")

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Refused: read-only."""
        raise read_only(f"mkdir({self._shown(path)})")

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        """Refused: read-only."""
        raise read_only(f"makedirs({self._shown(path)})")

    def rmdir(self, path: str) -> None:
        """Refused: read-only."""
        raise read_only(f"rmdir({self._shown(path)})")

    def rm_file(self, path: str) -> None:
        """Refused: read-only."""
        raise read_only(f"rm({self._shown(path)})")

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        """Refused: read-only."""
        raise read_only(f"rm({path!r})")

    def put_file(self, lpath: Any, rpath: str, callback: Any = None, mode: str = "overwrite", **kwargs: Any) -> None:
        """Refused: read-only."""
        raise read_only(f"put({lpath!r}, {self._shown(rpath)})")

    def put(self, lpath: Any, rpath: Any, recursive: bool = False, **kwargs: Any) -> None:
        """Refused: read-only."""
        raise read_only(f"put({lpath!r}, {rpath!r})")

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """Refused: read-only."""
        raise read_only(f"copy(score://{path1}, score://{path2})")

    def copy(self, path1: Any, path2: Any, recursive: bool = False, **kwargs: Any) -> None:
        """Refused: read-only."""
        raise read_only(f"copy({path1!r}, {path2!r})")

    def mv(self, path1: Any, path2: Any, recursive: bool = False, maxdepth: int | None = None, **kwargs: Any) -> None:
        """Refused: read-only."""
        raise read_only(f"mv({path1!r}, {path2!r})")
