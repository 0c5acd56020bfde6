"""Request bodies and the JSON views of catalogue objects."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from index.catalogue import Brand, Reference

Decision = Literal["confirm", "dismiss", "authorise"]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]


class BrandCreate(BaseModel):
    """A brand to create (idempotent), with optional sellers and wordmarks."""

    name: Name
    authorised_sellers: list[Name] = Field(default_factory=list, max_length=10_000)
    wordmarks: list[Name] = Field(default_factory=list, max_length=1000)


class SellersBody(BaseModel):
    """Seller ids to authorise."""

    sellers: list[Name] = Field(min_length=1, max_length=10_000)


class WordmarksBody(BaseModel):
    """Wordmarks (the brand name as printed) to add."""

    wordmarks: list[Name] = Field(min_length=1, max_length=1000)


class KeyCreate(BaseModel):
    """A key to create; ``brand`` only (and always) for brand keys."""

    role: Literal["admin", "brand", "marketplace"]
    brand: str | None = None
    label: str = Field(default="", max_length=200)


class DecisionBody(BaseModel):
    """A reviewer's decision on a flagged screening.

    ``confirm``: the listing infringes; ``dismiss``: a false positive; ``authorise``: the seller
    is authorised, and is added to the authorised sellers of ``brands`` (default: every brand
    the screening matched).
    """

    decision: Decision
    note: str = Field(default="", max_length=5000)
    brands: list[Name] | None = None


def brand_json(brand: Brand, counts: dict[str, int] | None = None) -> dict:
    """A brand as JSON."""
    out: dict = {
        "name": brand.name,
        "authorised_sellers": list(brand.authorised_sellers),
        "wordmarks": list(brand.wordmarks),
    }
    if counts is not None:
        out["references"] = counts
    return out


def reference_json(ref: Reference) -> dict:
    """A reference as JSON (the stored copy is served separately)."""
    return {
        "id": ref.id,
        "brand": ref.brand,
        "kind": ref.kind,
        "source": ref.source,
        "sha256": ref.sha256,
        "model": ref.model,
        "width": ref.width,
        "height": ref.height,
        "added_at": ref.added_at,
    }
