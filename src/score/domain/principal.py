"""Reading scopes out of token claims (pure; the verifier supplies verified claims)."""

from __future__ import annotations

from collections.abc import Mapping


def scopes_from_claims(claims: Mapping[str, object]) -> frozenset[str]:
    """Collect scopes from the claim shapes in use.

    Sources: the OAuth2 ``scope`` string (space separated), ``scp`` (string or list), Ego's
    ``context.scope`` list, and Keycloak's UMA permissions (``authorization.permissions``:
    resource ``rsname`` + each of its ``scopes``, e.g. ``score`` + ``WRITE`` -> ``score.WRITE``).
    """
    found: set[str] = set()
    scope = claims.get("scope")
    if isinstance(scope, str):
        found.update(scope.split())
    elif isinstance(scope, list):
        found.update(str(s) for s in scope)
    scp = claims.get("scp")
    if isinstance(scp, str):
        found.update(scp.split())
    elif isinstance(scp, list):
        found.update(str(s) for s in scp)
    context = claims.get("context")
    if isinstance(context, Mapping):
        ctx_scope = context.get("scope")
        if isinstance(ctx_scope, list):
            found.update(str(s) for s in ctx_scope)
    authorization = claims.get("authorization")
    if isinstance(authorization, Mapping):
        permissions = authorization.get("permissions")
        if isinstance(permissions, list):
            for perm in permissions:
                if not isinstance(perm, Mapping):
                    continue
                resource, perm_scopes = perm.get("rsname"), perm.get("scopes")
                if isinstance(resource, str) and resource and isinstance(perm_scopes, list):
                    found.update(f"{resource}.{s}" for s in perm_scopes if isinstance(s, str) and s)
    return frozenset(s for s in found if s)
