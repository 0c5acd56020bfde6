"""Who is calling: API keys from ``Authorization: Bearer`` or ``X-API-Key``, roles, and brand scope.

Missing or unknown keys get 401. A key of the wrong role gets 403. A brand key asking for
any other brand's resources gets 403 without learning whether that brand exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from authcheck.app import Authcheck
from authcheck.keys import Principal, authenticate
from index.catalogue import Brand, CatalogueError

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def get_authcheck(request: Request) -> Authcheck:
    """The process's shared :class:`Authcheck` (created at startup)."""
    return request.app.state.authcheck


# Declared as security schemes so that /docs offers an "Authorize" button for either header.
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_header_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key itself")


async def get_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header_key: Annotated[str | None, Depends(_header_key)],
) -> Principal:
    """The caller's principal; 401 without a valid, live key.

    Runs on the event loop: one indexed SQLite read (WAL readers never wait for writers) is
    cheaper than a hop to the thread pool.
    """
    secret = (bearer.credentials.strip() if bearer else "") or header_key
    if not secret:
        message = "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
        raise HTTPException(401, message, headers=_CHALLENGE)
    principal = authenticate(get_authcheck(request).catalogue, secret)
    if principal is None:
        raise HTTPException(401, "invalid or revoked API key", headers=_CHALLENGE)
    request.state.principal = principal
    return principal


def require(*roles: str) -> Callable[..., Principal]:
    """A dependency admitting only keys of ``roles``."""

    async def dependency(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if principal.role not in roles:
            raise HTTPException(403, f"a {principal.role} key cannot do this (needs: {' or '.join(roles)})")
        return principal

    return dependency


def check_brand_access(app: Authcheck, principal: Principal, brand: str) -> Brand:
    """The brand if ``principal`` may manage it: admins any existing brand, brand keys only their own."""
    if principal.role == "brand" and principal.brand != brand:
        raise HTTPException(403, f"this key manages brand {principal.brand!r} only")
    if principal.role not in ("admin", "brand"):
        raise HTTPException(403, f"a {principal.role} key cannot manage brands")
    try:
        return app.catalogue.get_brand(brand)
    except CatalogueError:
        raise HTTPException(404, f"no brand {brand!r}") from None


async def brand_access(
    brand: str,
    request: Request,
    principal: Annotated[Principal, Depends(require("admin", "brand"))],
) -> Brand:
    """Path dependency for ``/brands/{brand}/...``: the brand, if the caller may manage it."""
    return check_brand_access(get_authcheck(request), principal, brand)
