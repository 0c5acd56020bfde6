"""Service health and the caller's identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from authcheck.api.auth import get_authcheck, get_principal
from authcheck.app import Authcheck
from authcheck.keys import Principal

router = APIRouter(tags=["service"])


@router.get("/health")
def health(core: Annotated[Authcheck, Depends(get_authcheck)]) -> dict:
    """Liveness (no key needed): the model in use, how many references are registered, and the logos
    searched: how many, whether they are the catalogue's current logos and whether a rebuild is running
    (after logos change the service keeps searching the previous ones until it is done)."""
    return {
        "status": "ok",
        "model": core.card.name,
        "references": core.catalogue.count_references(),
        "logos": core.logos.state(),
    }


@router.get("/me")
def me(principal: Annotated[Principal, Depends(get_principal)]) -> dict:
    """The role (and brand) of the calling key."""
    return principal.to_dict()
