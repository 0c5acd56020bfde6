"""API keys: generation, hashing and lookup.

A key is a random secret shown once at creation; the catalogue stores only its SHA-256
and a short prefix (to tell keys apart in listings). Roles:

- ``admin``: creates brands and keys, may do everything;
- ``brand``: manages one brand's references, sellers and wordmarks, nothing else;
- ``marketplace``: screens listings and works the review queue.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from index.catalogue import Catalogue, CatalogueError

ROLES = ("admin", "brand", "marketplace")
KEY_PREFIX = "ack_"  # makes leaked keys easy to grep for
_PREFIX_CHARS = 12  # "ack_" + 8 characters of the secret, stored in clear for listings


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: the live key behind it."""

    key_id: int
    role: str
    brand: str | None
    label: str

    @property
    def actor(self) -> str:
        """How the principal appears in audit records and reviews."""
        name = self.label or self.role
        return f"{name} (key {self.key_id})"

    def to_dict(self) -> dict:
        """JSON-ready description (never the secret)."""
        return {"key_id": self.key_id, "role": self.role, "brand": self.brand, "label": self.label}


def hash_key(secret: str) -> str:
    """Hex SHA-256 of a key; what the catalogue stores. Keys carry 256 random bits, so no salt is needed."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    """A fresh random key (256 bits, URL-safe)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create_key(catalogue: Catalogue, role: str, brand: str | None = None, label: str = "") -> tuple[int, str]:
    """Create and store a key; returns (key id, secret). Only its hash is kept: the secret is shown once."""
    if role not in ROLES:
        raise CatalogueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if role == "brand" and not brand:
        raise CatalogueError("a brand key needs --brand")
    if role != "brand" and brand:
        raise CatalogueError(f"only brand keys belong to a brand; a {role} key takes no brand")
    secret = new_secret()
    key_id = catalogue.add_api_key(hash_key(secret), secret[:_PREFIX_CHARS], role, brand, label)
    return key_id, secret


def authenticate(catalogue: Catalogue, secret: str | None) -> Principal | None:
    """The principal of a live key, or None for a missing, unknown or revoked one."""
    if not secret or not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        return None
    return principal_for_hash(catalogue, hash_key(secret))


def principal_for_hash(catalogue: Catalogue, key_hash: str) -> Principal | None:
    """The principal of a live key given its stored hash (for sessions that keep only the hash)."""
    row = catalogue.find_api_key(key_hash)
    if row is None:
        return None
    return Principal(key_id=int(row["id"]), role=row["role"], brand=row["brand"], label=row["label"] or "")


__all__ = ["KEY_PREFIX", "ROLES", "Principal", "authenticate", "create_key", "hash_key", "principal_for_hash"]
