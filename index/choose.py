"""Which index to build for a catalogue of a given size, and with what parameters.

Small catalogues get exact flat search (no training, exact answers). Past
``flat_max`` vectors, exact search gets slower than the latency target, so an IVF index
takes over: IVF with 4-bit fast-scan PQ codes whose best ``k * k_factor`` candidates are
re-ranked with 8-bit scalar-quantised codes (``ivf_fs``, ~dim + dim/4 bytes a vector, near
exact and several times faster than scanning 8-bit codes) while it fits the memory budget,
else IVF with 8-bit codes only (``ivf_sq8``, ~dim bytes a vector), else IVF-PQ (``ivf_pq``,
``pq_m`` bytes a vector, lower recall). ``nprobe`` is tuned after the build against
exact search (see :mod:`index.build`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

KINDS = ("flat", "ivf_sq8", "ivf_fs", "ivf_pq")
MIN_POINTS_PER_LIST = 39  # FAISS k-means wants this many training points per centroid


@dataclass
class IndexOptions:
    """Index tuning knobs; :class:`authcheck.config.Settings` carries them as ``index_*``/``milvus_*``."""

    flat_max: int = 100_000  # auto: exact flat search up to this many vectors
    memory_gb: float = 1.5  # auto: RAM the index may take (codes, ids, centroids)
    target_recall: float = 0.99  # rebuild tunes nprobe to reach this recall@1 against exact search
    train_sample: int = 200_000  # vectors sampled from the catalogue to train IVF/PQ
    max_probe_share: float = 0.25  # tuning never probes more than this share of the IVF lists
    pq_m: int = 64  # ivf_pq: bytes per vector
    fs_pq_m: int = 0  # ivf_fs: 4-bit sub-quantisers (0: dim / 2, i.e. dim / 4 bytes a vector)
    fs_k_factor: int = 4  # ivf_fs: candidates re-ranked with 8-bit codes, a multiple of k
    milvus_uri: str = "milvus.db"  # a path (Milvus Lite, relative to home) or http(s)://host:19530
    milvus_collection_prefix: str = "authcheck"
    milvus_index_type: str = "AUTOINDEX"

    @classmethod
    def from_mapping(cls, data: Mapping[str, object] | None) -> IndexOptions:
        """Options from a settings dict: keys ``index_<field>`` and ``milvus_*``; others are ignored."""
        out = cls()
        if not data:
            return out
        for f in fields(cls):
            key = f.name if f.name.startswith("milvus_") else f"index_{f.name}"
            if key in data:
                setattr(out, f.name, type(getattr(out, f.name))(data[key]))
        return out


@dataclass(frozen=True)
class IndexPlan:
    """What to build: kind and parameters, and why."""

    kind: str
    nlist: int = 0
    nprobe: int = 0
    pq_m: int = 0
    k_factor: int = 0
    reason: str = ""


def nlist_for(count: int) -> int:
    """IVF list count: a power of two near ``4 * sqrt(count)``, with enough training points per list."""
    if count <= 0:
        return 1
    target = 4 * math.sqrt(count)
    nlist = 2 ** max(0, round(math.log2(target)))
    while nlist > 1 and nlist * MIN_POINTS_PER_LIST > count:
        nlist //= 2
    return int(min(nlist, 65536))


def default_nprobe(nlist: int) -> int:
    """A safe starting ``nprobe`` before tuning (about 1.5% of the lists, at least 8)."""
    return int(min(nlist, max(8, 2 ** round(math.log2(max(1, nlist / 64))))))


def estimated_bytes(kind: str, count: int, dim: int, nlist: int = 0, pq_m: int = 64) -> int:
    """Rough RAM of an index of ``count`` vectors: codes + ids + centroids (+ re-rank codes)."""
    if kind == "flat":
        return count * (4 * dim + 8 + 16)  # vectors, id map, reverse map
    centroids = nlist * dim * 4
    if kind == "ivf_sq8":
        return count * (dim + 8) + centroids
    if kind == "ivf_pq":
        return count * (pq_m + 8) + centroids + dim * dim * 4
    if kind == "ivf_fs":  # 4-bit fast-scan codes + ids, 8-bit re-rank codes + their id maps (~48 B)
        return count * ((pq_m or dim // 2) // 2 + 8 + dim + 56) + centroids
    raise ValueError(f"unknown index kind {kind!r}")


def plan_index(count: int, dim: int, options: IndexOptions | None = None, kind: str = "auto") -> IndexPlan:
    """The index to build for ``count`` vectors of ``dim`` (``kind`` forces one, ``auto`` chooses)."""
    opts = options or IndexOptions()
    nlist = nlist_for(count)
    nprobe = default_nprobe(nlist)
    budget = int(opts.memory_gb * 2**30)
    if kind == "flat" or (kind == "auto" and count <= opts.flat_max):
        why = "forced" if kind == "flat" else f"{count} vectors <= flat_max {opts.flat_max}: exact search"
        return IndexPlan("flat", reason=why)
    fs_m = opts.fs_pq_m or dim // 2
    if kind == "ivf_fs" or (kind == "auto" and estimated_bytes("ivf_fs", count, dim, nlist, fs_m) <= budget):
        why = (
            "forced"
            if kind == "ivf_fs"
            else f"{count} vectors > flat_max {opts.flat_max}; fast-scan + 8-bit re-rank fit {opts.memory_gb} GB"
        )
        return IndexPlan(
            "ivf_fs", nlist=nlist, nprobe=nprobe, pq_m=fs_m, k_factor=opts.fs_k_factor, reason=why
        )
    if kind == "ivf_sq8" or (kind == "auto" and estimated_bytes("ivf_sq8", count, dim, nlist) <= budget):
        why = (
            "forced"
            if kind == "ivf_sq8"
            else (f"{count} vectors > flat_max {opts.flat_max}; 8-bit codes fit {opts.memory_gb} GB")
        )
        return IndexPlan("ivf_sq8", nlist=nlist, nprobe=nprobe, reason=why)
    if kind in ("ivf_pq", "auto"):
        why = "forced" if kind == "ivf_pq" else f"8-bit codes of {count} vectors exceed {opts.memory_gb} GB"
        return IndexPlan("ivf_pq", nlist=nlist, nprobe=nprobe, pq_m=opts.pq_m, reason=why)
    raise ValueError(f"unknown index kind {kind!r}; known: auto, {', '.join(KINDS)}")


def rebuild_advice(infos: dict | None, backend: str, options: IndexOptions | None = None) -> str | None:
    """Why the index described by ``infos`` should be rebuilt for ``backend``, or None (no index loaded)."""
    if not infos:
        return "no index yet: it is built on first use"
    opts = options or IndexOptions()
    kind, count = infos.get("kind"), int(infos.get("count", 0))
    if backend == "milvus" or kind == "milvus":
        return None if kind == backend else f"index is {kind}, backend is {backend}"
    if backend != "auto" and kind != backend:
        return f"index is {kind}, backend is {backend}"
    if backend == "auto" and kind == "flat" and count > opts.flat_max:
        return f"{count} vectors exceed flat_max {opts.flat_max}"
    trained = int(infos.get("trained_on") or 0)
    if kind != "flat" and trained and count > 4 * max(trained, 64):
        return f"grown to {count} vectors, trained on {trained}"
    return None
