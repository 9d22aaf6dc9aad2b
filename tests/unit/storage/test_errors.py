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


S3_REFUSED = "the object store refused the server's credentials"
S3_FAILED = "the object store failed during op:"
PARTS = "the store refused the part list"
CASES: list[tuple[se.ErrorTable, BaseException, type[e.ScoreError], str]] = [
    (S3, s3_error("NoSuchKey", 404), se.NoSuchObjectError, "the object store has no such object (op)"),
    (S3, s3_error("404", 404), se.NoSuchObjectError, "the object store has no such object (op)"),
    (S3, s3_error("NotFound", 404), se.NoSuchObjectError, "the object store has no such object (op)"),
    (S3, s3_error("NoSuchUpload", 404), se.NoSuchUploadError, "no such multipart upload"),
    (
        S3,
        s3_error("NoSuchBucket", 404),
        se.NoSuchBucketError,
        "the store has no such bucket (op); check the configuration",
    ),
    (S3, s3_error("AccessDenied", 403), se.CredentialsRefusedError, f"{S3_REFUSED} (AccessDenied) during op"),
    (
        S3,
        s3_error("SignatureDoesNotMatch", 403),
        se.CredentialsRefusedError,
        f"{S3_REFUSED} (SignatureDoesNotMatch) during op",
    ),
    (S3, s3_error("InvalidPart"), se.PartListRefusedError, f"{PARTS} (InvalidPart); upload the parts again"),
    (S3, s3_error("EntityTooSmall"), se.PartListRefusedError, f"{PARTS} (EntityTooSmall); upload the parts again"),
    (S3, s3_error("BucketAlreadyOwnedByYou", 409), se.AlreadyExistsError, "the bucket exists already (op)"),
    (S3, s3_error("SlowDown", 503), e.UpstreamUnavailableError, f"{S3_FAILED} SlowDown"),
    (S3, s3_error("403", 403), e.UpstreamUnavailableError, f"{S3_FAILED} 403"),
    (S3, s3_error("", 500), e.UpstreamUnavailableError, f"{S3_FAILED} 500"),
    (
        S3,
        EndpointConnectionError(endpoint_url="http://s3"),
        e.UpstreamUnavailableError,
        "the object store is unreachable during op: EndpointConnectionError",
    ),
    (AZURE, azure_error("BlobNotFound", 404), se.NoSuchObjectError, "Azure has no such blob (op)"),
    (AZURE, azure_error(None, 404), se.NoSuchObjectError, "Azure has no such blob (op)"),
    (
        AZURE,
        azure_error("ContainerNotFound", 404),
        se.NoSuchBucketError,
        "the storage account has no such container (op); check the configuration",
    ),
    (
        AZURE,
        azure_error("AuthenticationFailed", 403),
        se.CredentialsRefusedError,
        "Azure refused the server's credentials during op",
    ),
    (AZURE, azure_error("ContainerAlreadyExists", 409), se.AlreadyExistsError, "the container exists already (op)"),
    (AZURE, azure_error("LeaseIdMissing", 412), e.UpstreamUnavailableError, "Azure failed during op: LeaseIdMissing"),
    (AZURE, azure_error(None, 500), e.UpstreamUnavailableError, "Azure failed during op: 500"),
    (
        AZURE,
        ServiceRequestError("no route"),
        e.UpstreamUnavailableError,
        "Azure is unreachable during op: ServiceRequestError",
    ),
    (
        AZURE,
        ServiceResponseError("reset"),
        e.UpstreamUnavailableError,
        "Azure is unreachable during op: ServiceResponseError",
    ),
    (GCS, gcs.NotFound("x"), se.NoSuchObjectError, "GCS has no such object (op)"),
    (GCS, gcs.Conflict("x"), se.AlreadyExistsError, "the bucket exists already (op)"),
    (GCS, gcs.Unauthorized("x"), se.CredentialsRefusedError, "GCS refused the server's credentials during op"),
    (GCS, gcs.Forbidden("x"), se.CredentialsRefusedError, "GCS refused the server's credentials during op"),
    (GCS, gcs.TooManyRequests("x"), e.UpstreamUnavailableError, "GCS failed during op: 429"),
    (GCS, gcs.InternalServerError("x"), e.UpstreamUnavailableError, "GCS failed during op: 500"),
    (GCS, RequestsConnectionError("x"), e.UpstreamUnavailableError, "GCS is unreachable during op: ConnectionError"),
]


@pytest.mark.parametrize(
    ("table", "exc", "cls", "message"), CASES, ids=[f"{t.name}-{x!r}"[:60] for t, x, _, _ in CASES]
)
def test_each_code_becomes_its_domain_error_with_the_sdk_error_as_cause(
    table: se.ErrorTable, exc: BaseException, cls: type[e.ScoreError], message: str
) -> None:
    err = translated(table, exc, "op")
    assert type(err) is cls
    assert err.message == message


def test_statuses_and_retryability_follow_the_class() -> None:
    assert isinstance(translated(S3, s3_error("NoSuchKey", 404)), e.NotFoundError)
    assert isinstance(translated(S3, s3_error("InvalidPartOrder")), e.IntegrityError)
    assert isinstance(translated(GCS, gcs.Conflict("x")), e.ConflictError)
    for refused in (s3_error("InvalidAccessKeyId", 403), s3_error("NoSuchBucket", 404)):
        err = translated(S3, refused)
        assert isinstance(err, e.UpstreamUnavailableError) and not err.retryable
    assert translated(S3, s3_error("InternalError", 500)).retryable
    assert translated(AZURE, ServiceRequestError("no route")).retryable


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
