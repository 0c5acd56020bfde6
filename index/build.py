"""Build a vector index from the catalogue without holding every vector in memory, then measure it.

Two streaming passes over the catalogue's vectors: the first counts them and keeps a
random sample (training set for IVF/PQ, and the source of measurement queries), the
second adds every vector in batches while computing, on the side, the exact nearest
neighbour of each measurement query. Afterwards an IVF index's ``nprobe`` is tuned to
the smallest value that reaches the target recall@1 against exact search, and recall and
single-query latency are written into the index's ``measured`` infos (as autofaiss does).

Measurement queries are catalogue vectors turned away from themselves by a random angle:
cosine to their source uniform in [0.25, 0.75], the range where SSCD scores real copies
(crops, recompression, overlays); that is where approximate search loses the source.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from index.catalogue import Catalogue
from index.faiss_ann import build_threads
from index.vector_index import VectorIndex

log = logging.getLogger(__name__)

MEASURE_QUERIES = 200
SEARCH_K = 20  # what copy detection asks the space for (candidates * 4)
NPROBES = tuple(2**i for i in range(17))  # 1, 2, 4, ... 65536 (FAISS caps nlist there too)
# The tuning queries are easier than real copies: at 1M (ivf_fs) they reached 0.995 at nprobe 512,
# where real copies' recall@1 was 0.947; at 1024 it was 0.980. So the nprobe kept is this many
# times the one that reached the target (within the probe cap).
PROBE_MARGIN = 2


def make_index(factory: Callable[..., VectorIndex], dim: int, count: int = 0, space: str = "") -> VectorIndex:
    """Call an index factory with what it accepts of (dim, count=..., space=...)."""
    try:
        accepted = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return factory(dim)
    extra = {"count": count, "space": space}
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    return factory(dim, **{k: v for k, v in extra.items() if takes_all or k in accepted})


def stream_vectors(
    catalogue: Catalogue, space: str, dim: int, views: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(vector ids, vectors) of a space in batches, views expanded (``ref * views + view``)."""
    for ref_ids, vec_list in catalogue.iter_vectors(space):
        ids, mats = [], []
        for rid, flat in zip(ref_ids, vec_list, strict=True):
            mat = flat.reshape(-1, dim)
            ids.append(np.arange(len(mat), dtype=np.int64) + np.int64(rid) * views)
            mats.append(mat)
        if ids:
            yield np.concatenate(ids), np.concatenate(mats)


@dataclass
class _Sample:
    count: int
    train: np.ndarray
    queries: np.ndarray


def _sample(
    catalogue: Catalogue, space: str, dim: int, views: int, size: int, queries: int, seed: int
) -> _Sample:
    """Pass 1: count vectors and keep the vectors of ``size`` references drawn uniformly at random."""
    rng = np.random.default_rng(seed)
    ref_ids = catalogue.vector_ids(space)
    chosen = np.sort(rng.choice(ref_ids, size=min(size, len(ref_ids)), replace=False))
    parts = [np.zeros((0, dim), dtype=np.float32)]
    count = 0
    for ids, mat in stream_vectors(catalogue, space, dim, views):
        count += len(mat)
        parts.append(mat[np.isin(ids // views, chosen)])
    kept = np.concatenate(parts)
    del parts
    pick = rng.choice(len(kept), size=min(queries, len(kept)), replace=False)
    return _Sample(count=count, train=kept, queries=copy_like(kept[pick], rng))


def copy_like(
    vectors: np.ndarray, rng: np.random.Generator, low: float = 0.25, high: float = 0.75
) -> np.ndarray:
    """Unit vectors at cosine ~U(low, high) to each of ``vectors`` (random directions otherwise)."""
    v = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    u = rng.standard_normal(v.shape).astype(np.float32)
    u -= (u * v).sum(axis=1, keepdims=True) * v  # orthogonal to the source
    u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    cos = rng.uniform(low, high, size=(len(v), 1)).astype(np.float32)
    return (cos * v + np.sqrt(1 - cos**2) * u).astype(np.float32)


def build_index(
    factory: Callable[..., VectorIndex],
    catalogue: Catalogue,
    space: str,
    dim: int,
    *,
    views: int,
    train_sample: int = 200_000,
    target_recall: float = 0.99,
    max_probe_share: float = 0.25,
    measure: bool = True,
    seed: int = 0,
) -> VectorIndex:
    """A new index holding every vector of ``space``, trained, tuned and measured."""
    start = time.perf_counter()
    sample = _sample(catalogue, space, dim, views, train_sample, MEASURE_QUERIES if measure else 0, seed)
    index = make_index(factory, dim, count=sample.count, space=space)
    trained = start_train = time.perf_counter()
    if sample.count and not getattr(index, "is_trained", True):
        with build_threads():
            index.train(sample.train)  # type: ignore[attr-defined]
        trained = time.perf_counter()
    queries = sample.queries
    del sample
    best_sim = np.full(len(queries), -np.inf, dtype=np.float32)
    best_id = np.full(len(queries), -1, dtype=np.int64)
    for ids, mat in stream_vectors(catalogue, space, dim, views):
        with build_threads():
            index.add(ids, mat)
        if len(queries):  # exact top-1 of the measurement queries, on the side
            sims = queries @ mat.T
            col = sims.argmax(axis=1)
            top = sims[np.arange(len(queries)), col]
            better = top > best_sim
            best_sim[better], best_id[better] = top[better], ids[col[better]]
    built = time.perf_counter()
    report = {
        "build_seconds": round(built - start, 2),
        "train_seconds": round(trained - start_train, 2),
    }
    if len(queries) and len(index):
        report.update(tune(index, queries, best_id, target_recall, max_probe_share))
    if hasattr(index, "measured"):
        index.measured = report  # type: ignore[attr-defined]
    log.info("built %s index for %s: %d vectors, %s", index.kind, space, len(index), report)
    return index


def recall_at_1(index: VectorIndex, queries: np.ndarray, truth: np.ndarray) -> float:
    """Share of queries whose top result is the exact nearest neighbour (batched search)."""
    _, ids = index.search(queries, 1)
    return float(np.mean(ids[:, 0] == truth))


def latency_ms(index: VectorIndex, queries: np.ndarray, k: int = SEARCH_K) -> tuple[float, float]:
    """p50 and p95 of single-query search time, in milliseconds."""
    times = []
    for q in queries:
        t0 = time.perf_counter()
        index.search(q[None, :], k)
        times.append(time.perf_counter() - t0)
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 95) * 1e3)


def tune(
    index: VectorIndex,
    queries: np.ndarray,
    truth: np.ndarray,
    target_recall: float,
    max_probe_share: float = 1.0,
) -> dict:
    """Pick ``PROBE_MARGIN`` times the smallest ``nprobe`` reaching ``target_recall`` (IVF only);
    measure recall and latency there.

    ``nprobe`` never goes past ``max_probe_share`` of the lists: when the target is out of reach
    below that, the cap is kept (``target_reached`` false) rather than probing every list, which
    costs more than exact flat search (measured at 1M: p50 360 ms exhaustive against 55 ms at 1/4).
    """
    out: dict = {"queries": len(queries), "query_kind": "catalogue vectors turned to cosine 0.25-0.75"}
    nlist = getattr(index, "nlist", None)
    if nlist is not None:
        limit = max(1, min(nlist, int(nlist * max_probe_share)))
        tried = {}
        for nprobe in [p for p in NPROBES if p < limit] + [limit]:
            index.nprobe = nprobe  # type: ignore[attr-defined]
            tried[nprobe] = round(recall_at_1(index, queries, truth), 4)
            if tried[nprobe] >= target_recall:
                break
        out["nprobe_recall"] = {str(k): v for k, v in tried.items()}
        out["target_recall"] = target_recall
        out["max_probe_share"] = max_probe_share
        out["target_reached"] = max(tried.values()) >= target_recall
        if out["target_reached"]:
            out["nprobe_reached"], out["probe_margin"] = nprobe, PROBE_MARGIN
            index.nprobe = min(limit, nprobe * PROBE_MARGIN)  # type: ignore[attr-defined]
        else:
            log.warning(
                "nprobe capped at %d of %d lists: recall@1 %.3f < target %.3f",
                limit,
                nlist,
                tried[limit],
                target_recall,
            )
    if hasattr(index, "k_factor"):  # ivf_fs: candidates re-ranked with 8-bit codes
        out["k_factor"] = index.k_factor
    out["recall_at_1"] = round(recall_at_1(index, queries, truth), 4)
    p50, p95 = latency_ms(index, queries[: min(len(queries), 100)])
    out["search_ms_p50"], out["search_ms_p95"] = round(p50, 3), round(p95, 3)
    return out
