"""Local features of registered logos, for proposing where a logo sits in a listing.

A second way to propose logo placements, beside the coarse edge-template scan
(:mod:`vision.logo_scan`): detailed marks (line drawings, lettering, mascots) keep ORB
keypoints where their outline thins out too much for 16 px templates. Each logo is drawn
over white and over black (so keypoints on its outline exist whichever way the listing's
surroundings contrast with it) at two sizes, and its ORB keypoints are taken with the same
detector the listing's copy check already runs, so the listing's keypoints serve both
checks. Keypoint positions are given in the logo's canonical frame
(:class:`vision.logo_features.LogoShape`); matched listing keypoints then give a
placement guess (:func:`placement_from_matches`) that the silhouette verification refines
and judges like any other.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from vision.local_features import ORB_BORDER, ORB_LEVELS, ORB_SCALE, extract
from vision.logo_features import LogoShape

RENDER_SIDES = (256, 128)  # logo long side when its keypoints are taken, px
BACKGROUNDS = (255, 0)  # transparent logos are drawn over white and over black
RENDER_MARGIN = 0.15  # border around the drawn logo, fraction of its long side (ORB skips borders)
# ... and at least this many px at the size drawn (112): the border ORB skips at its coarsest level, where
# a small pasted logo's keypoints are matched (dev logo recall 0.87 -> 0.89, dev seed 1 0.82 -> 0.85:
# with a 15% margin the 128 px drawing of a 5:1 wordmark had no room for keypoints past its first levels)
RENDER_BORDER = math.ceil(ORB_BORDER * ORB_SCALE ** (ORB_LEVELS - 1))
LOGO_NFEATURES = 500  # keypoints per drawing


def _drawings(rgb: np.ndarray, alpha: np.ndarray | None, margin: int) -> list[np.ndarray]:
    """The logo framed by ``margin`` px over each background (one drawing when it is opaque), RGB."""
    if alpha is None or int(alpha.min()) >= 250:
        edge = tuple(int(v) for v in np.median(np.concatenate([rgb[0], rgb[-1]]), axis=0))
        return [cv2.copyMakeBorder(rgb, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=edge)]
    a = (alpha.astype(np.float32) / 255.0)[..., None]
    out = []
    for bg in BACKGROUNDS:
        drawn = (rgb.astype(np.float32) * a + bg * (1.0 - a)).round().astype(np.uint8)
        out.append(
            cv2.copyMakeBorder(drawn, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=(bg,) * 3)
        )
    return out


def logo_keypoints(
    rgb: np.ndarray, alpha: np.ndarray | None, shape: LogoShape, nfeatures: int = LOGO_NFEATURES
) -> tuple[np.ndarray, np.ndarray]:
    """ORB keypoints of a logo image: (canonical points (n, 2) float32, descriptors (n, 32) uint8).

    ``shape`` is the logo's :func:`vision.logo_features.logo_shape`; points are in its canonical frame.
    """
    points, descriptors = [], []
    h, w = rgb.shape[:2]
    for side in RENDER_SIDES:
        # in logo-image px: RENDER_MARGIN of the logo, and RENDER_BORDER px once drawn `side` px long
        margin = max(8, round(max(RENDER_MARGIN, RENDER_BORDER / side) * max(h, w)))
        for drawing in _drawings(rgb, alpha, margin):
            # the drawing's long side is the logo's plus two margins: size it so the logo is `side` px
            full = side * (max(h, w) + 2 * margin) / max(h, w)
            feats = extract(drawing, max_side=round(full), nfeatures=nfeatures, upscale_small=True)
            if not len(feats.points):
                continue
            source = feats.points / feats.scale - margin  # logo-image px
            canonical = (source - np.array(shape.origin, np.float32)) * shape.scale + shape.pad
            points.append(canonical.astype(np.float32))
            descriptors.append(feats.descriptors)
    if not points:
        return np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
    return np.concatenate(points), np.concatenate(descriptors)


def placement_from_matches(
    logo_points: np.ndarray, listing_points: np.ndarray, *, tolerance: float = 4.0, min_inliers: int = 6
) -> tuple[np.ndarray, np.ndarray] | None:
    """A guessed placement (3x3, canonical -> listing px) from matched point pairs, and which pairs agree.

    A similarity transform (rotation, scale, shift) fitted by RANSAC: a pasted logo's mild
    perspective is left to the verification's refinement, and four parameters stay stable on
    the few matches a small logo gives. None when fewer than ``min_inliers`` pairs agree.
    """
    if len(logo_points) < max(3, min_inliers):
        return None
    m, inliers = cv2.estimateAffinePartial2D(
        logo_points.reshape(-1, 1, 2),
        listing_points.reshape(-1, 1, 2),
        method=cv2.RANSAC,
        ransacReprojThreshold=tolerance,
        maxIters=500,
        confidence=0.99,
    )
    if m is None or inliers is None:
        return None
    agree = inliers.ravel().astype(bool)
    if agree.sum() < min_inliers:
        return None
    return np.vstack([m, [0.0, 0.0, 1.0]]), agree
