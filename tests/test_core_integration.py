"""End to end on real parts: SQLite file, FAISS file on disk, the SSCD model, real photos."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from authcheck.app import Authcheck
from index.catalogue import CatalogueError
from tests.image_zoo import bad_images, good_images


def _copy_of(src: Path, dst: Path) -> Path:
    """A crop + mirror + recompression of ``src``: a copied catalogue shot."""
    img = np.asarray(Image.open(src).convert("RGB"))
    h, w = img.shape[:2]
    crop = img[h // 10 : h - h // 8, w // 8 : w - w // 12][:, ::-1]
    Image.fromarray(crop).resize((crop.shape[1] * 3 // 4, crop.shape[0] * 3 // 4)).save(
        dst, "JPEG", quality=60
    )
    return dst


@pytest.fixture()
def registered(home: Path, photos: dict[str, Path]) -> Authcheck:
    app = Authcheck(home)
    app.add_brand("acme", sellers=["acme-store"])
    report = app.register([photos["astronaut"], photos["coffee"], photos["rocket"]], "acme")
    assert len(report.registered) == 3 and not report.failed
    yield app
    app.close()


def test_register_screen_remove_screen(
    registered: Authcheck, photos: dict[str, Path], tmp_path: Path
) -> None:
    app = registered
    query = _copy_of(photos["coffee"], tmp_path / "listing.jpg")
    result = app.screen_one("listing.jpg", query)
    assert result.verdict == "copy"
    best = result.matches[0]
    assert best.source == str(photos["coffee"]) and best.brand == "acme"
    assert best.box is not None and best.mirrored
    # keypoint pairs map reference pixels to listing pixels through the crop, mirror and resize
    w, h = Image.open(photos["coffee"]).size
    assert len(best.pairs) >= 10
    for (rx, ry), (lx, ly) in best.pairs:
        assert abs((w - w // 12 - rx) * 0.75 - lx) < 6 and abs((ry - h // 10) * 0.75 - ly) < 6

    clean = app.screen_one("cat.jpg", photos["chelsea"])
    assert clean.verdict == "clean"
    assert clean.matches, "top candidates are listed even when clean"

    removed = app.remove([best.reference_id])
    assert [r.id for r in removed] == [best.reference_id]
    again = app.screen_one("listing.jpg", query)
    assert again.verdict == "clean"
    assert all(m.reference_id != best.reference_id for m in again.matches)


def test_reregistering_same_bytes_is_a_noop(registered: Authcheck, photos: dict[str, Path]) -> None:
    report = registered.register([photos["coffee"]], "acme")
    assert report.registered == [] and report.duplicates == [str(photos["coffee"])]
    assert registered.catalogue.count_references() == 3


def test_unknown_brand_is_refused(registered: Authcheck, photos: dict[str, Path]) -> None:
    with pytest.raises(CatalogueError, match="unknown brand"):
        registered.register([photos["chelsea"]], "nobody")


def test_index_file_is_rebuilt_when_missing_or_corrupt(
    registered: Authcheck, photos: dict[str, Path]
) -> None:
    home = registered.home
    registered.close()
    index_file = next((home / "indexes").glob("*.faiss"))
    index_file.write_bytes(b"garbage")
    app = Authcheck(home)
    assert app.screen_one("a", photos["astronaut"]).verdict == "copy"
    app.close()
    index_file.unlink()
    app = Authcheck(home)
    assert len(app.catalogue_space) == 3
    app.close()


def test_malformed_zoo_through_register_and_screen(home: Path, tmp_path: Path) -> None:
    good = good_images(tmp_path / "good")
    bad = bad_images(tmp_path / "bad")
    app = Authcheck(home)
    app.add_brand("zoo")
    report = app.register(list(good.values()) + list(bad.values()), "zoo")
    assert {Path(p).name for p, _ in report.failed} == set(bad)
    assert all(Path(p).name in err for p, err in report.failed)
    # Awkward but readable images register; some are pixel-identical (same photo in other modes).
    assert len(report.registered) + len(report.duplicates) == len(good)
    results = list(app.screen([(p.name, p) for p in [*good.values(), *bad.values()]]))
    errors = {r.image for r in results if r.error}
    assert errors == set(bad)
    assert all(r.verdict for r in results if not r.error)
    app.close()


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "authcheck.cli", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_contract_and_new_process_gives_same_answers(
    home: Path, photos: dict[str, Path], tmp_path: Path
) -> None:
    assert _cli(home, "brand", "add", "acme", "--authorised-seller", "s1").returncode == 0
    reg = _cli(home, "register", "--brand", "acme", "--kind", "catalogue", str(photos["astronaut"]), "--json")
    assert reg.returncode == 0, reg.stderr
    assert json.loads(reg.stdout)["registered"] == 1
    query = _copy_of(photos["astronaut"], tmp_path / "q.jpg")
    missing = tmp_path / "missing.jpg"
    outs = []
    for _ in range(2):  # two separate processes
        res = _cli(home, "screen", str(query), str(missing), "--json", "--seller", "x1")
        assert res.returncode == 1  # one unreadable input
        rows = [json.loads(line) for line in res.stdout.splitlines()]
        outs.append(rows)
    assert outs[0][0]["verdict"] == "copy"
    assert outs[0][0]["matches"][0]["source"] == str(photos["astronaut"])
    assert set(outs[0][0]["matches"][0]) >= {"reference_id", "source", "brand", "kind", "score", "box"}
    assert "error" in outs[0][1] and "missing.jpg" in outs[0][1]["error"]
    strip = [{k: v for k, v in r.items() if k != "screening_id"} for r in outs[0]]
    assert strip == [{k: v for k, v in r.items() if k != "screening_id"} for r in outs[1]]
    bad = _cli(home, "register", "--brand", "nobody", str(query))
    assert bad.returncode == 2 and "unknown brand" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    usage = _cli(home, "screen")
    assert usage.returncode == 2


def test_bulk_stream_keeps_order_and_per_item_sellers(
    registered: Authcheck, photos: dict[str, Path], tmp_path: Path
) -> None:
    copy = _copy_of(photos["coffee"], tmp_path / "copy.jpg")
    items = [
        ("a.jpg", photos["chelsea"], "seller-a"),
        ("b.jpg", copy),
        ("c.jpg", tmp_path / "missing.jpg", "seller-c"),
        ("d.jpg", photos["hubble_deep_field"], "seller-d"),
    ]
    results = list(registered.screen(items, seller="default", record=False))
    assert [r.image for r in results] == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    assert [r.seller for r in results] == ["seller-a", "default", "seller-c", "seller-d"]
    assert [r.verdict for r in results if r.error is None] == ["clean", "copy", "clean"]
    assert results[2].error and "c.jpg" in results[2].error and "no such file" in results[2].error


def test_a_smooth_catalogue_shot_pasted_into_a_photo_is_caught_by_its_pixels(
    registered: Authcheck, tmp_path: Path
) -> None:
    from tests.test_dense_alignment import _paste, _smooth

    app = registered
    shot = tmp_path / "gradient.png"
    Image.fromarray(_smooth(7)).save(shot)
    assert len(app.register([shot], "acme").registered) == 1
    listing = tmp_path / "listing.jpg"
    Image.fromarray(_paste(_smooth(7)[:, ::-1], 1.0, (200, 100), background="chelsea")).save(
        listing, "JPEG", quality=85
    )
    result = app.screen_one("listing.jpg", listing)
    assert result.verdict == "copy"
    best = result.matches[0]
    assert best.source == str(shot) and best.signal == "pixels" and best.mirrored
    x0, y0, x1, y1 = best.box
    assert abs(x0 - 200) < 8 and abs(y0 - 100) < 8 and abs(x1 - 600) < 8 and abs(y1 - 460) < 8


def _padded(src: Path, dst: Path, pad: int = 60) -> Path:
    """``src`` on a plain white margin (what the trimmed view removes)."""
    img = np.asarray(Image.open(src).convert("RGB"))
    out = np.full((img.shape[0] + 2 * pad, img.shape[1] + 2 * pad, 3), 255, np.uint8)
    out[pad:-pad, pad:-pad] = img
    Image.fromarray(out).save(dst, "JPEG", quality=90)
    return dst


def test_extra_views_are_embedded_only_when_the_full_view_finds_no_copy(
    registered: Authcheck, photos: dict[str, Path], tmp_path: Path
) -> None:
    app = registered
    calls: list[int] = []
    embed = app.descriptor.embed

    def counting(images, wide=None):  # the real descriptor, counted
        calls.append(len(images))
        return embed(images, wide)

    app.descriptor.embed = counting  # type: ignore[method-assign]
    copy = app.screen_one("copy.jpg", _padded(photos["coffee"], tmp_path / "copy.jpg"), record=False)
    assert copy.verdict == "copy" and copy.matches[0].source == str(photos["coffee"])
    assert calls == [1]  # the full view found it: the trimmed view was never embedded
    calls.clear()
    clean = app.screen_one("cat.jpg", _padded(photos["chelsea"], tmp_path / "cat.jpg"), record=False)
    assert clean.verdict == "clean"
    assert calls == [1, 1]  # nothing found: then the view with the margin trimmed
