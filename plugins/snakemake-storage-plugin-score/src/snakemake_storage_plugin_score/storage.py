"""Snakemake's storage provider and storage object for Score, over :class:`score.Client`.

Inputs are downloaded with ``Client.download`` (resumable, whole-file MD5 verified, written under the final
name only once verified); outputs are uploaded with ``Client.upload`` to an object registered beforehand (Song's
model: the registry knows each file's size and MD5 before its bytes arrive). Errors are Score's own, with the
message ``score-client`` prints (a missing scope names it), wrapped by Snakemake with the query.

Modification times (what Snakemake compares to decide whether outputs are older than their inputs) come from
the server's ``GET /listing``, asked once per run. An object it does not show gets a constant: ``0`` when it
is readable (a server without a listing; objects are immutable, so "older than anything made from it"), and
the run's start time when it is uploaded but not readable (an analysis not published yet, or a token that may
write the study but not read it: an output of this workflow, not older than the local inputs it was made from,
so it is not made again on every run).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_storage_plugins.common import Operation
from snakemake_interface_storage_plugins.io import IOCacheStorageInterface, Mtime
from snakemake_interface_storage_plugins.storage_object import StorageObjectRead, StorageObjectWrite
from snakemake_interface_storage_plugins.storage_provider import (
    ExampleQuery,
    QueryType,
    StorageProviderBase,
    StorageQueryValidationResult,
)

from score import Client
from score.domain import errors as e
from snakemake_storage_plugin_score.logs import say
from snakemake_storage_plugin_score.query import QueryError, ScoreQuery, parse_query
from snakemake_storage_plugin_score.registry import object_id_by_name, publish_when_complete, registered_file

R = TypeVar("R")
READABLE_UNLISTED_MTIME = 0.0  # readable yet absent from the listing (no listing): immutable, "always there"


def scores_message(method: Callable[[Any], R]) -> Callable[[Any], R]:
    """Raise Score's errors as a :class:`WorkflowError` with the query and Score's message: Snakemake prints that
    in a few lines wherever it asked (an input, or an output's modification time), never a traceback.
    """

    @functools.wraps(method)
    def wrapper(self: Any) -> R:
        try:
            return method(self)
        except e.ScoreError as exc:
            raise WorkflowError(f"{self.query}: {type(exc).__name__}: {exc.message}") from None

    return wrapper


class StorageProvider(StorageProviderBase):
    """One Score server (and its metadata service) for a whole run: one client, one listing."""

    def __post_init__(self) -> None:
        """Ask for the listing at once: a token the server refuses, or a server it cannot reach, then fails the
        run here with Score's message (later, inside Snakemake's task groups, it would come out as a traceback).

        Raises:
            WorkflowError: the token is refused (missing, invalid, expired), the server cannot be reached, or the
                settings are invalid.
        """
        self._lock = threading.Lock()
        self._client: Client | None = None
        self._object_ids: dict[str, str] = {}  # by-name query -> object id
        self._listing: dict[str, tuple[float, int]] | None = None  # object id -> (mtime in s, size)
        self._stored: dict[str, float] = {}  # object id -> when this run uploaded it
        self.run_started = time.time()
        try:
            self._listing = self._fetch_listing()
        except (e.UnauthenticatedError, e.UpstreamUnavailableError, e.ConfigError) as exc:
            raise WorkflowError(f"score: {type(exc).__name__}: {exc.message}") from None
        except e.ScoreError:  # anything else: asked again when a query needs it
            self._listing = None

    def _setting(self, name: str) -> Any:
        return getattr(self.settings, name, None) if self.settings is not None else None

    @property
    def client(self) -> Client:
        """The client, configured as ``score-client`` is, the plugin's settings first.

        Raises:
            ConfigError: an unreadable config file, an unknown profile or a URL that is not http(s).
        """
        with self._lock:
            if self._client is None:
                self._client = Client(
                    self._setting("server_url"),
                    token=self._setting("token"),
                    profile=self._setting("profile"),
                    metadata_url=self._setting("metadata_url"),
                )
            return self._client

    @property
    def publish(self) -> bool:
        """True when outputs get their analysis published (the ``publish`` setting)."""
        return bool(self._setting("publish"))

    @classmethod
    def example_queries(cls) -> list[ExampleQuery]:
        """The two query forms."""
        return [
            ExampleQuery(
                query="score://5b7a1c9e-3f4d-4e2a-9b8c-0d1e2f3a4b5c",
                description="an object by its id (the local copy is named after the id)",
                type=QueryType.ANY,
            ),
            ExampleQuery(
                query="score://DEMO/8f3c2a10-1b2c-4d5e-8f90-a1b2c3d4e5f6/sample.bam",
                description="a file by study, analysis id and file name (the local copy keeps the name)",
                type=QueryType.ANY,
            ),
        ]

    def rate_limiter_key(self, query: str, operation: Operation) -> Any:
        """One server per provider: one key."""
        return self._setting("server_url") or "score"

    def default_max_requests_per_second(self) -> float:
        """Not used: the client bounds its own concurrency and retries."""
        return 100.0

    def use_rate_limiter(self) -> bool:
        """False: the client retries throttled requests itself (with backoff)."""
        return False

    @classmethod
    def is_valid_query(cls, query: str) -> StorageQueryValidationResult:
        """``score://<object-id>`` or ``score://<study>/<analysis-id>/<file-name>``, wildcards allowed."""
        try:
            parse_query(query)
        except QueryError as exc:
            return StorageQueryValidationResult(query=query, valid=False, reason=str(exc))
        return StorageQueryValidationResult(query=query, valid=True)

    def object_id(self, query: ScoreQuery) -> str:
        """The object id of *query*: as written, or the registry's for the file it names (asked once).

        Raises:
            NotFoundError: no such study or analysis, or no file of that name in it.
        """
        if query.object_id is not None:
            return query.object_id
        with self._lock:
            known = self._object_ids.get(query.text)
        if known is None:
            known = object_id_by_name(self.client, query)
            with self._lock:
                self._object_ids[query.text] = known
        return known

    def listed(self, object_id: str) -> tuple[float, int] | None:
        """The object's modification time (s) and size from the server's listing, fetched once per run;
        None when it is not listed.
        """
        with self._lock:
            listing = self._listing
        if listing is None:
            try:
                listing = self._fetch_listing()
            except e.ScoreError:
                listing = {}
            with self._lock:
                self._listing = listing
        return listing.get(object_id)

    def _fetch_listing(self) -> dict[str, tuple[float, int]]:
        """``GET /listing`` as object id -> (mtime in s, size); {} when the server has none (an older server).

        Raises:
            ScoreError: the token is refused or the server cannot be reached.
        """
        try:
            return {o.id: (o.lastModified / 1000, o.size) for o in self.client.api.listing()}
        except (e.NotFoundError, e.ForbiddenError, e.InvalidRequestError) as exc:  # no listing: constants apply
            say(self.logger, f"score: no listing ({exc}); modification times are constants", logging.DEBUG)
            return {}

    def stored_at(self, object_id: str) -> float | None:
        """When this run uploaded *object_id* (None: it did not)."""
        with self._lock:
            return self._stored.get(object_id)

    def note_stored(self, object_id: str) -> None:
        """Remember that this run uploaded *object_id* now (its modification time from here on)."""
        with self._lock:
            self._stored[object_id] = time.time()


class StorageObject(StorageObjectRead, StorageObjectWrite):
    """One Score object named by a query: read (exists, mtime, size, download) and written (upload)."""

    provider: StorageProvider

    @property
    def parsed(self) -> ScoreQuery:
        """The parsed query.

        Raises:
            WorkflowError: an invalid query (Snakemake checks queries first, so only a bug gets here).
        """
        try:
            return parse_query(self.query)
        except QueryError as exc:
            raise WorkflowError(f"invalid Score query {self.query}: {exc}") from exc

    def object_id(self) -> str:
        """The object id (the registry is asked once for a by-name query)."""
        return self.provider.object_id(self.parsed)

    def local_suffix(self) -> str:
        """``<object-id>``, or ``<study>/<analysis-id>/<file-name>``."""
        return self.parsed.local_suffix()

    async def inventory(self, cache: IOCacheStorageInterface) -> None:
        """Fill Snakemake's cache from the listing (one request per run) for an object listed there;
        anything else is asked object by object when Snakemake needs it.
        """
        query = self.parsed
        if query.by_name or self._overwrite_local_path is not None:
            return
        listed = self.provider.listed(str(query.object_id))
        if listed is None:
            return
        key = self.cache_key()
        cache.exists_in_storage[key] = True
        cache.mtime[key] = Mtime(storage=listed[0])
        cache.size[key] = listed[1]

    def get_inventory_parent(self) -> str | None:
        """None: objects have no parent to list."""
        return None

    def cleanup(self) -> None:
        """Nothing: downloads leave no state behind once complete."""

    @scores_message
    def exists(self) -> bool:
        """True when the object's bytes are in the store: readable by this token, or else (an unpublished
        analysis, or a token that may write the study but not read it: this workflow's output) uploaded.

        Raises:
            ForbiddenError: the token may neither read nor write the study (the message names the scope).
            AnalysisStateError: a reader's token, and the analysis is not published.
        """
        object_id = self.object_id()
        client = self.provider.client
        try:
            client.stat(object_id)
        except e.NotFoundError:
            return False
        except (e.AnalysisStateError, e.ForbiddenError) as refused:  # not readable: uploaded, as a writer sees?
            try:
                return client.api.object_exists(object_id)
            except (e.ForbiddenError, e.UnauthenticatedError):
                raise refused from None  # not a writer either: why it cannot be read is the answer
        return True

    @scores_message
    def mtime(self) -> float:
        """When this run uploaded it, else the store's modification time from the listing, else a constant
        (see the module's docstring).
        """
        object_id = self.object_id()
        stored = self.provider.stored_at(object_id)
        if stored is not None:
            return stored
        listed = self.provider.listed(object_id)
        if listed is not None:
            return listed[0]
        try:
            self.provider.client.stat(object_id)
        except (e.AnalysisStateError, e.ForbiddenError):  # exists, so uploaded: an output, as a writer sees it
            return self.provider.run_started
        return READABLE_UNLISTED_MTIME

    @scores_message
    def size(self) -> int:
        """The object's size in bytes: the server's, or (uploaded but not readable by this token: an output of
        this workflow) the registered one, which the server checked the upload against.

        Raises:
            ScoreError: as :meth:`exists`.
        """
        object_id = self.object_id()
        try:
            return self.provider.client.stat(object_id).size
        except (e.AnalysisStateError, e.ForbiddenError) as refused:
            if not self.exists():  # raises when the token may not write the study either
                raise refused from None
            registered = registered_file(self.provider.client, object_id, self.parsed)
            if registered is None or registered.size is None:
                raise refused from None
            return registered.size

    @scores_message
    def retrieve_object(self) -> None:
        """Download the object to :meth:`local_path` (resumable; whole-file MD5 verified before the file
        appears under its name).
        """
        target = self.local_path()
        self.provider.client.download(self.object_id(), target.parent, output_file=target)

    @scores_message
    def store_object(self) -> None:
        """Upload :meth:`local_path` to the registered object, then publish its analysis if asked to.

        Raises:
            WorkflowError: the output is a directory (one object is one file).
            ScoreError: the object is not registered, its registered size or MD5 differ, the analysis is
                published already, or the token lacks the study's write scope.
        """
        source = self.local_path()
        if source.is_dir():
            raise WorkflowError(f"{self.query}: a directory cannot be stored in Score (one object is one file)")
        object_id = self.object_id()
        result = self.provider.client.upload(object_id, source)
        self.provider.note_stored(object_id)
        done = "was already uploaded" if result.already_uploaded else "uploaded"
        say(self.provider.logger, f"{self.query}: {done} ({result.size} bytes, MD5 {result.md5})")
        if self.provider.publish:
            publish_when_complete(self.provider.client, object_id, self.parsed, self.provider.logger)

    def remove(self) -> None:
        """Refuse: Score keeps uploaded objects as they are.

        Raises:
            WorkflowError: always, saying what to do instead.
        """
        raise WorkflowError(
            f"refusing to remove {self.query}: Score objects cannot be deleted or replaced through Snakemake "
            "(it removes an output before making it again: a rerun, --forcerun, --delete-all-output). "
            "Register a new object for new content, or unpublish or suppress the analysis with score-client."
        )
