"""Object-store failures in our vocabulary: one code table per provider, one way to run a blocking SDK call.

Every cloud SDK here is blocking, and the server is asyncio: :func:`run_blocking` runs one call in a
worker thread (``anyio.to_thread``) and, when it fails, raises the domain error its provider's
:class:`ErrorTable` names for the failure, with the SDK's exception as ``__cause__`` (so a logged 500
or 503 shows what the store said). The tables map the store's own error code (S3's ``<Code>`` as
botocore parsed it, Azure's ``x-ms-error-code``, GCS's HTTP status) to a class below, never by
reading messages. Adapters catch these classes, not the SDK's, where an answer means something
(an absent object, a bucket that already exists).

Messages name the step (``what``) and the store's code, never URLs or credentials.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread

from score.domain.errors import ConflictError, IntegrityError, NotFoundError, ScoreError, UpstreamUnavailableError

T = TypeVar("T")


class NoSuchObjectError(NotFoundError):
    """The store has no such object (key, blob) or no such state record."""


class NoSuchUploadError(NotFoundError):
    """The store has no such multipart upload (completed, aborted, or never started)."""


class NoSuchBucketError(UpstreamUnavailableError):
    """The configured bucket or container does not exist: a configuration error, not worth retrying."""

    retryable = False


class CredentialsRefusedError(UpstreamUnavailableError):
    """The store refused the server's own credentials: a configuration error, not worth retrying."""

    retryable = False


class PartListRefusedError(IntegrityError):
    """The store refused the list of parts to complete an upload with (a part missing, out of order, too small)."""


class AlreadyExistsError(ConflictError):
    """The bucket or container exists already."""


ABSENT = (NoSuchObjectError, NoSuchBucketError)
"""What a read of something that is not there raises (an object, or the bucket it would be in)."""


@dataclass(frozen=True)
class Failure:
    """What one store error code means: the domain error and its message (``{what}``, ``{code}`` filled in)."""

    error: type[ScoreError]
    message: str


@dataclass(frozen=True)
class ErrorTable:
    """How one provider's SDK fails, and what each of its error codes means."""

    name: str
    """The store in messages: "the object store", "Azure", "GCS"."""
    answered: tuple[type[BaseException], ...]
    """SDK exceptions that carry the store's answer (and so a code)."""
    unreachable: tuple[type[BaseException], ...]
    """SDK exceptions for no answer at all (connection, timeout)."""
    codes_of: Callable[[Any], tuple[str, ...]]
    """The codes of an answered exception, most specific first (the first one names it in messages)."""
    codes: Mapping[str, Failure]
    """What each code means; any other answer, and no answer, is a retryable UpstreamUnavailableError."""

    def translate(self, exc: BaseException, what: str) -> ScoreError | None:
        """The domain error for SDK failure *exc* during *what*; None when *exc* is not the SDK's."""
        if isinstance(exc, self.answered):
            codes = self.codes_of(exc) or ("unknown",)
            for code in codes:
                failure = self.codes.get(code)
                if failure is not None:
                    return failure.error(failure.message.format(what=what, code=code))
            return UpstreamUnavailableError(f"{self.name} failed during {what}: {codes[0]}")
        if isinstance(exc, self.unreachable):
            return UpstreamUnavailableError(f"{self.name} is unreachable during {what}: {type(exc).__name__}")
        return None


async def run_blocking(table: ErrorTable, what: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run the blocking ``fn(*args, **kwargs)`` in a worker thread; translate its failure through *table*.

    Raises:
        ScoreError: the class *table* names for the SDK's failure, with the SDK's exception as cause.
    """
    try:
        return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs))
    except Exception as exc:
        err = table.translate(exc, what)
        if err is None:
            raise
        raise err from exc


# ---- the tables -----------------------------------------------------------------------------
# Each is built by a function that imports its SDK, so that this module imports none of them.


def _s3_codes(exc: Any) -> tuple[str, ...]:
    """The code botocore parsed (``"404"`` for a HEAD, which has no body), else the HTTP status."""
    code = str(exc.response.get("Error", {}).get("Code", "") or "")
    status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "") or "")
    return (code or status,) if code or status else ()


_S3_REFUSED = Failure(
    CredentialsRefusedError, "the object store refused the server's credentials ({code}) during {what}"
)
_S3_ABSENT = Failure(NoSuchObjectError, "the object store has no such object ({what})")
_S3_PARTS = Failure(PartListRefusedError, "the store refused the part list ({code}); upload the parts again")
_S3_EXISTS = Failure(AlreadyExistsError, "the bucket exists already ({what})")

S3_CODES: Mapping[str, Failure] = {
    "AccessDenied": _S3_REFUSED,
    "InvalidAccessKeyId": _S3_REFUSED,
    "SignatureDoesNotMatch": _S3_REFUSED,
    "NoSuchBucket": Failure(NoSuchBucketError, "the store has no such bucket ({what}); check the configuration"),
    "NoSuchKey": _S3_ABSENT,
    "NotFound": _S3_ABSENT,
    "404": _S3_ABSENT,
    "NoSuchUpload": Failure(NoSuchUploadError, "no such multipart upload"),
    "InvalidPart": _S3_PARTS,
    "InvalidPartOrder": _S3_PARTS,
    "EntityTooSmall": _S3_PARTS,
    "BucketAlreadyOwnedByYou": _S3_EXISTS,
    "BucketAlreadyExists": _S3_EXISTS,
}


def s3_table() -> ErrorTable:
    """botocore: a ``ClientError`` is an answer with a code; a ``BotoCoreError`` is no answer."""
    from botocore.exceptions import BotoCoreError, ClientError

    return ErrorTable("the object store", (ClientError,), (BotoCoreError,), _s3_codes, S3_CODES)


def _azure_codes(exc: Any) -> tuple[str, ...]:
    """The ``x-ms-error-code`` (``BlobNotFound``), then the HTTP status."""
    return tuple(str(c) for c in (getattr(exc, "error_code", None), getattr(exc, "status_code", None)) if c)


_AZURE_REFUSED = Failure(CredentialsRefusedError, "Azure refused the server's credentials during {what}")
_AZURE_EXISTS = Failure(AlreadyExistsError, "the container exists already ({what})")

AZURE_CODES: Mapping[str, Failure] = {
    "401": _AZURE_REFUSED,  # the SDK's ClientAuthenticationError: 401, 403 and the auth codes
    "403": _AZURE_REFUSED,
    "ContainerNotFound": Failure(
        NoSuchBucketError, "the storage account has no such container ({what}); check the configuration"
    ),
    "404": Failure(NoSuchObjectError, "Azure has no such blob ({what})"),  # BlobNotFound and kin
    "ContainerAlreadyExists": _AZURE_EXISTS,
    "ResourceAlreadyExists": _AZURE_EXISTS,
}


def azure_table() -> ErrorTable:
    """azure-core: an ``HttpResponseError`` is an answer; any other ``AzureError`` is none."""
    from azure.core.exceptions import AzureError, HttpResponseError

    return ErrorTable("Azure", (HttpResponseError,), (AzureError,), _azure_codes, AZURE_CODES)


def _gcs_codes(exc: Any) -> tuple[str, ...]:
    """google-api-core names its exceptions by HTTP status (``NotFound`` is 404)."""
    code = getattr(exc, "code", None)
    return (str(int(code)),) if code is not None else ()


_GCS_REFUSED = Failure(CredentialsRefusedError, "GCS refused the server's credentials during {what}")

GCS_CODES: Mapping[str, Failure] = {
    "401": _GCS_REFUSED,
    "403": _GCS_REFUSED,
    "404": Failure(NoSuchObjectError, "GCS has no such object ({what})"),
    "409": Failure(AlreadyExistsError, "the bucket exists already ({what})"),
}


def gcs_table() -> ErrorTable:
    """google-api-core: a ``GoogleAPICallError`` is an answer; requests' ``RequestException`` is none."""
    from google.api_core.exceptions import GoogleAPICallError
    from requests.exceptions import RequestException

    return ErrorTable("GCS", (GoogleAPICallError,), (RequestException,), _gcs_codes, GCS_CODES)
