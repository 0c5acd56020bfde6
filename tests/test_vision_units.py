"""Units of the vision layer: model registry, descriptor, listing views, local-feature verification."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision.descriptor import Descriptor
from vision.local_features import _cell_agreement, _photometric, extract, verify
from vision.models import ModelNotFoundError, get_model_card, list_models
from vision.resample import shrink_to
from vision.views import content_box, listing_views, photo_region


def _photo(seed: int = 0, h: int = 300, w: int = 400) -> np.ndarray:
    from skimage import data

    img = [data.astronaut(), data.coffee(), data.chelsea()][seed]
    return np.ascontiguousarray(img[:h, :w])


def test_registry_knows_the_default_and_refuses_unknown_names() -> None:
    card = get_model_card()
    assert card.name == "sscd_distilled" and card.dim == 512
    assert "sscd_distilled" in {c.name for c in list_models()}
    with pytest.raises(ModelNotFoundError, match="unknown model"):
        get_model_card("no-such-model")


def test_descriptor_gives_unit_vectors_that_tell_copies_from_others() -> None:
    d = Descriptor.from_name()
    a = _photo(0)
    vecs = d.embed([a, a[20:260, 30:350], _photo(1)])
    assert vecs.shape == (3, 512)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert vecs[0] @ vecs[1] > 0.5 > vecs[0] @ vecs[2]
    assert d.embed([]).shape == (0, 512)


def test_content_box_finds_padding_and_ignores_plain_photos() -> None:
    img = _photo(0)
    padded = np.full((img.shape[0] + 120, img.shape[1] + 80, 3), 255, np.uint8)
    padded[60:-60, 40:-40] = img
    x0, y0, x1, y1 = content_box(padded)
    assert abs(x0 - 40) <= 4 and abs(y0 - 60) <= 4 and abs(x1 - (padded.shape[1] - 40)) <= 4
    assert content_box(img) is None
    assert [n for n, _ in listing_views(padded)] == ["full", "trimmed"]


def test_verify_finds_a_crop_and_rejects_another_image() -> None:
    ref = _photo(0, 512, 512)
    crop = np.ascontiguousarray(ref[100:420, 80:460])
    rf = extract(ref)
    v = verify(rf, extract(crop))
    assert v.inliers >= 20 and v.ncc > 0.8
    x0, y0, x1, y1 = v.box
    assert abs(x0 + 80) < 8 and abs(y0 + 100) < 8  # reference origin projects outside the crop
    other = verify(rf, extract(_photo(2)))
    assert other.inliers < 10 or other.ncc < 0.3


def test_photometric_check_of_a_small_paste_matches_the_whole_image_correlation() -> None:
    # The check works on the overlap's box only; its correlation must be the one over the whole images.
    ref = _photo(1, 160, 200)
    listing = _photo(0, 400, 480).copy()
    listing[150:310, 230:430] = (0.8 * ref + 30).astype(np.uint8)  # pasted, contrast changed
    h = np.array([[1.0, 0.0, 230.0], [0.0, 1.0, 150.0], [0.0, 0.0, 1.0]])
    rf = extract(ref, max_side=200)
    lf = extract(listing, max_side=480)
    ncc, agreement, coverage = _photometric(rf, lf, h)
    warped = cv2.warpPerspective(rf.gray, h, lf.size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full(rf.gray.shape, 255, np.uint8), h, lf.size, flags=cv2.INTER_NEAREST)
    inside = cv2.erode(mask, np.ones((5, 5), np.uint8)) > 0
    a = cv2.GaussianBlur(warped, (0, 0), 1.5).astype(np.float64)[inside]
    b = cv2.GaussianBlur(lf.gray, (0, 0), 1.5).astype(np.float64)[inside]
    assert ncc == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-9)
    assert ncc > 0.95 and agreement > 0.9 and coverage > 0.9


def test_cell_agreement_counts_cells_whose_pixels_correlate() -> None:
    a = _photo(1, 240, 240).mean(axis=2).astype(np.float32)
    inside = np.ones(a.shape, bool)
    good, total = _cell_agreement(a, a * 0.5 + 30, inside, 24)
    assert total > 50 and good == total  # same pixels, other exposure: every textured cell agrees
    rng = np.random.default_rng(0)
    noise = rng.uniform(0, 255, a.shape).astype(np.float32)
    good, total = _cell_agreement(a, noise, inside, 24)
    assert total > 50 and good / total < 0.1
    flat = np.full(a.shape, 128, np.float32)
    assert _cell_agreement(a, flat, inside, 24) == (0, 0)  # flat on one side says nothing
    part = inside.copy()
    part[:, 120:] = False
    left = np.ascontiguousarray(a[:, :120])
    expected = _cell_agreement(left, left, inside[:, :120], 24)
    assert _cell_agreement(a, a, part, 24) == expected and expected[1] > 20  # only cells inside the overlap


def test_cell_agreement_rejects_pixels_aligned_only_up_to_a_shift() -> None:
    # another viewpoint (a stereo pair) aligns up to a parallax: neighbours correlate better
    a = _photo(1, 240, 240).mean(axis=2).astype(np.float32)
    inside = np.ones(a.shape, bool)
    shifted = np.roll(a, 2, axis=1)
    good, total = _cell_agreement(a, shifted, inside, 24)
    assert total > 50 and good / total < 0.3
    good, total = _cell_agreement(a, a + np.float32(3.0), inside, 24)
    assert good == total


def _page_around(picture: np.ndarray, at: tuple[int, int], size: tuple[int, int] = (720, 480)) -> np.ndarray:
    """A white feed page with grey text lines and an icon row, the picture pasted at ``at``."""
    h, w = size
    page = np.full((h, w, 3), 250, np.uint8)
    for y in range(20, h - 10, 40):  # text lines, with white between them
        page[y : y + 5, 20 : w - 40 - (y * 7) % 120] = 160
    y0, x0 = at
    page[y0 : y0 + picture.shape[0], x0 : x0 + picture.shape[1]] = picture
    return page


def test_photo_region_finds_the_picture_in_a_screenshot_and_nothing_in_a_photo() -> None:
    pic = _photo(0, 260, 360)
    page = _page_around(pic, (300, 60))
    x0, y0, x1, y1 = photo_region(page)
    assert abs(x0 - 60) <= 10 and abs(y0 - 300) <= 10 and abs(x1 - 420) <= 10 and abs(y1 - 560) <= 10
    assert "region" in [n for n, _ in listing_views(page)]
    assert "region" not in [n for n, _ in listing_views(page, region=False)]
    assert photo_region(_photo(1)) is None  # an ordinary photo is all picture
    assert photo_region(np.full((300, 400, 3), 250, np.uint8)) is None  # an empty page


@pytest.mark.parametrize("size", [(224, 224), (300, 200), (480, 360), (61, 37)])
def test_shrink_to_stays_close_to_area_averaging(size: tuple[int, int]) -> None:
    img = _photo(1, 400, 600)
    fast = shrink_to(img, size)
    exact = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    assert fast.shape == exact.shape and fast.dtype == np.uint8
    assert np.abs(fast.astype(np.float32) - exact).mean() < 1.5
    assert shrink_to(img, (600, 400)) is img  # already that size: untouched
    bigger = shrink_to(img, (700, 500))
    assert bigger.shape == (500, 700, 3)  # enlarging works too (bilinear)
