"""Index backends by name: what :class:`index.space.VectorSpace` builds and loads for each."""

from __future__ import annotations

from pathlib import Path

from index.vector_index import FaissIndex

BACKENDS = ("flat",)


def backend_options(name: str, home: Path) -> dict:
    """``factory``/``loader`` keyword arguments for a VectorSpace using backend ``name``."""
    if name == "flat":
        return {"factory": lambda dim: FaissIndex(dim), "loader": lambda path: FaissIndex.load(path)}
    raise ValueError(f"unknown index backend {name!r}; known: {', '.join(BACKENDS)}")
