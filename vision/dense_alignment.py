"""Dense alignment: where a reference sits, scaled, inside a listing, found from the pixels alone.

Keypoints fail on references with little texture (smooth gradients, a plain product on a
plain ground) and on heavily blurred copies: there are no corners to match. Their pixels
still line up. This finds the placement by correlating the whole reference, at a range of
sizes, over a small version of the listing, then refines it (ECC) to sub-pixel precision,
so that the photometric check of :mod:`vision.local_features` can judge it like a keypoint
alignment.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vision.local_features import LocalFeatures, Verification, complete_verification

MIN_TEMPLATE = 12  # px at the working size; smaller templates correlate with anything


@dataclass(frozen=True)
class Placement:
    """A reference's placement in a listing: 2x3 affine map of reference to listing pixels."""

    affine: np.ndarray  # (2, 3) float32, feature-image pixels
    correlation: float  # normalised correlation of the reference over the listing there


def _shrink(gray: np.ndarray, k: float) -> np.ndarray:
    h, w = gray.shape
    size = (max(1, round(w * k)), max(1, round(h * k)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)


def coarse_placement(
    ref: np.ndarray,
    listing: np.ndarray,
    *,
    work_side: int = 96,
    min_frac: float = 0.3,
    step: float = 1.12,
    small: np.ndarray | None = None,
) -> Placement | None:
    """Best placement of the whole ``ref`` (grey, uint8) inside ``listing`` over sizes and positions.

    Sizes run from the largest at which the reference fits in the listing down to
    ``min_frac`` of it, by factors of ``step``; correlation is zero-mean normalised, so
    brightness, contrast and (on grey images) colour changes do not matter. ``small`` is
    the listing already shrunk to ``work_side`` (when placing several references).
    """
    lh, lw = listing.shape
    rh, rw = ref.shape
    k = work_side / max(lh, lw)
    if small is None:
        small = _shrink(listing, k)
    sh, sw = small.shape
    fit = min(sw / rw, sh / rh)  # reference px -> working px when the reference just fits
    base = _shrink(ref, fit)  # the largest template; smaller ones are shrunk from it
    best: tuple[float, int, int, int, int] | None = None
    s = 1.0
    while s >= min_frac:
        tw, th = min(sw, round(base.shape[1] * s)), min(sh, round(base.shape[0] * s))
        s /= step
        if min(tw, th) < MIN_TEMPLATE:
            break
        same = (tw, th) == (base.shape[1], base.shape[0])
        tmpl = base if same else cv2.resize(base, (tw, th), interpolation=cv2.INTER_AREA)
        if float(cv2.meanStdDev(tmpl)[1][0, 0]) < 2.0:  # a flat template matches every flat patch
            continue
        res = cv2.matchTemplate(small, tmpl, cv2.TM_CCOEFF_NORMED)
        cv2.patchNaNs(res, -1.0)  # flat listing windows
        _, top, _, (x, y) = cv2.minMaxLoc(res)
        if top <= 1.0 + 1e-3 and (best is None or top > best[0]):
            best = (float(top), tw, th, x, y)
    if best is None:
        return None
    top, tw, th, x, y = best
    affine = np.array([[tw / rw / k, 0.0, x / k], [0.0, th / rh / k, y / k]], dtype=np.float32)
    return Placement(affine, top)


def refine_placement(
    ref: np.ndarray, listing: np.ndarray, start: Placement, *, template_side: int = 160, iterations: int = 25
) -> np.ndarray | None:
    """Sub-pixel affine placement by ECC, started from ``start``; None if it diverges.

    ECC runs with the reference shrunk to ``template_side`` px and the listing shrunk so
    the placed reference has about that size there too (never enlarged): its cost does not
    depend on how large the copy is.
    """
    kr = min(1.0, template_side / max(ref.shape))
    scale = float(np.sqrt(abs(np.linalg.det(start.affine[:, :2].astype(np.float64)))))
    kl = min(1.0, kr / max(scale, 1e-6))
    ref_s = _shrink(ref, kr).astype(np.float32)
    # Only the placed reference's surroundings of the listing take part (ECC filters all of it).
    rh, rw = ref.shape
    corners = (
        start.affine[:, :2] @ np.array([[0, rw, rw, 0], [0, 0, rh, rh]], np.float32) + start.affine[:, 2:]
    )
    margin = 0.15 * max(np.ptp(corners[0]), np.ptp(corners[1]))
    lh, lw = listing.shape
    x0, y0 = max(0, int(corners[0].min() - margin)), max(0, int(corners[1].min() - margin))
    x1, y1 = min(lw, int(corners[0].max() + margin) + 1), min(lh, int(corners[1].max() + margin) + 1)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    lis_s = _shrink(listing[y0:y1, x0:x1], kl).astype(np.float32)
    # ref_s px -> crop_s px: linear part times kl / kr, shift moved to the crop and times kl.
    warp = start.affine.astype(np.float32).copy()
    warp[:, :2] *= kl / kr
    warp[:, 2] = (warp[:, 2] - np.array([x0, y0], np.float32)) * kl
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, 1e-4)
    try:
        _, warp = cv2.findTransformECC(ref_s, lis_s, warp, cv2.MOTION_AFFINE, criteria, None, 3)
    except cv2.error:
        return None
    if not np.all(np.isfinite(warp)):
        return None
    warp[:, :2] *= kr / kl
    warp[:, 2] = warp[:, 2] / kl + np.array([x0, y0], np.float32)
    return warp


def _near_similarity(affine: np.ndarray, tolerance: float = 0.08) -> bool:
    """Whether the linear part is a rotation and uniform scale (no flip, little shear or stretch)."""
    lin = affine[:, :2].astype(np.float64)
    if np.linalg.det(lin) <= 0:
        return False
    sv = np.linalg.svd(lin, compute_uv=False)
    return bool(sv[1] > 0 and sv[0] / sv[1] <= 1.0 + tolerance)


def verify_dense(
    refs: list[LocalFeatures],
    listing: LocalFeatures,
    *,
    min_correlation: float = 0.5,
    work_side: int = 96,
    min_frac: float = 0.3,
) -> tuple[int, Verification, float]:
    """Place each of ``refs`` (e.g. a reference and its mirror image) by its pixels; check the best.

    Only the view that correlates best is refined and checked as :func:`verify` checks a
    keypoint alignment. Returns (index of that view, its verification, its coarse
    correlation); ``inliers`` stays 0 (no keypoints), ``transform`` is set once a
    placement was refined and checked.
    """
    out = Verification()
    lis = listing.gray
    small = _shrink(lis, work_side / max(lis.shape))
    placed = [
        coarse_placement(r.gray, lis, work_side=work_side, min_frac=min_frac, small=small) for r in refs
    ]
    scored = [(p.correlation, i) for i, p in enumerate(placed) if p is not None]
    if not scored:
        return 0, out, 0.0
    corr, best = max(scored)
    start = placed[best]
    assert start is not None
    if corr < min_correlation:
        return best, out, corr
    ref = refs[best]
    affine = refine_placement(ref.gray, listing.gray, start)
    if affine is None or not _near_similarity(affine):
        return best, out, corr
    h = np.vstack([affine.astype(np.float64), [0.0, 0.0, 1.0]])
    complete_verification(out, ref, listing, h, pairs=np.zeros((0, 2), np.int64))
    return best, out, corr
