"""Request-scoped dependencies: the caller's Principal and the services."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from score.domain.errors import UnauthenticatedError
from score.domain.model import ANONYMOUS, Principal
from score.domain.ports import TokenVerifier
from score.services.download import DownloadService
from score.services.upload import UploadService


async def current_principal(request: Request) -> Principal:
    """Verify the bearer token if one is sent; anonymous otherwise.

    Raises:
        UnauthenticatedError: a malformed Authorization header or an invalid token.
    """
    header = request.headers.get("authorization")
    if not header:
        return ANONYMOUS
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthenticatedError("the Authorization header must be 'Bearer <token>'", reason="malformed_header")
    verifier: TokenVerifier = request.app.state.verifier
    principal = await verifier.verify(token.strip())
    request.state.token_hash = principal.token_hash
    return principal


async def authenticated(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """Like :func:`current_principal`, but anonymous callers are refused."""
    if principal.is_anonymous:
        raise UnauthenticatedError("a bearer token is required", reason="no_token")
    return principal


def upload_service(request: Request) -> UploadService:
    """The upload use cases."""
    svc: UploadService = request.app.state.upload_service
    return svc


def download_service(request: Request) -> DownloadService:
    """The download use cases."""
    svc: DownloadService = request.app.state.download_service
    return svc


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
AuthenticatedPrincipal = Annotated[Principal, Depends(authenticated)]
UploadSvc = Annotated[UploadService, Depends(upload_service)]
DownloadSvc = Annotated[DownloadService, Depends(download_service)]
