"""Brands, their authorised sellers and wordmarks.

Admins create brands and see them all; a brand key sees and changes only its own brand;
marketplace keys may list brands (to filter the review queue).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request

from authcheck.api.auth import brand_access, get_authcheck, require
from authcheck.api.schemas import BrandCreate, SellersBody, WordmarksBody, brand_json
from authcheck.keys import Principal
from index.catalogue import Brand

router = APIRouter(prefix="/brands", tags=["brands"])
Admin = Depends(require("admin"))
AnyKey = Depends(require("admin", "brand", "marketplace"))
OwnBrand = Depends(brand_access)


def _actor(request: Request) -> str:
    return request.state.principal.actor


def _counts(request: Request, name: str) -> dict[str, int]:
    return get_authcheck(request).catalogue.brand_counts().get(name, {"catalogue": 0, "logo": 0})


@router.get("")
def list_brands(request: Request, principal: Principal = AnyKey) -> dict:
    """Brands with their reference counts; a brand key sees only its own."""
    core = get_authcheck(request)
    counts = core.catalogue.brand_counts()
    brands = core.list_brands()
    if principal.role == "brand":
        brands = [b for b in brands if b.name == principal.brand]
    return {"brands": [brand_json(b, counts.get(b.name, {"catalogue": 0, "logo": 0})) for b in brands]}


@router.post("", status_code=201)
def create_brand(body: BrandCreate, request: Request, principal: Principal = Admin) -> dict:
    """Create a brand (idempotent: an existing brand gets the sellers and wordmarks added)."""
    core = get_authcheck(request)
    brand = core.add_brand(body.name.strip(), body.authorised_sellers, body.wordmarks, actor=principal.actor)
    return brand_json(brand, _counts(request, brand.name))


@router.get("/{brand}")
def get_brand(request: Request, brand: Brand = OwnBrand) -> dict:
    """One brand."""
    return brand_json(brand, _counts(request, brand.name))


@router.get("/{brand}/sellers")
def list_sellers(brand: Brand = OwnBrand) -> dict:
    """The brand's authorised sellers."""
    return {"brand": brand.name, "authorised_sellers": list(brand.authorised_sellers)}


@router.post("/{brand}/sellers")
def authorise_sellers(body: SellersBody, request: Request, brand: Brand = OwnBrand) -> dict:
    """Authorise sellers to show the brand's marks (their listings get ``logo_authorised``, not a flag)."""
    updated = get_authcheck(request).authorise(brand.name, body.sellers, actor=_actor(request))
    return {"brand": updated.name, "authorised_sellers": list(updated.authorised_sellers)}


@router.delete("/{brand}/sellers/{seller_id}")
def revoke_seller(seller_id: str, request: Request, brand: Brand = OwnBrand) -> dict:
    """Withdraw one seller's authorisation."""
    if seller_id not in brand.authorised_sellers:
        raise HTTPException(404, f"seller {seller_id!r} is not authorised for {brand.name!r}")
    updated = get_authcheck(request).revoke(brand.name, [seller_id], actor=_actor(request))
    return {"brand": updated.name, "authorised_sellers": list(updated.authorised_sellers)}


@router.get("/{brand}/wordmarks")
def list_wordmarks(brand: Brand = OwnBrand) -> dict:
    """The brand's wordmarks (its name as printed on products)."""
    return {"brand": brand.name, "wordmarks": list(brand.wordmarks)}


@router.post("/{brand}/wordmarks")
def add_wordmarks(body: WordmarksBody, request: Request, brand: Brand = OwnBrand) -> dict:
    """Add wordmarks."""
    catalogue = get_authcheck(request).catalogue
    updated = catalogue.set_wordmarks(brand.name, body.wordmarks, present=True)
    catalogue.audit(_actor(request), "wordmark.add", f"brand:{brand.name}", {"wordmarks": body.wordmarks})
    return {"brand": updated.name, "wordmarks": list(updated.wordmarks)}


@router.delete("/{brand}/wordmarks/{text}")
def remove_wordmark(text: str, request: Request, brand: Brand = OwnBrand) -> dict:
    """Remove one wordmark."""
    if text not in brand.wordmarks:
        raise HTTPException(404, f"brand {brand.name!r} has no wordmark {text!r}")
    catalogue = get_authcheck(request).catalogue
    updated = catalogue.set_wordmarks(brand.name, [text], present=False)
    catalogue.audit(_actor(request), "wordmark.remove", f"brand:{brand.name}", {"wordmarks": [text]})
    return {"brand": updated.name, "wordmarks": list(updated.wordmarks)}
