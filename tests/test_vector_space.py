"""VectorSpace on a real SQLite catalogue: streamed rebuilds, catch-up after a lag, id reuse, filters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import index.space as space_mod
from index.backends import backend_options
from index.catalogue import Catalogue, NewReference
from index.space import VIEWS, VectorSpace
from index.vector_index import read_infos

DIM = 32
SPACE = "catalogue:test"


def _vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def _add(cat: Catalogue, seeds: list[int], brand: str = "acme") -> list[int]:
    refs = [
        NewReference(
            brand=brand,
            kind="catalogue",
            source=f"img{s}.jpg",
            sha256=f"{s:064x}",
            model="test",
            width=10,
            height=10,
            stored_path=f"refs/{s}.jpg",
            vectors={SPACE: _vec(s)[None, :]},
        )
        for s in seeds
    ]
    return cat.add_references(refs)


@pytest.fixture()
def cat(tmp_path: Path) -> Catalogue:
    c = Catalogue(tmp_path / "catalogue.sqlite")
    c.add_brand("acme")
    c.add_brand("other")
    return c


def _space(cat: Catalogue, tmp_path: Path, backend: str = "flat", **settings) -> VectorSpace:
    opts = backend_options(backend, tmp_path, {"index_train_sample": 2000, **settings})
    return VectorSpace(cat, tmp_path / "indexes", SPACE, DIM, **opts)


def _ids(space: VectorSpace) -> set[int]:
    return set((space.index.ids() // VIEWS).tolist())


def test_rebuild_streams_trains_tunes_and_writes_measured_infos(cat: Catalogue, tmp_path: Path) -> None:
    ids = _add(cat, list(range(1, 801)))
    space = _space(cat, tmp_path, "ivf_sq8")
    assert len(space) == 800  # built on first use
    infos = read_infos(space.infos_path)
    assert infos["kind"] == "ivf_sq8" and infos["generation"] == cat.generation(SPACE)
    m = infos["measured"]
    assert m["queries"] > 0 and 0.0 <= m["recall_at_1"] <= 1.0 and m["search_ms_p50"] > 0
    # tuning kept twice the nprobe that reached the target (within the cap), or the cap
    last = int(max(m["nprobe_recall"], key=int))
    cap = max(1, int(infos["nlist"] * m["max_probe_share"]))
    assert infos["nprobe"] == (min(cap, 2 * last) if m["target_reached"] else last)
    hits = space.search(_vec(5)[None, :], 3)[0]
    assert hits[0][0] == ids[4] and hits[0][1] > 0.99


def test_lagging_file_is_caught_up_not_rebuilt(cat: Catalogue, tmp_path: Path, monkeypatch) -> None:
    first = _add(cat, list(range(1, 51)))
    space = _space(cat, tmp_path)
    space.refresh()
    space.flush()
    # a "crash": the catalogue moves on (adds, removes) and the index file is never written again
    later = _add(cat, list(range(51, 61)))
    cat.remove_references(first[:5])

    def no_rebuild(*args, **kwargs):
        raise AssertionError("a lagging index must be caught up, not rebuilt")

    monkeypatch.setattr(space_mod, "build_index", no_rebuild)
    again = _space(cat, tmp_path)
    assert _ids(again) == set(first[5:] + later) == set(cat.vector_ids(SPACE).tolist())
    again.flush()
    assert read_infos(again.infos_path)["generation"] == cat.generation(SPACE)


def test_reused_ids_get_their_new_vectors(cat: Catalogue, tmp_path: Path) -> None:
    ids = _add(cat, [1, 2, 3])
    space = _space(cat, tmp_path)
    space.refresh()
    space.flush()
    cat.remove_references([ids[2]])  # the highest id goes ...
    (new,) = _add(cat, [99])  # ... and SQLite hands it out again, for another image
    assert new == ids[2]
    again = _space(cat, tmp_path)
    (hit,) = again.search(_vec(99)[None, :], 1)[0]
    assert hit[0] == new and hit[1] > 0.99, "the index must hold the new image's vector"
    stale = again.search(_vec(3)[None, :], 1)[0][0]
    assert stale[1] < 0.9


def test_refresh_catches_up_in_memory(cat: Catalogue, tmp_path: Path) -> None:
    ids = _add(cat, list(range(1, 21)))
    reader = _space(cat, tmp_path)
    assert len(reader) == 20
    more = _add(cat, [21, 22])
    cat.remove_references(ids[:3])
    assert reader.refresh() is True
    assert _ids(reader) == set(ids[3:] + more)
    assert reader.refresh() is False


def test_flush_keeps_a_newer_index_written_by_another_process(cat: Catalogue, tmp_path: Path) -> None:
    _add(cat, [1, 2])
    old = _space(cat, tmp_path)
    old.refresh()
    writer = _space(cat, tmp_path)
    _add(cat, [3])
    writer.refresh()
    writer.flush()
    newer = read_infos(writer.infos_path)
    old._dirty = True  # the stale process believes it has something to write
    old.flush()
    assert read_infos(old.infos_path)["generation"] == newer["generation"]


@pytest.mark.parametrize("backend", ["flat", "ivf_sq8", "ivf_fs"])
def test_brand_scoped_search(cat: Catalogue, tmp_path: Path, backend: str) -> None:
    acme = _add(cat, list(range(1, 301)))
    other = _add(cat, [1001, 1002], brand="other")
    space = _space(cat, tmp_path, backend)
    allowed = cat.brand_reference_ids("other")
    assert set(allowed.tolist()) == set(other)
    for seed in (1, 2, 1001):  # acme's own images are not found when screening for "other"
        hits = space.search(_vec(seed)[None, :], 5, allowed)[0]
        assert {h[0] for h in hits} <= set(other) and len(hits) == 2
    hits = space.search(_vec(1001)[None, :], 1, allowed)[0]
    assert hits[0][0] == other[0] and hits[0][1] > 0.99
    assert space.search(_vec(7)[None, :], 1, cat.brand_reference_ids("acme"))[0][0][0] == acme[6]


def test_auto_switches_from_flat_to_ivf_when_outgrown(cat: Catalogue, tmp_path: Path) -> None:
    _add(cat, list(range(1, 61)))
    space = _space(cat, tmp_path, "auto", index_flat_max=100)
    assert space.index.kind == "flat" and space.needs_rebuild() is None
    ids = _add(cat, list(range(61, 161)))
    space.add(ids, [_vec(s)[None, :] for s in range(61, 161)])
    assert "flat_max" in space.needs_rebuild()
    space.rebuild()
    assert space.index.kind == "ivf_fs" and len(space) == 160 and space.needs_rebuild() is None
    infos = read_infos(space.infos_path)
    assert infos["kind"] == "ivf_fs" and infos["measured"]["k_factor"] == infos["k_factor"] >= 1
    reopened = _space(cat, tmp_path, "auto", index_flat_max=100)
    assert reopened.index.kind == "ivf_fs" and len(reopened) == 160
    # a tight memory budget keeps the smaller 8-bit IVF
    small = _space(cat, tmp_path / "small", "auto", index_flat_max=100, index_memory_gb=1e-5)
    small.rebuild()
    assert small.index.kind in ("ivf_sq8", "ivf_pq")


def test_index_newer_than_its_infos_is_caught_up(cat: Catalogue, tmp_path: Path, monkeypatch) -> None:
    ids = _add(cat, list(range(1, 11)))
    space = _space(cat, tmp_path)
    space.refresh()
    space.flush()
    more = _add(cat, [11, 12])
    space.add(more, [_vec(11)[None, :], _vec(12)[None, :]])
    space.index.save(space.index_path)  # killed between writing the index and writing its infos
    monkeypatch.setattr(space_mod, "build_index", lambda *a, **k: pytest.fail("caught up, not rebuilt"))
    again = _space(cat, tmp_path)
    assert _ids(again) == set(ids + more)
    assert again.search(_vec(12)[None, :], 1)[0][0][0] == more[1]


def test_ivf_fs_catch_up_removes_and_reuses_ids(cat: Catalogue, tmp_path: Path) -> None:
    ids = _add(cat, list(range(1, 401)))
    space = _space(cat, tmp_path, "ivf_fs")
    assert space.index.kind == "ivf_fs" and len(space) == 400
    space.flush()
    cat.remove_references(ids[:30] + [ids[-1]])  # the highest id goes ...
    (new,) = _add(cat, [999])  # ... and comes back for another image
    assert new == ids[-1]
    again = _space(cat, tmp_path, "ivf_fs")  # caught up from the file: removal, then adds
    assert _ids(again) == set(ids[30:-1] + [new])
    again.index.nprobe = again.index.nlist
    (hit,) = again.search(_vec(999)[None, :], 1)[0]
    assert hit[0] == new and hit[1] > 0.98, "the index must hold the new image's vector"
    for seed, ref in zip(range(31, 60), ids[30:59], strict=True):  # survivors are still found
        assert again.search(_vec(seed)[None, :], 1)[0][0][0] == ref
    found = {h[0] for s in range(1, 31) for h in again.search(_vec(s)[None, :], 3)[0]}
    assert not found & set(ids[:30])
