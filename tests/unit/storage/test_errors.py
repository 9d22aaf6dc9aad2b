"""The provider error tables: each store code becomes the right domain error, with the SDK's error as cause."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from botocore.exceptions import ClientError, EndpointConnectionError
from google.api_core import exceptions as gcs
from requests.exceptions import ConnectionError as RequestsConnectionError

from score.domain import errors as e
from score.storage import errors as se

S3 = se.s3_table()
AZURE = se.azure_table()
GCS = se.gcs_table()


def s3_error(code: str, status: int = 400) -> ClientError:
    """A ClientError as botocore raises it for an answer with *code*."""
    response: Any = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "Op")


def azure_error(code: str | None, status: int) -> HttpResponseError:
    """An HttpResponseError as azure-storage-blob raises it (``error_code`` from ``x-ms-error-code``)."""
    exc = HttpResponseError(message="m")
    exc.status_code = status
    exc.error_code = code  # type: ignore[attr-defined]
    return exc


def translated(table: se.ErrorTable, exc: BaseException, what: str = "reading an object") -> e.ScoreError:
    """What :func:`run_blocking` raises when the SDK call raises *exc*."""

    def call() -> None:
        raise exc

    with pytest.raises(e.ScoreError) as info:
        anyio.run(se.run_blocking, table, what, call)
    assert info.value.__cause__ is exc  # a logged 500/503 shows what the store said
    return info.value


@pytest.mark.parametrize(
    ("code", "status", "cls", "message"),
    [
        ("NoSuchKey", 404, se.NoSuchObjectError, "the object store has no such object (reading an object)"),
        ("404", 404, se.NoSuchObjectError, "the object store has no such object (reading an object)"),
        ("NotFound", 404, se.NoSuchObjectError, "the object store has no such object (reading an object)"),
        ("NoSuchUpload", 404, se.NoSuchUploadError, "no such multipart upload"),
        (
            "NoSuchBucket",
            404,
            se.NoSuchBucketError,
            "the store has no such bucket (reading an object); check the configuration",
        ),
        (
            "AccessDenied",
            403,
            se.CredentialsRefusedError,
            "the object store refused the server's credentials (AccessDenied) during reading an object",
        ),
        (
            "SignatureDoesNotMatch",
            403,
            se.CredentialsRefusedError,
            "the object store refused the server's credentials (SignatureDoesNotMatch) during reading an object",
        ),
        (
            "InvalidPart",
            400,
            se.PartListRefusedError,
            "the store refused the part list (InvalidPart); upload the parts again",
        ),
        (
            "EntityTooSmall",
            400,
            se.PartListRefusedError,
            "the store refused the part list (EntityTooSmall); upload the parts again",
        ),
        ("BucketAlreadyOwnedByYou", 409, se.AlreadyExistsError, "the bucket exists already (reading an object)"),
        ("SlowDown", 503, e.UpstreamUnavailableError, "the object store failed during reading an object: SlowDown"),
        ("403", 403, e.UpstreamUnavailableError, "the object store failed during reading an object: 403"),
        ("", 500, e.UpstreamUnavailableError, "the object store failed during reading an object: 500"),
    ],
)
def test_s3_codes(code: str, status: int, cls: type[e.ScoreError], message: str) -> None:
    err = translated(S3, s3_error(code, status))
    assert type(err) is cls
    assert err.message == message


def test_s3_statuses_and_retryability_follow_the_class() -> None:
    assert isinstance(translated(S3, s3_error("NoSuchKey", 404)), e.NotFoundError)
    assert isinstance(translated(S3, s3_error("InvalidPartOrder")), e.IntegrityError)
    refused = translated(S3, s3_error("InvalidAccessKeyId", 403))
    assert isinstance(refused, e.UpstreamUnavailableError) and not refused.retryable
    assert not translated(S3, s3_error("NoSuchBucket", 404)).retryable
    assert translated(S3, s3_error("InternalError", 500)).retryable


def test_s3_no_answer_is_retryable_unavailability() -> None:
    err = translated(S3, EndpointConnectionError(endpoint_url="http://s3"), "listing")
    assert type(err) is e.UpstreamUnavailableError and err.retryable
    assert err.message == "the object store is unreachable during listing: EndpointConnectionError"


@pytest.mark.parametrize(
    ("code", "status", "cls", "message"),
    [
        ("BlobNotFound", 404, se.NoSuchObjectError, "Azure has no such blob (reading an object)"),
        (None, 404, se.NoSuchObjectError, "Azure has no such blob (reading an object)"),
        (
            "ContainerNotFound",
            404,
            se.NoSuchBucketError,
            "the storage account has no such container (reading an object); check the configuration",
        ),
        (
            "AuthenticationFailed",
            403,
            se.CredentialsRefusedError,
            "Azure refused the server's credentials during reading an object",
        ),
        ("ContainerAlreadyExists", 409, se.AlreadyExistsError, "the container exists already (reading an object)"),
        ("LeaseIdMissing", 412, e.UpstreamUnavailableError, "Azure failed during reading an object: LeaseIdMissing"),
        (None, 500, e.UpstreamUnavailableError, "Azure failed during reading an object: 500"),
    ],
)
def test_azure_codes(code: str | None, status: int, cls: type[e.ScoreError], message: str) -> None:
    err = translated(AZURE, azure_error(code, status))
    assert type(err) is cls
    assert err.message == message


@pytest.mark.parametrize("exc", [ServiceRequestError("no route"), ServiceResponseError("reset")])
def test_azure_no_answer_is_retryable_unavailability(exc: Exception) -> None:
    err = translated(AZURE, exc, "listing")
    assert type(err) is e.UpstreamUnavailableError and err.retryable
    assert err.message == f"Azure is unreachable during listing: {type(exc).__name__}"


@pytest.mark.parametrize(
    ("exc", "cls", "message"),
    [
        (gcs.NotFound("x"), se.NoSuchObjectError, "GCS has no such object (reading an object)"),
        (gcs.Conflict("x"), se.AlreadyExistsError, "the bucket exists already (reading an object)"),
        (
            gcs.Unauthorized("x"),
            se.CredentialsRefusedError,
            "GCS refused the server's credentials during reading an object",
        ),
        (
            gcs.Forbidden("x"),
            se.CredentialsRefusedError,
            "GCS refused the server's credentials during reading an object",
        ),
        (gcs.TooManyRequests("x"), e.UpstreamUnavailableError, "GCS failed during reading an object: 429"),
        (gcs.InternalServerError("x"), e.UpstreamUnavailableError, "GCS failed during reading an object: 500"),
        (
            RequestsConnectionError("x"),
            e.UpstreamUnavailableError,
            "GCS is unreachable during reading an object: ConnectionError",
        ),
    ],
)
def test_gcs_codes(exc: Exception, cls: type[e.ScoreError], message: str) -> None:
    err = translated(GCS, exc)
    assert type(err) is cls
    assert err.message == message


def test_a_failure_that_is_not_the_sdks_passes_through_untouched() -> None:
    def call() -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        anyio.run(se.run_blocking, S3, "listing", call)
    assert S3.translate(ValueError("x"), "listing") is None


def test_domain_errors_raised_inside_the_call_pass_through() -> None:
    def call() -> None:
        raise e.IntegrityError("checked in the thread")

    with pytest.raises(e.IntegrityError, match="checked in the thread"):
        anyio.run(se.run_blocking, AZURE, "listing", call)


def test_the_call_runs_with_its_arguments_and_returns_its_value() -> None:
    def call(a: int, /, *, b: int) -> int:
        return a + b

    assert anyio.run(lambda: se.run_blocking(GCS, "adding", call, 1, b=2)) == 3


def test_absent_covers_objects_and_buckets_only() -> None:
    assert issubclass(se.NoSuchObjectError, se.ABSENT)
    assert issubclass(se.NoSuchBucketError, se.ABSENT)
    assert not issubclass(se.NoSuchUploadError, se.ABSENT)
