"""Vector indexes: the one small interface every backend implements, and the exact FAISS one.

A :class:`VectorIndex` maps int64 ids to unit-length float32 vectors and answers
inner-product (cosine) nearest-neighbour queries, optionally restricted to a set of ids.
"""

from __future__ import annotations

import json
import os
import threading
from abc import ABC, abstractmethod
from pathlib import Path

import faiss
import numpy as np


class VectorIndex(ABC):
    """Interface of a vector index backend (build / add / remove / search / save / load)."""

    kind: str = "abstract"

    def __init__(self, dim: int) -> None:
        self.dim = dim

    @abstractmethod
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under int64 ids (ids must not already be present)."""

    @abstractmethod
    def remove(self, ids: np.ndarray) -> int:
        """Remove ids; returns how many were present."""

    @abstractmethod
    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (similarities, ids) per query row; missing slots are (-inf, -1)."""

    @abstractmethod
    def ids(self) -> np.ndarray:
        """All ids held, sorted."""

    @abstractmethod
    def __len__(self) -> int: ...

    def save(self, path: Path) -> None:
        """Persist to ``path`` (atomically); backends without files may do nothing."""
        return None

    def info(self) -> dict:
        """Describes the index (type, size, parameters) for the infos file beside it."""
        return {"kind": self.kind, "dim": self.dim, "count": len(self)}


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via temp file + fsync + rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _as_matrix(vectors: np.ndarray, dim: int) -> np.ndarray:
    mat = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)
    return mat


class FaissIndex(VectorIndex):
    """Any FAISS index wrapped in an ``IndexIDMap2``; the default is exact inner product (flat)."""

    kind = "flat"

    def __init__(self, dim: int, index: faiss.Index | None = None, kind: str = "flat") -> None:
        super().__init__(dim)
        self.kind = kind
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.search_params: dict[str, float] = {}

    @property
    def faiss_index(self) -> faiss.Index:
        """The wrapped FAISS index (for backends that tune it)."""
        return self._index

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64).ravel()
        if len(ids) == 0:
            return
        mat = _as_matrix(vectors, self.dim)
        if len(mat) != len(ids):
            raise ValueError(f"{len(ids)} ids for {len(mat)} vectors")
        self._index.add_with_ids(mat, ids)

    def remove(self, ids: np.ndarray) -> int:
        ids = np.ascontiguousarray(ids, dtype=np.int64).ravel()
        if len(ids) == 0:
            return 0
        return int(self._index.remove_ids(faiss.IDSelectorBatch(ids)))

    def _params(self, allowed_ids: np.ndarray | None) -> faiss.SearchParameters | None:
        if allowed_ids is None:
            return None
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed_ids, dtype=np.int64))
        return faiss.SearchParameters(sel=selector)

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        mat = _as_matrix(queries, self.dim)
        if len(self) == 0 or len(mat) == 0 or (allowed_ids is not None and len(allowed_ids) == 0):
            return (
                np.full((len(mat), k), -np.inf, dtype=np.float32),
                np.full((len(mat), k), -1, dtype=np.int64),
            )
        params = self._params(allowed_ids)
        sims, ids = self._index.search(mat, k, params=params) if params else self._index.search(mat, k)
        sims = np.where(ids < 0, -np.inf, sims).astype(np.float32)
        return sims, ids

    def ids(self) -> np.ndarray:
        return np.sort(faiss.vector_to_array(self._index.id_map).astype(np.int64))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def save(self, path: Path) -> None:
        atomic_write_bytes(path, faiss.serialize_index(self._index).tobytes())

    @classmethod
    def load(cls, path: Path, kind: str = "flat") -> FaissIndex:
        """Read a FAISS index written by :meth:`save`."""
        index = faiss.deserialize_index(np.fromfile(path, dtype=np.uint8))
        return cls(index.d, index, kind=kind)


def write_infos(path: Path, infos: dict) -> None:
    """Write the JSON infos file that sits beside an index file."""
    atomic_write_bytes(path, json.dumps(infos, indent=2, sort_keys=True).encode())


def read_infos(path: Path) -> dict | None:
    """Read an infos file; None if missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
