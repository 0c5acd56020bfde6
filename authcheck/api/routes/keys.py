"""API keys, for admins: create (the secret is returned once), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from authcheck.api.auth import get_authcheck, require
from authcheck.api.schemas import KeyCreate
from authcheck.keys import Principal, create_key

router = APIRouter(prefix="/keys", tags=["keys"])
Admin = Depends(require("admin"))


@router.post("", status_code=201)
def create(body: KeyCreate, request: Request, principal: Principal = Admin) -> dict:
    """Create a key. The response holds its secret; it cannot be shown again."""
    core = get_authcheck(request)
    key_id, secret = create_key(core.catalogue, body.role, body.brand, body.label)
    detail = {"role": body.role, "brand": body.brand}
    core.catalogue.audit(principal.actor, "key.create", f"key:{key_id}", detail)
    return {"id": key_id, "role": body.role, "brand": body.brand, "label": body.label, "key": secret}


@router.get("")
def list_keys(request: Request, principal: Principal = Admin) -> dict:
    """All keys, with prefixes only."""
    return {"keys": get_authcheck(request).catalogue.list_api_keys()}


@router.delete("/{key_id}", status_code=204)
def revoke(key_id: int, request: Request, principal: Principal = Admin) -> Response:
    """Revoke a key; it stops working at once (also for web sessions opened with it)."""
    core = get_authcheck(request)
    if not core.catalogue.revoke_api_key(key_id):
        raise HTTPException(404, f"no live key {key_id}")
    core.catalogue.audit(principal.actor, "key.revoke", f"key:{key_id}", {})
    return Response(status_code=204)
