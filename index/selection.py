"""Which vector ids a filtered search may return, without spelling every id out.

A brand-scoped search allows every view of the brand's references: vector ids
``ref_id * views + view``. For a large brand, expanding that into an id list (64 ids per
reference) costs memory and time, so :class:`RefSelection` keeps the reference ids and
builds, on demand, a FAISS bitmap selector over vector ids (one byte per 8 ids; with 64
views a reference owns 8 whole bytes, so the bitmap is filled with one numpy assignment).
"""

from __future__ import annotations

import faiss
import numpy as np


class RefSelection:
    """All views of a set of references, as vector ids ``ref * views + view``.

    Behaves like the expanded id array where a plain array is expected (``np.asarray``,
    ``len``), so backends that only take id lists keep working.
    """

    def __init__(self, ref_ids: np.ndarray, views: int) -> None:
        if views % 8:
            raise ValueError("views must be a multiple of 8 for the bitmap layout")
        self.ref_ids = np.unique(np.asarray(ref_ids, dtype=np.int64).ravel())
        self.ref_ids = self.ref_ids[self.ref_ids >= 0]
        self.views = views
        self._bitmap: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ref_ids) * self.views

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        ids = (self.ref_ids[:, None] * self.views + np.arange(self.views, dtype=np.int64)).ravel()
        return ids if dtype is None else ids.astype(dtype)

    @property
    def ref_count(self) -> int:
        """Number of references selected."""
        return len(self.ref_ids)

    def bitmap(self) -> np.ndarray:
        """Bit ``v`` set for every allowed vector id ``v`` (FAISS ``IDSelectorBitmap`` layout)."""
        if self._bitmap is None:
            top = int(self.ref_ids[-1]) + 1 if len(self.ref_ids) else 0
            per_ref = self.views // 8
            bits = np.zeros((top, per_ref), dtype=np.uint8)
            bits[self.ref_ids] = 0xFF
            self._bitmap = bits.ravel()
        return self._bitmap

    def contains(self, vector_ids: np.ndarray) -> np.ndarray:
        """Boolean mask: which of ``vector_ids`` are allowed."""
        refs = np.asarray(vector_ids, dtype=np.int64) // self.views
        pos = np.searchsorted(self.ref_ids, refs)
        pos = np.minimum(pos, max(len(self.ref_ids) - 1, 0))
        return (np.asarray(vector_ids) >= 0) & (len(self.ref_ids) > 0) & (self.ref_ids[pos] == refs)


class Selector:
    """A FAISS ``IDSelector`` for allowed ids, holding the memory it points into."""

    def __init__(self, allowed: np.ndarray | RefSelection) -> None:
        if isinstance(allowed, RefSelection):
            self._keep = allowed.bitmap()
            self.selector = faiss.IDSelectorBitmap(len(self._keep), faiss.swig_ptr(self._keep))
        else:
            self._keep = np.ascontiguousarray(allowed, dtype=np.int64)
            self.selector = faiss.IDSelectorBatch(self._keep)


def allowed_count(allowed: np.ndarray | RefSelection) -> int:
    """How many references/ids the selection names (references for a :class:`RefSelection`)."""
    return allowed.ref_count if isinstance(allowed, RefSelection) else len(allowed)
