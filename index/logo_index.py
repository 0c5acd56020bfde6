"""FAISS index of coarse logo templates: which logos might be in which listing windows.

Every registered logo contributes a few coarse templates (its silhouette at several
rotations, see :mod:`vision.logo_features`). Templates and listing windows are projected
onto the templates' principal components, so one inner-product search of all windows
against all templates of all logos stands in for template matching logo by logo; its cost
grows with the number of logos only through the FAISS search (flat for a few thousand
templates, HNSW beyond). With ``mirrored``, each template is also stored negated, so that a
signed template (e.g. a gradient field) finds a logo lighter than its surroundings as
readily as a darker one; sign-free templates (orientation fields) need no mirror.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

HNSW_FROM = 20_000  # stored rows from which the graph index is used
DENSE_UP_TO = 4_000  # templates up to which an exhaustive matmul replaces the FAISS search


@dataclass
class TemplateHits:
    """Search result: for each hit, the window, the template row, its sign and approximate score."""

    windows: np.ndarray  # (n,) int64 window index (row of the queried vectors)
    templates: np.ndarray  # (n,) int64 template row
    signs: np.ndarray  # (n,) +1 (as drawn) / -1 (inverted)
    scores: np.ndarray  # (n,) float32 approximate correlation
    all_scores: np.ndarray | None = None  # (queries, T) every score, from :meth:`LogoTemplateIndex.hits`


class LogoTemplateIndex:
    """Templates of all logos, searchable by listing windows."""

    def __init__(
        self,
        templates: np.ndarray,
        support: np.ndarray,
        dims: int = 32,
        mirrored: bool = False,
        basis: np.ndarray | None = None,
    ) -> None:
        """``templates``: (T, P) zero-mean unit-norm rows; ``support``: (T,) pixels each covers.

        ``basis``: the templates' principal components as an earlier index of the same templates
        found them (its :attr:`basis`), to skip the SVD; ValueError when its shape does not fit.
        """
        self.count = len(templates)
        self.copies = 2 if mirrored else 1
        p = templates.shape[1] if templates.ndim == 2 else 0
        self.dims = max(1, min(dims, self.count, p))
        if self.count == 0:
            self.basis = np.zeros((self.dims, p), np.float32)
            self.matrix = np.zeros((0, self.dims), np.float32)
            self.index = faiss.IndexFlatIP(self.dims)
            return
        if basis is None:
            _, _, vt = np.linalg.svd(templates.astype(np.float64), full_matrices=False)
            basis = vt[: self.dims]
        elif basis.shape != (self.dims, p):
            raise ValueError(f"basis of shape {basis.shape} for {self.dims} dims of {p}")
        self.basis = np.ascontiguousarray(basis.astype(np.float32))
        # Scale each template so that window . template ~ correlation over its own support.
        weight = np.sqrt(p / np.maximum(support, 1.0)).astype(np.float32)[:, None]
        proj = (templates @ self.basis.T) * weight
        self.matrix = np.ascontiguousarray(proj.astype(np.float32))  # (T, dims) as stored (unmirrored)
        both = np.ascontiguousarray((np.vstack([proj, -proj]) if mirrored else proj).astype(np.float32))
        if len(both) >= HNSW_FROM:
            self.index = faiss.IndexHNSWFlat(self.dims, 32, faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.efSearch = 64
        else:
            self.index = faiss.IndexFlatIP(self.dims)
        self.index.add(both)

    def __len__(self) -> int:
        return self.count

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """Listing windows (zero-mean, normalised) in the index's space."""
        return np.ascontiguousarray(vectors @ self.basis.T, dtype=np.float32)

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """Approximate correlation of every projected window with every template: (n, T), exhaustive.

        Cheaper than :meth:`search` while templates are few (the product is one small matmul),
        and it keeps every template's score, so each logo's best windows can be taken.
        """
        return vectors @ self.matrix.T

    def hits(self, vectors: np.ndarray, k: int = 2, min_score: float = 0.5) -> TemplateHits:
        """:meth:`search` done exhaustively by :meth:`scores` (exact in the projected space), keeping all scores."""
        if self.count == 0 or len(vectors) == 0:
            return self.search(vectors, k, min_score)
        raw = self.scores(vectors)
        both = np.hstack([raw, -raw]) if self.copies == 2 else raw
        k = min(k, both.shape[1])
        # the k best columns by repeated argmax: far cheaper than argpartition on short rows
        work = both.copy() if k > 1 else both
        picks, vals = [], []
        for j in range(k):
            col = np.argmax(work, axis=1)
            picks.append(col)
            vals.append(work[np.arange(len(work)), col])
            if j + 1 < k:
                work[np.arange(len(work)), col] = -np.inf
        top, sc = np.stack(picks, axis=1), np.stack(vals, axis=1)
        keep = sc >= min_score
        windows = np.nonzero(keep)[0].astype(np.int64)
        rows = top[keep].astype(np.int64)
        return TemplateHits(
            windows=windows,
            templates=rows % self.count,
            signs=np.where(rows < self.count, 1, -1),
            scores=sc[keep].astype(np.float32),
            all_scores=raw,
        )

    def search(self, vectors: np.ndarray, k: int = 2, min_score: float = 0.5) -> TemplateHits:
        """The ``k`` best templates per window (``vectors``: projected windows), kept above ``min_score``."""
        if self.count == 0 or len(vectors) == 0:
            empty = np.zeros(0, np.int64)
            return TemplateHits(empty, empty, empty, np.zeros(0, np.float32))
        scores, rows = self.index.search(vectors, min(k, self.copies * self.count))
        keep = (scores >= min_score) & (rows >= 0)
        windows = np.nonzero(keep)[0].astype(np.int64)
        rows = rows[keep]
        return TemplateHits(
            windows=windows,
            templates=rows % self.count,
            signs=np.where(rows < self.count, 1, -1),
            scores=scores[keep].astype(np.float32),
        )
