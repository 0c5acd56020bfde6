"""Logo records and the keypoint index on disk: a new process reads them instead of deriving again."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

import authcheck.logo_store as logo_store
from authcheck.app import Authcheck
from authcheck.logo_store import (
    BASIS_FROM,
    derive_logo,
    keypoint_index,
    logo_from_record,
    pack_arrays,
    record_bytes,
    template_index,
    unpack_arrays,
)
from index.logo_index import LogoTemplateIndex
from index.logo_keypoint_index import IVF_FROM, LogoKeypointIndex
from tests.test_logo_detection import BRAND, _logo_matches, _mark, listings  # noqa: F401 (fixture)
from vision.imageio import load_image_full


def _records(home: Path) -> list[Path]:
    return sorted((home / "refs").rglob("*.logo"))


def test_a_logo_record_holds_exactly_what_was_derived(listings) -> None:  # noqa: F811
    image = load_image_full(listings["logo"])
    logo = derive_logo(image, width=640)
    assert logo is not None
    back = logo_from_record(record_bytes(logo), width=640)
    assert back is not None
    for name in ("points", "descriptors"):
        assert np.array_equal(getattr(back, name), getattr(logo, name))
    assert np.array_equal(back.shape.mask, logo.shape.mask)
    assert (back.shape.pad, back.shape.scale, back.shape.origin) == (
        logo.shape.pad,
        logo.shape.scale,
        logo.shape.origin,
    )
    assert np.array_equal(back.templates.vectors, logo.templates.vectors)
    assert back.templates.rects == [tuple(r) for r in logo.templates.rects]
    assert back.templates.rotations == logo.templates.rotations
    assert all(
        np.array_equal(a, b) for a, b in zip(back.templates.to_window, logo.templates.to_window, strict=True)
    )
    assert all(np.array_equal(a, b) for a, b in zip(back.contour, logo.contour, strict=True))
    assert back.to_original == pytest.approx(640 / image.rgb.shape[1]) == logo.to_original
    # the scale back to the original follows the width asked for, not the one it was recorded with
    assert logo_from_record(record_bytes(logo), width=320).to_original == pytest.approx(logo.to_original / 2)


def test_a_record_of_another_recipe_or_damaged_is_refused(listings, monkeypatch) -> None:  # noqa: F811
    data = record_bytes(derive_logo(load_image_full(listings["logo"]), width=320))
    with pytest.raises(ValueError):
        logo_from_record(data[: len(data) // 2], width=320)
    with pytest.raises(ValueError):
        logo_from_record(b"not a record", width=320)
    monkeypatch.setattr(logo_store, "RECIPE", logo_store.RECIPE + " changed")
    with pytest.raises(ValueError, match="recipe"):
        logo_from_record(data, width=320)
    assert logo_from_record(record_bytes(None), width=320) is None  # a logo without ink, recorded as such


def test_a_new_process_screens_from_the_logo_records_and_a_damaged_one_is_derived_again(
    home: Path,
    listings,  # noqa: F811
    monkeypatch,
) -> None:
    with closing(Authcheck(home)) as app:
        app.add_brand(BRAND)
        app.register([listings["logo"]], BRAND, kind="logo")
        records = _records(home)
        assert len(records) == 1  # written at registration, before any screening

    def no_deriving(*args, **kwargs):
        raise AssertionError("derived again although its record is on disk")

    with monkeypatch.context() as m:
        m.setattr(logo_store, "derive_logo", no_deriving)
        with closing(Authcheck(home)) as app:
            found = _logo_matches(app.screen_one("misuse.jpg", listings["misuse"], record=False))
            assert [f.brand for f in found] == [BRAND]

    records[0].write_bytes(records[0].read_bytes()[:100])  # a crash mid-write on a filesystem without rename
    calls = []
    real = logo_store.derive_logo
    monkeypatch.setattr(logo_store, "derive_logo", lambda *a, **k: calls.append(1) or real(*a, **k))
    with closing(Authcheck(home)) as app:
        assert [
            f.brand for f in _logo_matches(app.screen_one("misuse.jpg", listings["misuse"], record=False))
        ] == [BRAND]
    assert calls == [1]
    assert logo_from_record(records[0].read_bytes(), width=320) is not None  # rewritten whole


def _descriptors(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, (n, 32), dtype=np.uint8),
        np.arange(n) // 500,
        rng.random((n, 2), dtype=np.float32) * 160,
    )


def test_the_keypoint_index_is_read_back_while_the_logos_are_the_same(tmp_path: Path, monkeypatch) -> None:
    desc, owner, points = _descriptors(IVF_FROM + 1000, seed=1)
    built = keypoint_index(tmp_path, desc, owner, points)
    files = list(tmp_path.glob(logo_store.KEYPOINT_INDEX_GLOB))
    assert len(files) == 1

    class NoBuilding(LogoKeypointIndex):
        def __init__(self, descriptors: np.ndarray, *args, **kwargs) -> None:
            assert not len(descriptors), "built again although it is on disk"
            super().__init__(descriptors, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(logo_store, "LogoKeypointIndex", NoBuilding)
        read = keypoint_index(tmp_path, desc, owner, points)
    queries = _descriptors(400, seed=2)[0]
    a, b = built.votes(queries, 110, 0.95), read.votes(queries, 110, 0.95)
    assert len(a.listing) > 0
    assert np.array_equal(a.listing, b.listing) and np.array_equal(a.owner, b.owner)

    # other logos: a new index, and the old one removed
    keypoint_index(tmp_path, *_descriptors(IVF_FROM + 1000, seed=3))
    now = list(tmp_path.glob(logo_store.KEYPOINT_INDEX_GLOB))
    assert len(now) == 1 and now != files

    # a damaged file is built again, and rewritten
    now[0].write_bytes(now[0].read_bytes()[:1000])
    again = keypoint_index(tmp_path, *_descriptors(IVF_FROM + 1000, seed=3))
    assert len(again) == IVF_FROM + 1000
    assert LogoKeypointIndex.from_bytes(now[0].read_bytes(), *_descriptors(IVF_FROM + 1000, seed=3)[1:]).index


def test_a_keypoint_index_file_of_another_size_is_refused(tmp_path: Path) -> None:
    desc, owner, points = _descriptors(IVF_FROM + 10, seed=4)
    data = LogoKeypointIndex(desc, owner, points).to_bytes()
    with pytest.raises(ValueError):
        LogoKeypointIndex.from_bytes(data, owner[:-1], points[:-1])


def test_small_logo_sets_keep_no_keypoint_index_on_disk(tmp_path: Path) -> None:
    desc, owner, points = _descriptors(200, seed=5)
    assert len(keypoint_index(tmp_path, desc, owner, points)) == 200
    assert not list(tmp_path.glob(logo_store.KEYPOINT_INDEX_GLOB))


def test_array_records_round_trip_and_refuse_damage() -> None:
    arrays = {
        "a": np.arange(12, dtype=np.float32).reshape(3, 4),
        "empty": np.zeros((0, 32), np.uint8),
        "b": np.array([1.5, -2.0]),
    }
    back = unpack_arrays(pack_arrays(arrays))
    assert list(back) == list(arrays)
    for name, arr in arrays.items():
        assert back[name].dtype == arr.dtype and np.array_equal(back[name], arr)
    data = pack_arrays(arrays)
    for damaged in (data[:-1], data[:10], b"", b"x" * 40):
        with pytest.raises(ValueError):
            unpack_arrays(damaged)


def test_the_template_basis_of_many_logos_is_read_back(tmp_path: Path, monkeypatch) -> None:
    rng = np.random.default_rng(6)
    templates = rng.standard_normal((BASIS_FROM, 800)).astype(np.float32)
    templates /= np.linalg.norm(templates, axis=1, keepdims=True)
    support = np.full(BASIS_FROM, 300.0)
    made = template_index(tmp_path, templates, support, 32)
    assert len(list(tmp_path.glob(logo_store.TEMPLATE_BASIS_GLOB))) == 1

    def no_svd(*args, **kwargs):
        raise AssertionError("the basis was computed again although it is on disk")

    monkeypatch.setattr(np.linalg, "svd", no_svd)
    read = template_index(tmp_path, templates, support, 32)
    assert np.array_equal(read.basis, made.basis) and np.array_equal(read.matrix, made.matrix)
    with pytest.raises(ValueError):
        LogoTemplateIndex(templates, support, dims=16, basis=made.basis)


def test_the_logo_indexes_do_not_depend_on_the_registration_order(tmp_path: Path, listings) -> None:  # noqa: F811
    other = tmp_path / "other.png"
    _mark("other").save(other)
    built = []
    for order in ([listings["logo"], other], [other, listings["logo"]]):
        home = tmp_path / f"home-{len(built)}"
        with closing(Authcheck(home)) as app:
            app.add_brand(BRAND)
            for logo in order:  # one registration each: the ids follow this order
                app.register([logo], BRAND, kind="logo")
            app.logos.refresh()
            built.append(
                (
                    [e.source for e in app.logos._set.entries],
                    app.logos._set.templates.vectors.copy(),
                    app.logos._set.index.basis.copy(),
                )
            )
    (sources_a, vectors_a, basis_a), (sources_b, vectors_b, basis_b) = built
    assert sources_a == sources_b
    assert np.array_equal(vectors_a, vectors_b) and np.array_equal(basis_a, basis_b)


def test_training_a_small_keypoint_index_prints_no_faiss_warning(capfd) -> None:
    desc, owner, points = _descriptors(IVF_FROM + 1000, seed=7)  # 6,000 rows: under 39 per cell
    index = LogoKeypointIndex(desc, owner, points)
    assert len(index) == IVF_FROM + 1000
    assert "WARNING" not in capfd.readouterr().err
