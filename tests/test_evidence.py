"""Evidence images: listing beside reference, region outlined, keypoint pairs joined, coordinates mapped."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from authcheck.evidence import (
    GAP,
    HEADER,
    PANEL_HEIGHT,
    Panel,
    case_evidence_png,
    find_match,
    listing_panel,
    render_evidence,
    top_matches,
)
from index.catalogue import Catalogue, NewReference

RED = np.array([230, 30, 60])


def _solid(size: tuple[int, int], colour: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", size, colour)


def _near(pixel, colour, tol: int = 40) -> bool:
    return bool(np.abs(np.asarray(pixel[:3], dtype=int) - np.asarray(colour)).max() <= tol)


def test_outline_and_pairs_land_where_the_coordinates_say() -> None:
    # Listing 400x300 (stored at full size); reference 200x100 originally, stored at half size.
    listing = Panel(_solid((400, 300), (200, 200, 200)), (400, 300), "listing")
    reference = Panel(_solid((100, 50), (120, 120, 120)), (200, 100), "reference")
    match = {
        "reference_id": 1,
        "verdict": "copy",
        "score": 0.9,
        "outline": [[100, 50], [300, 50], [300, 150], [100, 150]],
        "pairs": [[[100, 50], [200, 100]]],  # reference centre (original px) -> listing point
    }
    img = render_evidence(listing, reference, match)
    ls = PANEL_HEIGHT / 300  # listing scale
    rs = min(PANEL_HEIGHT / 100, 720 / 200)  # reference scale, in original-reference pixels
    lw, rw = round(400 * ls), round(200 * rs)
    assert img.size == (lw + GAP + rw, HEADER + PANEL_HEIGHT)
    px = img.load()
    # The top edge of the outline, half way along, is red.
    assert any(_near(px[round(200 * ls), round(HEADER + 50 * ls) + dy], RED) for dy in (-1, 0, 1))
    # Inside the outline the listing is untouched.
    assert _near(px[round(150 * ls), round(HEADER + 120 * ls)], (200, 200, 200), tol=2)
    # The pair's line crosses the gap between the panels.
    a = (200 * ls, HEADER + 100 * ls)
    b = (lw + GAP + 100 * rs, HEADER + 50 * rs)
    x = lw + GAP // 2
    y = a[1] + (x - a[0]) / (b[0] - a[0]) * (b[1] - a[1])
    assert any(not _near(px[x, round(y) + dy], (250, 250, 250), tol=3) for dy in (-1, 0, 1))
    # Its end sits on the reference's centre: mapped from original pixels, not from the stored copy's.
    ring = [px[round(b[0]) + 3, round(b[1]) + dy] for dy in (-1, 0, 1)]
    assert any(not _near(p, (120, 120, 120), tol=3) for p in ring)


def test_a_box_is_drawn_when_there_is_no_outline_and_missing_images_are_placeholders() -> None:
    listing = Panel(_solid((300, 300), (255, 255, 255)), (300, 300), "listing")
    missing = Panel(None, (300, 300), "removed")
    img = render_evidence(listing, missing, {"reference_id": 2, "box": [30, 30, 270, 270], "score": 0.5})
    px = img.load()
    s = PANEL_HEIGHT / 300
    assert _near(px[round(150 * s), round(HEADER + 30 * s)], RED)
    placeholder = px[round(300 * s) + GAP + 200, HEADER + 200]
    assert _near(placeholder, (225, 225, 225), tol=2)


def test_outlines_past_the_listing_are_clipped_to_its_panel() -> None:
    listing = Panel(_solid((200, 200), (255, 255, 255)), (200, 200), "listing")
    reference = Panel(_solid((200, 200), (0, 0, 0)), (200, 200), "reference")
    outline = [[-50, -50], [400, -50], [400, 250], [-50, 250]]  # a cropped copy: corners off the listing
    img = render_evidence(listing, reference, {"reference_id": 3, "outline": outline})
    px = img.load()
    ref_x0 = PANEL_HEIGHT + GAP
    column = [px[ref_x0 + 5, y] for y in range(HEADER, HEADER + PANEL_HEIGHT)]
    assert not any(_near(p, RED) for p in column), "the outline bled into the reference panel"


def test_top_matches_prefers_decided_matches_then_the_best_candidate() -> None:
    s = {
        "result": {
            "matches": [
                {"reference_id": 1, "verdict": "candidate"},
                {"reference_id": 2, "verdict": "logo_misuse"},
                {"reference_id": 3, "verdict": "copy"},
            ]
        }
    }
    assert [m["reference_id"] for m in top_matches(s)] == [2, 3]
    assert [
        m["reference_id"]
        for m in top_matches({"result": {"matches": [{"reference_id": 9, "verdict": "candidate"}]}})
    ] == [9]
    assert find_match(s, None)["reference_id"] == 2
    assert find_match(s, 1)["reference_id"] == 1
    assert find_match(s, 7) is None


def _jpeg(path: Path, size: tuple[int, int], colour: tuple[int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, "JPEG")


def test_case_evidence_from_a_real_catalogue(tmp_path: Path) -> None:
    catalogue = Catalogue(tmp_path / "catalogue.sqlite")
    catalogue.add_brand("acme")
    _jpeg(tmp_path / "refs/aa/ref.jpg", (100, 80), (10, 120, 10))
    _jpeg(tmp_path / "listings/bb/listing.jpg", (320, 240), (200, 180, 160))
    (ref_id,) = catalogue.add_references(
        [
            NewReference(
                brand="acme",
                kind="catalogue",
                source="shot.jpg",
                sha256="a" * 64,
                model="m",
                width=200,
                height=160,
                stored_path="refs/aa/ref.jpg",
                vectors={"catalogue:m": np.ones((1, 4), np.float32)},
            )
        ]
    )
    match = {"reference_id": ref_id, "verdict": "copy", "score": 0.8, "box": [10, 10, 200, 150], "pairs": []}
    result = {"image": "l.jpg", "verdict": "copy", "matches": [match], "width": 320, "height": 240}
    sid = catalogue.add_screening(
        image="l.jpg",
        verdict="copy",
        score=0.8,
        result=result,
        listing_path="listings/bb/listing.jpg",
        status="open",
    )
    screening = catalogue.get_screening(sid)
    png = case_evidence_png(tmp_path, catalogue, screening)
    img = Image.open(io.BytesIO(png)).convert("RGB")
    px = img.load()
    assert _near(px[10, HEADER + 200], (200, 180, 160), tol=6)  # the listing on the left
    assert _near(px[img.width - 10, HEADER + 200], (10, 120, 10), tol=8)  # the reference on the right
    with pytest.raises(LookupError):
        case_evidence_png(tmp_path, catalogue, screening, reference_id=ref_id + 100)
    catalogue.remove_references([ref_id])
    after = Image.open(io.BytesIO(case_evidence_png(tmp_path, catalogue, screening))).convert("RGB")
    assert _near(after.load()[after.width - 10, HEADER + 200], (225, 225, 225), tol=2)  # removed since
    catalogue.close()


def test_listing_paths_outside_the_home_are_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "outside.jpg"
    _jpeg(secret, (50, 50), (0, 0, 0))
    home = tmp_path / "home"
    home.mkdir()
    panel = listing_panel(home, {"listing_path": "../outside.jpg", "result": {"width": 50, "height": 50}})
    assert panel.image is None
