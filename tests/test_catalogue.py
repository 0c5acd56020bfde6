"""The SQLite catalogue: brands, sellers, references with vectors, screenings, reviews, audit."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from index.catalogue import Catalogue, CatalogueError, NewReference


def _ref(brand: str, sha: str, space: str = "catalogue:m", kind: str = "catalogue") -> NewReference:
    vec = np.random.default_rng(abs(hash(sha)) % 2**32).normal(size=(1, 8)).astype(np.float32)
    return NewReference(brand, kind, f"/src/{sha}.jpg", sha, "m", 10, 10, f"refs/{sha}.jpg", {space: vec})


def test_brands_sellers_wordmarks(tmp_path: Path) -> None:
    cat = Catalogue(tmp_path / "c.sqlite")
    cat.add_brand("acme", sellers=["s1"], wordmarks=["ACME"])
    cat.add_brand("acme", sellers=["s2"])  # idempotent, adds a seller
    assert cat.get_brand("acme").authorised_sellers == ("s1", "s2")
    cat.set_sellers("acme", ["s1"], authorised=False)
    assert cat.authorised_map() == {"acme": frozenset({"s2"})}
    assert cat.wordmark_map() == {"acme": ("ACME",)}
    with pytest.raises(CatalogueError, match="unknown brand"):
        cat.get_brand("nope")
    with pytest.raises(CatalogueError):
        cat.add_brand("  ")


def test_references_dedupe_per_brand_and_bump_generation(tmp_path: Path) -> None:
    cat = Catalogue(tmp_path / "c.sqlite")
    cat.add_brand("a")
    cat.add_brand("b")
    g0 = cat.generation("catalogue:m")
    ids = cat.add_references([_ref("a", "x"), _ref("a", "x"), _ref("b", "x")])
    assert ids[0] > 0 and ids[1] == -1 and ids[2] > 0  # same bytes, other brand: allowed
    assert cat.generation("catalogue:m") == g0 + 1
    got = list(cat.iter_vectors("catalogue:m"))
    assert sorted(got[0][0].tolist()) == sorted([ids[0], ids[2]])
    removed = cat.remove_references([ids[0]], brand="b")  # wrong brand: nothing removed
    assert removed == []
    removed = cat.remove_references([ids[0]], brand="a")
    assert [r.id for r in removed] == [ids[0]]
    assert cat.vector_ids("catalogue:m").tolist() == [ids[2]]
    assert cat.generation("catalogue:m") == g0 + 2


def test_failed_batch_inserts_nothing(tmp_path: Path) -> None:
    cat = Catalogue(tmp_path / "c.sqlite")
    cat.add_brand("a")
    with pytest.raises(CatalogueError):
        cat.add_references([_ref("a", "ok"), _ref("missing-brand", "y")])
    assert cat.count_references() == 0


def test_screenings_queue_reviews_and_audit(tmp_path: Path) -> None:
    cat = Catalogue(tmp_path / "c.sqlite")
    cat.add_brand("a")
    sid = cat.add_screening(
        image="l.jpg", verdict="copy", score=0.9, result={"x": 1}, brands=["a"], status="open"
    )
    assert [s["id"] for s in cat.list_screenings(status="open", brand="a")] == [sid]
    assert cat.list_screenings(status="open", brand="zzz") == []
    cat.add_review(sid, "confirm", "rev1", "clear copy", "confirmed")
    got = cat.get_screening(sid)
    assert got["status"] == "confirmed" and got["reviews"][0]["reviewer"] == "rev1"
    cat.audit("rev1", "review.confirm", f"screening:{sid}", {"note": "clear copy"})
    assert cat.audit_log(f"screening:{sid}")[0]["action"] == "review.confirm"


def test_concurrent_writers_from_threads(tmp_path: Path) -> None:
    cat = Catalogue(tmp_path / "c.sqlite")
    cat.add_brand("a")
    errors: list[Exception] = []

    def worker(n: int) -> None:
        try:
            for i in range(20):
                cat.add_references([_ref("a", f"t{n}-{i}")])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert cat.count_references() == 80
