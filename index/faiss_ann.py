"""FAISS indexes for every catalogue size: exact flat, IVF-SQ8, IVF fast-scan PQ re-ranked with
8-bit codes (``ivf_fs``, :class:`FastScanIndex`) and IVF-PQ.

All of them keep the caller's int64 ids (flat through an ``IndexIDMap2``, IVF natively),
support removal, and honour allowed-id filters (:mod:`index.selection`) inside FAISS. A
filtered IVF search probes more lists the smaller the allowed share, so a small brand is
searched (almost) exhaustively over its own codes and a big one keeps the usual cost.
Files are written with ``faiss.write_index`` and read with ``faiss.read_index`` (no
second copy of the index in memory); parameters and measurements travel in the infos
JSON beside the file (``<name>.json``), which :func:`load_faiss` reads back.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

from index.choose import IndexPlan, estimated_bytes
from index.selection import RefSelection, Selector, allowed_count
from index.vector_index import FaissIndex, VectorIndex, read_infos

# Searches here are a handful of queries at a time on a small shared machine: OpenMP fan-out
# costs more than it gains (one 20k flat query under load: p50 8 ms on 1 thread, 31 ms on 2).
# Builds use every core (see build_threads). AUTHCHECK_FAISS_THREADS overrides.
SEARCH_THREADS = int(os.environ.get("AUTHCHECK_FAISS_THREADS", "1"))
faiss.omp_set_num_threads(SEARCH_THREADS)

GROWTH_BEFORE_RETRAIN = 4.0  # an IVF index trained on N vectors asks for a rebuild past 4N
PQ_FULL_TRAINING = 256 * 39  # fewer training vectors than this: 4-bit PQ codes

Allowed = np.ndarray | RefSelection


def write_index_file(index: faiss.Index, path: Path) -> None:
    """Write a FAISS index atomically (temp file + fsync + rename) without serialising to memory first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    faiss.write_index(index, str(tmp))
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextmanager
def build_threads() -> Iterator[None]:
    """Use every core for FAISS while training and adding, then go back to search threads."""
    faiss.omp_set_num_threads(max(1, os.cpu_count() or 1))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(SEARCH_THREADS)


def _empty(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((n, k), -np.inf, dtype=np.float32), np.full((n, k), -1, dtype=np.int64)


def _matrix(vectors: np.ndarray, dim: int) -> np.ndarray:
    return np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)


class FlatIndex(FaissIndex):
    """Exact inner-product search; under ``auto`` it asks for a rebuild once past ``grow_limit``."""

    def __init__(self, dim: int, index: faiss.Index | None = None, grow_limit: int | None = None) -> None:
        super().__init__(dim, index, kind="flat")
        self.grow_limit = grow_limit
        self.measured: dict = {}

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: Allowed | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        mat = _matrix(queries, self.dim)
        if len(self) == 0 or len(mat) == 0 or (allowed_ids is not None and len(allowed_ids) == 0):
            return _empty(len(mat), k)
        if allowed_ids is None:
            sims, ids = self._index.search(mat, k)
        else:
            sel = Selector(allowed_ids)  # keeps the bitmap alive for the call
            sims, ids = self._index.search(mat, k, params=faiss.SearchParameters(sel=sel.selector))
        return np.where(ids < 0, -np.inf, sims).astype(np.float32), ids

    def needs_rebuild(self) -> str | None:
        """Why this index should be rebuilt as another kind, or None."""
        if self.grow_limit is not None and len(self) > self.grow_limit:
            return f"{len(self)} vectors exceed flat_max {self.grow_limit}: rebuild picks an IVF index"
        return None

    def save(self, path: Path) -> None:
        write_index_file(self._index, path)

    def info(self) -> dict:
        out = super().info()
        out.update(
            {
                "index_key": "IDMap2,Flat",
                "metric": "inner_product",
                "exact": True,
                "bytes_estimate": estimated_bytes("flat", len(self), self.dim),
                "grow_limit": self.grow_limit,
            }
        )
        if self.measured:
            out["measured"] = self.measured
        return out


class IvfIndex(VectorIndex):
    """An inverted-file index (``IVF,SQ8``, ``IVF,PQ``; ``ivf_fs`` is a subclass) with native ids and ``nprobe``."""

    def __init__(self, dim: int, kind: str, index: faiss.Index, nprobe: int, trained_on: int = 0) -> None:
        super().__init__(dim)
        self.kind = kind
        self._index = index
        self._ivf = faiss.extract_index_ivf(index)
        self.nprobe = int(nprobe)
        self.trained_on = int(trained_on)
        self.measured: dict = {}

    @staticmethod
    def index_key(plan: IndexPlan, dim: int, train_points: int | None = None) -> str:
        """FAISS factory string for a plan (4-bit PQ codes for small training sets).

        OPQ would gain some PQ accuracy but its training took minutes even on 20k vectors here.
        """
        if plan.kind == "ivf_sq8":
            return f"IVF{plan.nlist},SQ8"
        if plan.kind == "ivf_fs":
            m = plan.pq_m or dim // 2
            if dim % m or m % 2:
                raise ValueError(f"fast-scan pq_m {m} must be even and divide the dimension {dim}")
            return f"IVF{plan.nlist},PQ{m}x4fs"
        if plan.kind == "ivf_pq":
            m = plan.pq_m
            if dim % m:
                raise ValueError(f"pq_m {m} must divide the dimension {dim}")
            if train_points is not None and train_points < PQ_FULL_TRAINING:
                return f"IVF{plan.nlist},PQ{m}x4"
            return f"IVF{plan.nlist},PQ{m}"
        raise ValueError(f"not an IVF plan: {plan.kind}")

    @classmethod
    def create(cls, dim: int, plan: IndexPlan, train_points: int | None = None) -> IvfIndex:
        """An untrained index for ``plan`` (sized for ``train_points`` training vectors when known)."""
        if plan.kind == "ivf_fs":
            return FastScanIndex.create(dim, plan, train_points)
        index = faiss.index_factory(dim, cls.index_key(plan, dim, train_points), faiss.METRIC_INNER_PRODUCT)
        ivf = faiss.downcast_index(faiss.extract_index_ivf(index))
        if isinstance(ivf, faiss.IndexIVFPQ):
            # the factory turns on polysemous training (code reordering for Hamming filtering, which
            # we never search with): it took ~10 min on 20k vectors here, for nothing
            ivf.do_polysemous_training = False
        return cls(dim, plan.kind, index, plan.nprobe)

    # -- properties -------------------------------------------------------------------
    @property
    def faiss_index(self) -> faiss.Index:
        """The wrapped FAISS index."""
        return self._index

    @property
    def nlist(self) -> int:
        """Number of inverted lists."""
        return int(self._ivf.nlist)

    @property
    def is_trained(self) -> bool:
        """Whether the quantisers are trained (an untrained index trains on its first add)."""
        return bool(self._index.is_trained)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    # -- building ---------------------------------------------------------------------
    def train(self, vectors: np.ndarray) -> None:
        """Train centroids and codes on a sample; the list count shrinks to what the sample supports."""
        mat = _matrix(vectors, self.dim)
        self._retarget_for(len(mat))
        self._index.train(mat)
        self.trained_on = len(mat)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64).ravel()
        if len(ids) == 0:
            return
        mat = _matrix(vectors, self.dim)
        if len(mat) != len(ids):
            raise ValueError(f"{len(ids)} ids for {len(mat)} vectors")
        if not self.is_trained:  # first vectors of a fresh space: train on them, rebuild retrains later
            self.train(mat)
        self._index.add_with_ids(mat, ids)

    def _retarget_for(self, count: int) -> None:
        """Before training on ``count`` vectors: as many lists as they can train, small-sample PQ."""
        from index.choose import MIN_POINTS_PER_LIST

        nlist = self.nlist  # planned for the whole catalogue; a sample of it trains as many lists as it can
        while nlist > 1 and nlist * MIN_POINTS_PER_LIST > count:
            nlist //= 2
        plan = IndexPlan(self.kind, nlist=nlist, nprobe=min(self.nprobe, nlist), pq_m=self._pq_m())
        if IvfIndex.index_key(plan, self.dim, count) != self.describe():
            fresh = IvfIndex.create(self.dim, plan, count)
            self._adopt(fresh)

    def _adopt(self, fresh: IvfIndex) -> None:
        self._index, self._ivf, self.nprobe = fresh._index, fresh._ivf, fresh.nprobe

    def _pq_m(self) -> int:
        pq = getattr(faiss.downcast_index(self._ivf), "pq", None)
        return int(pq.M) if pq is not None else 0

    def remove(self, ids: np.ndarray) -> int:
        ids = np.ascontiguousarray(ids, dtype=np.int64).ravel()
        if len(ids) == 0 or len(self) == 0:
            return 0
        return int(self._index.remove_ids(faiss.IDSelectorBatch(ids)))

    # -- queries ----------------------------------------------------------------------
    def probes_for(self, allowed: Allowed | None) -> int:
        """``nprobe`` for a search: scaled up by the inverse of the allowed share, up to every list."""
        if allowed is None:
            return min(self.nprobe, self.nlist)
        share = allowed_count(allowed) / max(1, len(self))
        return int(min(self.nlist, math.ceil(self.nprobe / max(share, 1e-9))))

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: Allowed | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        mat = _matrix(queries, self.dim)
        if len(self) == 0 or len(mat) == 0 or (allowed_ids is not None and len(allowed_ids) == 0):
            return _empty(len(mat), k)
        sel = Selector(allowed_ids) if allowed_ids is not None else None
        params = faiss.SearchParametersIVF(nprobe=self.probes_for(allowed_ids))
        if sel is not None:
            params.sel = sel.selector
        if isinstance(self._index, faiss.IndexPreTransform):
            outer = faiss.SearchParametersPreTransform()
            outer.index_params = params
            sims, ids = self._index.search(mat, k, params=outer)
        else:
            sims, ids = self._index.search(mat, k, params=params)
        return np.where(ids < 0, -np.inf, sims).astype(np.float32), ids

    def ids(self) -> np.ndarray:
        lists = self._ivf.invlists
        out = [np.zeros(0, dtype=np.int64)]
        for no in range(self.nlist):
            size = lists.list_size(no)
            if size:
                ptr = lists.get_ids(no)
                out.append(faiss.rev_swig_ptr(ptr, size).astype(np.int64).copy())
                lists.release_ids(no, ptr)
        return np.sort(np.concatenate(out))

    # -- upkeep -----------------------------------------------------------------------
    def needs_rebuild(self) -> str | None:
        """Why the index should be retrained, or None."""
        if self.trained_on and len(self) > GROWTH_BEFORE_RETRAIN * max(self.trained_on, 64):
            return f"grown to {len(self)} vectors, trained on {self.trained_on}: retrain"
        return None

    def save(self, path: Path) -> None:
        write_index_file(self._index, path)

    def info(self) -> dict:
        out = super().info()
        out.update(
            {
                "index_key": self.describe(),
                "metric": "inner_product",
                "exact": False,
                "nlist": self.nlist,
                "nprobe": self.nprobe,
                "trained_on": self.trained_on,
                "code_size": int(self._ivf.code_size),
                "bytes_estimate": estimated_bytes(
                    self.kind, len(self), self.dim, self.nlist, self._pq_m() or 64
                ),
            }
        )
        if self.measured:
            out["measured"] = self.measured
        return out

    def describe(self) -> str:
        """Factory-style description of the index."""
        if self.kind == "ivf_fs":
            return f"IVF{self.nlist},PQ{self._pq_m()}x4fs"
        if self.kind == "ivf_sq8":
            return f"IVF{self.nlist},SQ8"
        pq = faiss.downcast_index(self._ivf).pq
        opq = f"OPQ{pq.M}," if isinstance(self._index, faiss.IndexPreTransform) else ""
        bits = "" if pq.nbits == 8 else f"x{pq.nbits}"
        return f"{opq}IVF{self.nlist},PQ{pq.M}{bits}"


class FastScanIndex(IvfIndex):
    """IVF with 4-bit fast-scan PQ codes (``IVF…,PQ{m}x4fs``), re-ranked with 8-bit codes (``ivf_fs``).

    The fast-scan codes (``m / 2`` bytes a vector, scanned with SIMD lookup tables, several
    times cheaper per code than SQ8) pick ``k * k_factor`` candidates; their 8-bit scalar
    quantised codes (``dim`` bytes a vector, kept by id in an ``IndexIDMap2``) re-rank them.
    FAISS's own ``IndexRefine`` cannot take the caller's ids nor remove, so the two indexes are
    kept side by side here, and are written together inside an ``IndexRefine`` only as the file
    container (its ``k_factor`` travels with it); that wrapper is never searched directly.
    Allowed-id filters apply in the fast-scan search, so every candidate is allowed.
    """

    def __init__(
        self,
        dim: int,
        index: faiss.Index,
        nprobe: int,
        trained_on: int = 0,
        refine: faiss.Index | None = None,
        k_factor: int = 4,
    ) -> None:
        super().__init__(dim, "ivf_fs", index, nprobe, trained_on)
        self._refine = refine if refine is not None else self._new_refine(dim)
        self.k_factor = int(k_factor)
        self._container: faiss.Index | None = None  # the IndexRefine read from a file, if any

    @staticmethod
    def _new_refine(dim: int) -> faiss.Index:
        sq = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        return faiss.IndexIDMap2(sq)

    @classmethod
    def create(cls, dim: int, plan: IndexPlan, train_points: int | None = None) -> FastScanIndex:
        key = IvfIndex.index_key(plan, dim, train_points)
        index = faiss.index_factory(dim, key, faiss.METRIC_INNER_PRODUCT)
        return cls(dim, index, plan.nprobe, k_factor=plan.k_factor or 4)

    def _adopt(self, fresh: IvfIndex) -> None:
        super()._adopt(fresh)
        self._refine = self._new_refine(self.dim)
        self._container = None

    @property
    def is_trained(self) -> bool:
        return bool(self._index.is_trained and self._refine.is_trained)

    def train(self, vectors: np.ndarray) -> None:
        super().train(vectors)
        self._refine.train(_matrix(vectors, self.dim))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64).ravel()
        if len(ids) == 0:
            return
        mat = _matrix(vectors, self.dim)
        super().add(ids, mat)
        self._refine.add_with_ids(mat, ids)

    def remove(self, ids: np.ndarray) -> int:
        ids = np.ascontiguousarray(ids, dtype=np.int64).ravel()
        if len(ids) == 0 or len(self) == 0:
            return 0
        sel = faiss.IDSelectorBatch(ids)
        self._refine.remove_ids(sel)
        lists = self._ivf.invlists
        before = [lists.list_size(no) for no in range(self.nlist)]
        removed = int(self._index.remove_ids(sel))
        for no, size in enumerate(before):
            if lists.list_size(no) != size:
                self._clear_tail(no)
        return removed

    def _clear_tail(self, list_no: int) -> None:
        """Zero the freed slots of a list's last block, keeping the codes still in use.

        FAISS (1.15) removes from a fast-scan list by moving codes and shrinking its size, but
        leaves the freed slots' 4-bit codes in the last 32-code block; the next add ORs its codes
        into those slots, so vectors added after a removal came back garbled (found by the test
        that removes and re-adds). Unpack the live codes of that block, zero it, pack them back.
        """
        lists = faiss.downcast_InvertedLists(self._ivf.invlists)
        size, per_block = lists.list_size(list_no), int(lists.n_per_block)
        live = size % per_block
        if live == 0:  # the list shrank to whole blocks: FAISS dropped the partial one
            return
        packer, code_size = lists.packer, int(self._ivf.code_size)
        start = (size // per_block) * lists.block_size
        ptr = lists.get_codes(list_no)
        try:
            block = faiss.rev_swig_ptr(ptr, start + lists.block_size)[start:]
            codes = [np.zeros(code_size, dtype=np.uint8) for _ in range(live)]
            for slot, code in enumerate(codes):
                packer.unpack_1_c(faiss.swig_ptr(block), slot, faiss.swig_ptr(code))
            block[:] = 0
            for slot, code in enumerate(codes):
                packer.pack_1_c(faiss.swig_ptr(code), slot, faiss.swig_ptr(block))
        finally:
            lists.release_codes(list_no, ptr)

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: Allowed | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        mat = _matrix(queries, self.dim)
        wide = max(k, min(len(self), k * max(1, self.k_factor)))
        sims, ids = super().search(mat, wide, allowed_ids)
        if len(self) == 0 or len(mat) == 0 or self.k_factor <= 1:
            return sims[:, :k], ids[:, :k]
        out_s, out_i = _empty(len(mat), k)
        for row in range(len(mat)):
            cand = ids[row][ids[row] >= 0]
            if not len(cand):
                continue
            exact = self._refine.reconstruct_batch(cand) @ mat[row]
            order = np.argsort(-exact, kind="stable")[:k]
            out_s[row, : len(order)], out_i[row, : len(order)] = exact[order], cand[order]
        return out_s, out_i

    def save(self, path: Path) -> None:
        container = faiss.IndexRefine(self._index, self._refine)  # same counts, checked here
        container.k_factor = float(self.k_factor)
        container.own_fields = False
        container.own_refine_index = False
        write_index_file(container, path)

    def info(self) -> dict:
        out = super().info()
        out["k_factor"] = self.k_factor
        out["refine"] = "SQ8"
        return out


def _kind_of(index: faiss.Index) -> str:
    if isinstance(index, faiss.IndexRefine):
        return "ivf_fs"
    if isinstance(index, faiss.IndexIDMap2 | faiss.IndexIDMap):
        return "flat"
    ivf = faiss.extract_index_ivf(index)  # raises for anything else
    return "ivf_pq" if isinstance(faiss.downcast_index(ivf), faiss.IndexIVFPQ) else "ivf_sq8"


def load_faiss(path: Path, grow_limit: int | None = None) -> VectorIndex:
    """Read any index this module writes; its kind comes from the file, its settings from the infos."""
    index = faiss.read_index(str(path))
    infos = read_infos(path.with_suffix(".json")) or {}
    kind = _kind_of(index)
    out: FlatIndex | IvfIndex
    if kind == "flat":
        out = FlatIndex(index.d, index, grow_limit=grow_limit)
    elif kind == "ivf_fs":
        from index.choose import default_nprobe

        base = faiss.downcast_index(index.base_index)
        refine = faiss.downcast_index(index.refine_index)
        nprobe = int(infos.get("nprobe") or default_nprobe(faiss.extract_index_ivf(base).nlist))
        k_factor = int(infos.get("k_factor") or index.k_factor)
        trained = int(infos.get("trained_on") or 0)
        out = FastScanIndex(index.d, base, nprobe, trained, refine=refine, k_factor=k_factor)
        out._container = index  # owns base and refine: keep it alive with them
    else:
        from index.choose import default_nprobe

        ivf = faiss.extract_index_ivf(index)
        nprobe = int(infos.get("nprobe") or default_nprobe(ivf.nlist))
        out = IvfIndex(index.d, kind, index, nprobe, trained_on=int(infos.get("trained_on") or 0))
    if isinstance(infos.get("measured"), dict):
        out.measured = infos["measured"]
    return out
