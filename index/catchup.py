"""Bring an index that lags the catalogue up to date without rebuilding it.

An index file written at generation g, loaded after the catalogue moved on (a crash in a
bulk registration, or another process adding references), differs from the catalogue
only by references added or removed since. Catching up is set arithmetic on reference
ids, plus one subtlety: SQLite reuses the highest ids after they are deleted, so an id
present on both sides may name a *different* reference than when the index was written.
Reused ids are always the top of the common ids (an id is reused only when every id
above it was deleted), so they are found by walking the common ids from the top while
the catalogue says they were added after the index was last in step with it (less a
margin: a reference's ``added_at`` is stamped before its transaction waits for the lock).
"""

from __future__ import annotations

import logging

import numpy as np

from index.build import stream_vectors
from index.catalogue import Catalogue
from index.vector_index import VectorIndex

log = logging.getLogger(__name__)

CHUNK = 500
MARGIN_S = 60.0  # longer than SQLite's busy timeout (30 s)


def reused_ids(catalogue: Catalogue, common: np.ndarray, since: float) -> np.ndarray:
    """Reference ids at the top of ``common`` (sorted) that were (re-)added after ``since``."""
    out: list[int] = []
    for end in range(len(common), 0, -CHUNK):
        chunk = common[max(0, end - CHUNK) : end][::-1]
        refs = catalogue.get_references(chunk)
        for rid in chunk:
            ref = refs.get(int(rid))
            if ref is None or ref.added_at <= since:
                return np.array(out, dtype=np.int64)
            out.append(int(rid))
    return np.array(out, dtype=np.int64)


def catch_up(
    index: VectorIndex, catalogue: Catalogue, space: str, dim: int, views: int, synced_at: float
) -> tuple[int, int]:
    """Add what the catalogue has and the index lacks, remove the rest; returns (added, removed) refs.

    ``synced_at`` is when the index last matched the catalogue. The index's ids are read
    before the catalogue's: the catalogue is written first, so anything in the index is
    already in the catalogue unless it was removed since.
    """
    have = np.unique(index.ids() // views)
    want = catalogue.vector_ids(space)
    common = np.intersect1d(have, want, assume_unique=True)
    stale = reused_ids(catalogue, common, synced_at - MARGIN_S)
    gone = np.union1d(np.setdiff1d(have, want, assume_unique=True), stale)
    if len(gone):
        index.remove((gone[:, None] * views + np.arange(views, dtype=np.int64)).ravel())
    missing = np.union1d(np.setdiff1d(want, have, assume_unique=True), stale)
    added = 0
    if len(missing):
        for ids, mat in stream_vectors(catalogue, space, dim, views):
            keep = np.isin(ids // views, missing)
            if keep.any():
                index.add(ids[keep], mat[keep])
                added += int(keep.sum())
    if len(gone) or len(missing):
        log.info("caught up %s: +%d refs (%d vectors), -%d refs", space, len(missing), added, len(gone))
    return len(missing), len(gone)
