"""Dense alignment: placing low-texture references by their pixels where keypoints fail."""

from __future__ import annotations

import cv2
import numpy as np

from vision.dense_alignment import coarse_placement, verify_dense
from vision.local_features import LocalFeatures, extract, verify
from vision.views import mirrored


def _smooth(seed: int, h: int = 360, w: int = 400) -> np.ndarray:
    """A wallpaper-like image: gradients and soft blobs, almost no corners."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        img[..., c] = 60 + 120 * (xx * rng.uniform(-1, 1) / w + yy * rng.uniform(-1, 1) / h) % 1.0
    for _ in range(4):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(40, 90)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
        img += blob[..., None] * rng.uniform(-90, 90, 3)
    return np.clip(img, 0, 255).astype(np.uint8)


def _background(h: int = 480, w: int = 640, name: str = "coffee") -> np.ndarray:
    from skimage import data

    return cv2.resize(getattr(data, name)(), (w, h), interpolation=cv2.INTER_AREA)


def _paste(ref: np.ndarray, scale: float, at: tuple[int, int], background: str = "coffee") -> np.ndarray:
    out = _background(name=background).copy()
    small = cv2.resize(ref, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    x, y = at
    out[y : y + small.shape[0], x : x + small.shape[1]] = small
    return out


def _features(rgb: np.ndarray) -> LocalFeatures:
    return extract(rgb, max_side=480, nfeatures=1500)


def test_a_pasted_smooth_reference_is_placed_where_keypoints_fail() -> None:
    ref = _smooth(0)
    listing = _paste(ref, 0.45, (300, 120))
    rf, lf = _features(ref), _features(listing)
    assert verify(rf, lf, min_inliers=10).transform is None  # the premise: keypoints find nothing
    which, v, corr = verify_dense([rf], lf)
    assert which == 0 and corr > 0.9
    assert v.transform is not None and v.agreement >= 0.5 and v.ncc >= 0.93
    x0, y0, x1, y1 = v.box
    assert abs(x0 - 300) < 4 and abs(y0 - 120) < 4
    assert abs(x1 - (300 + 0.45 * 400)) < 4 and abs(y1 - (120 + 0.45 * 360)) < 4


def test_the_mirrored_view_wins_for_a_flipped_copy_and_blur_does_not_hide_a_copy() -> None:
    ref = _smooth(1)
    listing = _paste(mirrored(ref), 0.5, (60, 200))
    views = [_features(ref), _features(mirrored(ref))]
    which, v, _ = verify_dense(views, _features(listing))
    assert which == 1 and v.agreement >= 0.5 and v.ncc >= 0.93
    blurred = cv2.GaussianBlur(ref, (0, 0), 3.0)
    _, v, _ = verify_dense([views[0]], _features(blurred))
    assert v.transform is not None and v.ncc >= 0.93


def test_another_smooth_image_is_not_taken_for_the_reference() -> None:
    rf = _features(_smooth(2))
    for seed in (3, 4, 5):
        _, v, _ = verify_dense([rf], _features(_paste(_smooth(seed), 0.6, (100, 80))))
        assert v.transform is None or v.agreement < 0.5 or v.ncc < 0.93


def test_coarse_placement_skips_flat_references() -> None:
    flat = np.full((100, 120), 128, np.uint8)
    assert coarse_placement(flat, _features(_background()).gray) is None
