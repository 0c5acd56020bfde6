"""A vector space: one vector index kept consistent with the catalogue and persisted beside it.

The catalogue holds the truth (each reference's vectors per space, plus a generation
counter per space). The index file on disk carries the generation it was written at; if
it is missing, unreadable or behind, it is rebuilt from the catalogue's vectors. A
reference may own several vectors in a space (e.g. views of a logo): vector ids are
``ref_id * VIEWS + view`` and searches report the best view per reference.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from index.build import build_index
from index.catalogue import Catalogue
from index.catchup import catch_up
from index.selection import RefSelection
from index.vector_index import FaissIndex, VectorIndex, read_infos, write_infos

VIEWS = 64  # vectors a reference may own in one space

log = logging.getLogger(__name__)

IndexFactory = Callable[..., VectorIndex]  # (dim, count=..., space=...) -> empty index


def to_vector_ids(ref_id: int, count: int) -> np.ndarray:
    """Vector ids of a reference's ``count`` vectors."""
    if count > VIEWS:
        raise ValueError(f"at most {VIEWS} vectors per reference, got {count}")
    return np.arange(count, dtype=np.int64) + np.int64(ref_id) * VIEWS


def to_ref_ids(vector_ids: np.ndarray) -> np.ndarray:
    """Reference ids of vector ids (-1 stays -1)."""
    return np.where(vector_ids < 0, -1, vector_ids // VIEWS)


class VectorSpace:
    """Named vector space ``name`` of dimension ``dim`` stored under ``directory``."""

    def __init__(
        self,
        catalogue: Catalogue,
        directory: str | Path,
        name: str,
        dim: int,
        factory: IndexFactory | None = None,
        loader: Callable[[Path], VectorIndex] | None = None,
        build_options: dict | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.name = name
        self.dim = dim
        self.directory = Path(directory)
        safe = name.replace(":", "__").replace("/", "_")
        self.index_path = self.directory / f"{safe}.faiss"
        self.infos_path = self.directory / f"{safe}.json"
        self._factory: IndexFactory = factory or (lambda d: FaissIndex(d))
        self._loader = loader or (lambda p: FaissIndex.load(p))
        self._lock = threading.RLock()
        self._index: VectorIndex | None = None
        self._generation = -1
        self._dirty = False
        self._synced_at = 0.0  # when the index last matched the catalogue (for catch-up)
        self.build_options: dict = dict(build_options or {})  # keyword arguments for index.build.build_index
        self._selection: tuple[np.ndarray, RefSelection] | None = None

    # -- loading -------------------------------------------------------------------------
    def _load_or_rebuild(self) -> None:
        want = self.catalogue.generation(self.name)
        infos = read_infos(self.infos_path)
        if infos and self.index_path.exists() and int(infos.get("generation", -1)) <= want:
            try:
                index = self._loader(self.index_path)
                if index.dim == self.dim:
                    synced = float(infos.get("synced_at") or infos.get("written_at") or 0.0)
                    self._index, self._generation, self._dirty, self._synced_at = index, want, False, synced
                    # behind (a crash mid-registration), or index and infos from different writes
                    # (a crash between the two, a server backend that kept writing): catch up
                    if int(infos["generation"]) < want or len(index) != int(infos.get("count", -1)):
                        self._catch_up(want)
                    return
                log.warning(
                    "index %s has dimension %d, not %d; rebuilding", self.index_path, index.dim, self.dim
                )
            except Exception as exc:  # corrupt file, other backend: rebuild from the catalogue
                log.warning("index %s unreadable (%s); rebuilding", self.index_path, exc)
        self.rebuild()

    def _catch_up(self, want: int) -> None:
        """Apply the catalogue's changes since the index was last in step with it."""
        assert self._index is not None
        now = time.time()
        catch_up(self._index, self.catalogue, self.name, self.dim, VIEWS, self._synced_at)
        self._generation, self._synced_at, self._dirty = want, now, True

    def rebuild(self, **options) -> None:
        """Rebuild the index from the catalogue's vectors (streamed, never all in memory) and persist it.

        ``options`` override :attr:`build_options` (see :func:`index.build.build_index`).
        """
        with self._lock:
            start = time.perf_counter()
            synced = time.time()
            want = self.catalogue.generation(self.name)
            if self._index is not None and hasattr(self._index, "close"):
                self._index.close()
            self._index = None
            opts = {**self.build_options, **options}
            index = build_index(self._factory, self.catalogue, self.name, self.dim, views=VIEWS, **opts)
            self._index, self._generation, self._dirty, self._synced_at = index, want, True, synced
            self.flush()
            log.info("rebuilt %s: %d vectors in %.2fs", self.name, len(index), time.perf_counter() - start)

    def needs_rebuild(self) -> str | None:
        """Why the index should be rebuilt (outgrown its kind or its training), or None."""
        check = getattr(self.index, "needs_rebuild", None)
        return check() if callable(check) else None

    def close(self) -> None:
        """Flush and release the index (connections of server backends)."""
        with self._lock:
            self.flush()
            if self._index is not None and hasattr(self._index, "close"):
                self._index.close()
            self._index = None

    @property
    def index(self) -> VectorIndex:
        """The loaded index (loaded or rebuilt on first use)."""
        with self._lock:
            if self._index is None:
                self._load_or_rebuild()
            assert self._index is not None
            return self._index

    def refresh(self) -> bool:
        """Pick up changes another process made to the catalogue; True if reloaded."""
        with self._lock:
            want = self.catalogue.generation(self.name)
            if self._index is not None and want == self._generation:
                return False
            if self._index is not None and want > self._generation:
                self._catch_up(want)  # cheaper than reloading: apply the difference
            else:
                self._index = None
                self._load_or_rebuild()
            return True

    # -- changes (the catalogue is written first, then the index follows) -----------------
    def add(self, ref_ids: list[int], vectors: list[np.ndarray]) -> None:
        """Add references' vectors (already committed to the catalogue)."""
        with self._lock:
            index = self.index
            ids = [
                to_vector_ids(r, len(v.reshape(-1, self.dim))) for r, v in zip(ref_ids, vectors, strict=True)
            ]
            if not ids:
                return
            index.add(np.concatenate(ids), np.concatenate([v.reshape(-1, self.dim) for v in vectors]))
            self._synced_at = time.time()
            self._generation = self.catalogue.generation(self.name)
            self._dirty = True

    def remove(self, ref_ids: list[int]) -> None:
        """Remove references (already deleted from the catalogue)."""
        with self._lock:
            index = self.index
            if ref_ids:
                index.remove(np.concatenate([to_vector_ids(r, VIEWS) for r in ref_ids]))
            self._synced_at = time.time()
            self._generation = self.catalogue.generation(self.name)
            self._dirty = True

    def flush(self) -> None:
        """Persist the index and its infos if changed since the last flush."""
        with self._lock:
            if self._index is None or not self._dirty:
                return
            on_disk = read_infos(self.infos_path) or {}
            if int(on_disk.get("generation", -1)) > self._generation and self.index_path.exists():
                self._dirty = False  # another process wrote a newer index: keep it
                return
            self._index.save(self.index_path)
            infos = self._index.info()
            infos.update(
                {
                    "space": self.name,
                    "generation": self._generation,
                    "written_at": time.time(),
                    "synced_at": self._synced_at,
                }
            )
            write_infos(self.infos_path, infos)
            self._dirty = False

    # -- queries -------------------------------------------------------------------------
    def search(
        self, queries: np.ndarray, k: int, allowed_ref_ids: np.ndarray | None = None
    ) -> list[list[tuple[int, float, int]]]:
        """Per query row, up to ``k`` (ref_id, similarity, view) best first, one entry per reference."""
        allowed = self._selection_for(allowed_ref_ids)
        index = self.index
        fetch = min(max(k * 4, k), max(len(index), 1))
        sims, vids = index.search(queries, fetch, allowed)
        out: list[list[tuple[int, float, int]]] = []
        for row_s, row_v in zip(sims, vids, strict=True):
            seen: dict[int, tuple[int, float, int]] = {}
            for s, v in zip(row_s, row_v, strict=True):
                if v < 0:
                    continue
                rid = int(v // VIEWS)
                if rid not in seen:
                    seen[rid] = (rid, float(s), int(v % VIEWS))
                    if len(seen) == k:
                        break
            out.append(list(seen.values()))
        return out

    def _selection_for(self, allowed_ref_ids: np.ndarray | None) -> RefSelection | None:
        """The allowed references as a selection, reused while the caller passes the same array."""
        if allowed_ref_ids is None:
            return None
        cached = self._selection
        if cached is not None and cached[0] is allowed_ref_ids:
            return cached[1]
        selection = RefSelection(np.asarray(allowed_ref_ids), VIEWS)
        self._selection = (allowed_ref_ids, selection)
        return selection

    def __len__(self) -> int:
        return len(self.index)
