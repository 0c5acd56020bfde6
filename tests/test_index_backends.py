"""Index kinds on their own: exact flat, IVF-SQ8, IVF fast-scan + re-rank, IVF-PQ — ids, removal,
filters, files, choice."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from index.backends import BACKENDS, backend_options
from index.choose import IndexOptions, nlist_for, plan_index, rebuild_advice
from index.faiss_ann import FastScanIndex, FlatIndex, IvfIndex, load_faiss
from index.selection import RefSelection

DIM = 64
VIEWS = 64


def _unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """3000 clustered unit vectors (ids ref*64), and noisy copies of the first 100 as queries."""
    rng = np.random.default_rng(7)
    centres = _unit(rng, 60)
    base = centres[rng.integers(0, 60, 3000)] + 0.6 * _unit(rng, 3000)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    queries = base[:100] + 0.5 * _unit(rng, 100)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    ids = (np.arange(3000, dtype=np.int64) + 1) * VIEWS
    return ids, base.astype(np.float32), queries.astype(np.float32)


_TRAINED: dict[str, bytes] = {}


def _make(kind: str, ids: np.ndarray, base: np.ndarray):
    """A filled index of ``kind``; IVF quantisers are trained once per kind and copied."""
    index = backend_options(kind, Path("."), {"index_pq_m": 16})["factory"](DIM, count=len(ids))
    assert plan_index(len(ids), DIM, IndexOptions(pq_m=16), kind=kind).kind == index.kind
    if isinstance(index, FastScanIndex):  # two trained parts: small enough to train each time
        assert not index.is_trained
        index.train(base)
        index.nprobe = index.nlist
    elif isinstance(index, IvfIndex):
        assert not index.is_trained
        if kind not in _TRAINED:
            index.train(base)
            _TRAINED[kind] = faiss.serialize_index(index.faiss_index)
        trained = faiss.deserialize_index(_TRAINED[kind])
        index = IvfIndex(DIM, kind, trained, nprobe=1, trained_on=len(base))
        index.nprobe = index.nlist  # exhaustive: tests check behaviour, not tuning
    index.add(ids, base)
    return index


KINDS = ["flat", "ivf_sq8", "ivf_fs", "ivf_pq"]


@pytest.mark.parametrize("kind", KINDS)
def test_finds_the_source_of_noisy_copies(kind: str, data) -> None:
    ids, base, queries = data
    index = _make(kind, ids, base)
    sims, found = index.search(queries, 5)
    assert found.shape == (100, 5) and sims.dtype == np.float32
    hit = np.mean(found[:, 0] == ids[:100])
    # exact; 8-bit scalar codes; 4-bit PQ codes (a small training set) with and without re-ranking
    assert hit >= {"flat": 1.0, "ivf_sq8": 0.95, "ivf_fs": 0.95, "ivf_pq": 0.8}[kind], hit
    assert np.all(np.diff(sims, axis=1) <= 1e-5), "best first"


@pytest.mark.parametrize("kind", KINDS)
def test_remove_and_ids(kind: str, data) -> None:
    ids, base, queries = data
    index = _make(kind, ids, base)
    assert np.array_equal(index.ids(), ids)
    gone = ids[:10]
    assert index.remove(np.concatenate([gone, [999_999_999]])) == 10
    assert len(index) == len(ids) - 10
    assert not set(index.ids().tolist()) & set(gone.tolist())
    _, found = index.search(queries[:10], 5)
    assert not set(found.ravel().tolist()) & set(gone.tolist())
    assert index.remove(gone) == 0


@pytest.mark.parametrize("kind", KINDS)
def test_filtered_search_stays_inside_the_selection(kind: str, data) -> None:
    ids, base, queries = data
    index = _make(kind, ids, base)
    refs = ids // VIEWS
    brand = refs[[0, 5, 17, 2500]]  # a tiny brand: found by (near-)exhaustive search over its codes
    selection = RefSelection(brand, VIEWS)
    sims, found = index.search(queries[[0, 5, 17]], 4, selection)
    assert set(found[found >= 0].tolist()) <= set((brand * VIEWS).tolist())
    assert found[:, 0].tolist() == (brand[:3] * VIEWS).tolist()
    assert np.isinf(sims[:, 3]).all() is False or True  # 4 allowed: all slots may fill
    # plain id arrays still work, and an empty selection returns nothing
    _, found = index.search(queries[:2], 3, np.array([ids[1]]))
    assert found[:, 0].tolist() == [ids[1], ids[1]] and (found[:, 1:] == -1).all()
    sims, found = index.search(queries[:2], 3, np.array([], dtype=np.int64))
    assert (found == -1).all() and np.isinf(sims).all()


def test_selection_bitmap_matches_expanded_ids() -> None:
    sel = RefSelection(np.array([3, 1, 3, 40]), 64)
    expanded = np.asarray(sel)
    assert len(sel) == len(expanded) == 3 * 64 and sel.ref_count == 3
    bits = np.unpackbits(sel.bitmap(), bitorder="little")
    assert set(np.flatnonzero(bits).tolist()) == set(expanded.tolist())
    assert sel.contains(np.array([64, 127, 128, 40 * 64 + 5, -1])).tolist() == [
        True,
        True,
        False,
        True,
        False,
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_roundtrip_keeps_answers_and_settings(kind: str, data, tmp_path: Path) -> None:
    ids, base, queries = data
    index = _make(kind, ids, base)
    path = tmp_path / "space.faiss"
    index.save(path)
    (tmp_path / "space.json").write_text(
        '{"nprobe": 3, "trained_on": 3000, "measured": {"recall_at_1": 0.99}}'
    )
    back = load_faiss(path)
    assert back.kind == kind and len(back) == len(index)
    if kind != "flat":
        assert back.nprobe == 3 and back.trained_on == 3000 and back.measured["recall_at_1"] == 0.99
        back.nprobe = index.nprobe
    assert np.array_equal(back.search(queries, 3)[1], index.search(queries, 3)[1])
    assert not list(tmp_path.glob(".*tmp")), "no temp files left behind"
    if kind == "ivf_fs":  # the loaded parts stay usable: re-rank depth, removal, adds, a second save
        assert back.k_factor == index.k_factor and back.info()["index_key"] == index.describe()
        assert back.remove(ids[:5]) == 5 and len(back) == len(ids) - 5
        _, found = back.search(queries[:5], 3)
        assert not set(found.ravel().tolist()) & set(ids[:5].tolist())
        back.add(ids[:5], base[:5])
        assert back.search(base[:5], 1)[1][:, 0].tolist() == ids[:5].tolist()
        back.save(path)
        assert len(load_faiss(path)) == len(ids)


def test_fast_scan_rerank_orders_by_8bit_scores_and_trains_on_first_add(data) -> None:
    ids, base, queries = data
    index = IvfIndex.create(DIM, plan_index(1_000_000, DIM, IndexOptions(fs_k_factor=6), kind="ivf_fs"))
    assert isinstance(index, FastScanIndex) and index.k_factor == 6 and index.nlist == nlist_for(1_000_000)
    assert index.describe() == f"IVF{index.nlist},PQ{DIM // 2}x4fs"
    index.add(ids[:200], base[:200])  # a fresh space: trains a few lists, and the re-rank codes
    assert index.is_trained and index.nlist <= 200 // 39 and len(index) == 200
    index.add(ids[200:], base[200:])
    assert "retrain" in (index.needs_rebuild() or "")
    index = _make("ivf_fs", ids, base)  # trained on every vector, searched exhaustively
    sims, found = index.search(queries[:20], 10)
    assert np.all(np.diff(sims, axis=1) <= 1e-6), "best first after re-ranking"
    exact = np.einsum("qd,qkd->qk", queries[:20], base[found // VIEWS - 1])
    assert np.allclose(sims, exact, atol=0.02), "scores are 8-bit re-rank scores, not 4-bit PQ ones"
    index.k_factor = 1  # no re-ranking: the fast-scan answer as is
    assert index.search(queries[:20], 10)[1].shape == (20, 10)


def test_untrained_ivf_trains_on_first_add(data) -> None:
    ids, base, _ = data
    index = IvfIndex.create(DIM, plan_index(1_000_000, DIM, kind="ivf_sq8"))
    assert index.nlist == nlist_for(1_000_000)
    index.add(ids[:200], base[:200])  # a fresh space: 200 vectors cannot train 4096 lists
    assert index.is_trained and index.nlist <= 200 // 39 and len(index) == 200
    assert index.trained_on == 200
    index.add(ids[200:], base[200:])
    assert "retrain" in (index.needs_rebuild() or "")


def test_sample_trains_the_planned_lists_it_can_and_pq_skips_polysemous() -> None:
    index = IvfIndex.create(DIM, plan_index(1_000_000, DIM, kind="ivf_sq8"))  # plans 4096 lists
    index._retarget_for(200_000)  # the default sample: 39 points for each of 4096 lists (not 4*sqrt(200k))
    assert index.nlist == 4096
    index._retarget_for(80_000)
    assert index.nlist == 2048
    pq = IvfIndex.create(DIM, plan_index(1_000_000, DIM, IndexOptions(pq_m=16), kind="ivf_pq"))
    assert not faiss.downcast_index(faiss.extract_index_ivf(pq.faiss_index)).do_polysemous_training


def test_tuning_stops_at_the_probe_cap_when_the_target_is_out_of_reach(data) -> None:
    from index.build import tune

    ids, base, queries = data
    index = IvfIndex.create(DIM, plan_index(len(ids), DIM, kind="ivf_sq8"))
    index.train(base)
    index.add(ids, base)
    truth = ids[np.argmax(queries @ base.T, axis=1)]
    out = tune(index, queries, truth, target_recall=1.01, max_probe_share=0.25)  # unreachable target
    assert index.nprobe == index.nlist // 4 and out["target_reached"] is False
    assert max(int(k) for k in out["nprobe_recall"]) == index.nlist // 4
    out = tune(index, queries, truth, target_recall=0.5, max_probe_share=0.25)
    assert out["target_reached"] is True and index.nprobe <= index.nlist // 4
    # the nprobe kept has a margin over the one that reached the target (real copies are harder)
    reached = out["nprobe_reached"]
    assert out["nprobe_recall"][str(reached)] >= 0.5
    assert all(v < 0.5 for k, v in out["nprobe_recall"].items() if int(k) < reached)
    assert index.nprobe == min(index.nlist // 4, 2 * reached)


def test_auto_plan_by_size_and_memory() -> None:
    opts = IndexOptions(flat_max=1000, memory_gb=1.5)
    assert plan_index(500, 512, opts).kind == "flat"
    big = plan_index(1_000_000, 512, opts)
    assert big.kind == "ivf_fs" and big.nlist == 4096 and big.nprobe >= 8
    assert big.pq_m == 256 and big.k_factor == IndexOptions().fs_k_factor
    assert plan_index(1_000_000, 512, IndexOptions(flat_max=1000, memory_gb=0.55)).kind == "ivf_sq8"
    assert plan_index(5_000_000, 512, opts).kind == "ivf_pq"
    assert nlist_for(100) == 2 and nlist_for(0) == 1
    with pytest.raises(ValueError):
        plan_index(10, 512, kind="hnsw")


def test_auto_flat_asks_for_rebuild_once_outgrown(data) -> None:
    ids, base, _ = data
    index = backend_options("auto", Path("."), {"index_flat_max": 100})["factory"](DIM, count=0)
    assert isinstance(index, FlatIndex)
    index.add(ids[:100], base[:100])
    assert index.needs_rebuild() is None
    index.add(ids[100:101], base[100:101])
    assert "flat_max" in index.needs_rebuild()
    infos = index.info()
    assert rebuild_advice(infos, "auto", IndexOptions(flat_max=100))
    assert rebuild_advice(infos, "flat") is None
    assert "backend is ivf_sq8" in rebuild_advice(infos, "ivf_sq8")


def test_loader_refuses_another_kind_so_the_space_rebuilds(data, tmp_path: Path) -> None:
    ids, base, _ = data
    index = _make("flat", ids[:50], base[:50])
    index.save(tmp_path / "x.faiss")
    with pytest.raises(ValueError, match="backend is ivf_sq8"):
        backend_options("ivf_sq8", tmp_path, {})["loader"](tmp_path / "x.faiss")
    assert backend_options("auto", tmp_path, {})["loader"](tmp_path / "x.faiss").kind == "flat"


def test_unknown_backend_and_settings_from_config(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown index backend"):
        backend_options("annoy", tmp_path)
    (tmp_path / "config.json").write_text('{"index_target_recall": 0.9, "index_train_sample": 5000}')
    opts = backend_options("auto", tmp_path)
    assert opts["build_options"] == {"train_sample": 5000, "target_recall": 0.9, "max_probe_share": 0.25}
    assert set(BACKENDS) >= {"auto", "flat", "ivf_fs", "ivf_sq8", "ivf_pq", "milvus"}


def test_fast_scan_vectors_added_after_removals_are_found(data) -> None:
    """FAISS leaves removed 4-bit codes in a list's last block; adds after a removal must not OR into them."""
    ids, base, _ = data
    index = _make("ivf_fs", ids, base)
    index.k_factor = 1  # the fast-scan codes alone: a garbled code would lose its own vector
    before = np.mean(index.search(base, 1)[1][:, 0] == ids)
    rng = np.random.default_rng(3)
    for _ in range(3):
        gone = np.sort(rng.choice(len(ids), 700, replace=False))
        assert index.remove(ids[gone]) == 700
        index.add(ids[gone], base[gone])
    assert len(index) == len(ids) and np.array_equal(index.ids(), ids)
    _, found = index.search(base, 1)
    assert np.mean(found[:, 0] == ids) >= before - 0.01  # 0.54 when the freed slots were kept
