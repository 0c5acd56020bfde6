"""Local features and geometric verification: does image A appear inside image B, and where?

Keypoints (SIFT by default) are matched one-to-one from the reference to the listing,
filtered by Lowe's ratio test, and fitted with a RANSAC transform. A photometric check
(normalised cross-correlation after alignment) separates a copy of the reference's pixels
from another photo of the same subject, which a transform alone cannot do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import faiss
import numpy as np


class LocalFeatures:
    """Keypoints of one image, in the coordinates of the image they were computed on (scaled).

    The feature image (``gray``, and ``mask`` where the content has a shape) is kept for the
    photometric check. Features read back from disk get it from ``load`` on first use: most
    candidates are rejected on their keypoints alone and never need it.
    """

    __slots__ = ("_gray", "_load", "_mask", "_size", "descriptors", "points", "scale")

    def __init__(
        self,
        points: np.ndarray,
        descriptors: np.ndarray,
        gray: np.ndarray | None,
        scale: float,
        mask: np.ndarray | None = None,
        *,
        size: tuple[int, int] | None = None,
        load: Callable[[], tuple[np.ndarray, np.ndarray | None]] | None = None,
    ) -> None:
        if gray is None and (load is None or size is None):
            raise ValueError("features without their image need its size and a loader")
        self.points = points  # (N, 2) float32, in feature-image pixels
        self.descriptors = descriptors  # (N, D) float32 for SIFT, (N, 32) uint8 for ORB
        self.scale = scale  # feature-image pixels per original pixel
        self._gray, self._mask, self._load = gray, mask, load
        self._size = size or (int(gray.shape[1]), int(gray.shape[0]))  # type: ignore[union-attr]

    def _ensure_image(self) -> None:
        if self._gray is None:
            assert self._load is not None
            self._gray, self._mask = self._load()  # idempotent: a race only loads it twice

    @property
    def gray(self) -> np.ndarray:
        """(h, w) uint8 feature image."""
        self._ensure_image()
        assert self._gray is not None
        return self._gray

    @property
    def mask(self) -> np.ndarray | None:
        """(h, w) uint8, non-zero where the content is (images with transparency), else None."""
        self._ensure_image()
        return self._mask

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the feature image."""
        return self._size

    def __len__(self) -> int:
        return len(self.points)


@dataclass
class Verification:
    """Outcome of matching a reference against a listing."""

    inliers: int = 0
    matches: int = 0
    transform: np.ndarray | None = None  # 3x3, reference original px -> listing original px
    outline: list[list[float]] = field(default_factory=list)  # reference corners in listing px
    pairs: list[tuple[tuple[float, float], tuple[float, float]]] = field(default_factory=list)
    ncc: float = 0.0  # photometric agreement of the whole aligned overlap, -1..1
    agreement: float = 0.0  # share of textured overlap cells whose pixels agree (NCC > CELL_AGREE)
    coverage: float = 0.0  # share of the reference's area visible in the listing

    @property
    def box(self) -> list[float] | None:
        """Axis-aligned box [x0, y0, x1, y1] around the outline, in listing pixels."""
        if not self.outline:
            return None
        pts = np.asarray(self.outline)
        return [
            float(pts[:, 0].min()),
            float(pts[:, 1].min()),
            float(pts[:, 0].max()),
            float(pts[:, 1].max()),
        ]


_DETECTORS: dict[tuple[str, int], cv2.Feature2D] = {}
ORB_SCALE = 1.2  # ORB's pyramid: each level this much smaller than the last
ORB_LEVELS = 8
ORB_BORDER = 31  # px of each level ORB takes no keypoints in (its edge threshold, OpenCV's default)


def _detector(method: str, nfeatures: int) -> cv2.Feature2D:
    key = (method, nfeatures)
    det = _DETECTORS.get(key)
    if det is None:
        if method == "sift":
            det = cv2.SIFT_create(nfeatures=nfeatures, contrastThreshold=0.02)
        elif method == "orb":
            det = cv2.ORB_create(
                nfeatures=nfeatures,
                scaleFactor=ORB_SCALE,
                nlevels=ORB_LEVELS,
                edgeThreshold=ORB_BORDER,
                fastThreshold=10,
            )
        else:
            raise ValueError(f"unknown local feature method {method!r} (sift or orb)")
        _DETECTORS[key] = det
    return det


def feature_image(
    image: np.ndarray, max_side: int, alpha: np.ndarray | None = None, upscale_small: bool = False
) -> tuple[np.ndarray, float, np.ndarray | None]:
    """(grey feature image, its pixels per original pixel, content mask or None) of an RGB image.

    The image is scaled so its long side is ``max_side`` (shrunk always, enlarged only with
    ``upscale_small``); ``alpha`` (H, W) becomes a mask of the opaque parts, slightly dilated.
    """
    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)  # before resizing: a third of the pixels to average
    if scale < 1.0 or upscale_small:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        gray = cv2.resize(gray, size, interpolation=interp)
        small_alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_LINEAR) if alpha is not None else None
    else:
        scale, small_alpha = 1.0, alpha
    mask = None
    if small_alpha is not None:
        mask = (small_alpha > 32).astype(np.uint8) * 255
        mask = cv2.dilate(mask, np.ones((5, 5), np.uint8))
    return gray, scale, mask


def extract(
    image: np.ndarray,
    *,
    max_side: int = 480,
    nfeatures: int = 600,
    alpha: np.ndarray | None = None,
    upscale_small: bool = False,
    method: str = "orb",
) -> LocalFeatures:
    """Keypoints (ORB by default, or SIFT) of an RGB image at ``max_side`` pixels on the long side.

    ``alpha`` (H, W) masks transparent parts (logos); ``upscale_small`` enlarges images
    smaller than ``max_side`` so small marks still get keypoints.
    """
    gray, scale, mask = feature_image(image, max_side, alpha, upscale_small)
    kps, des = _detector(method, nfeatures).detectAndCompute(gray, mask)
    if des is None or not kps:
        empty = np.zeros((0, 32), np.uint8) if method == "orb" else np.zeros((0, 128), np.float32)
        return LocalFeatures(np.zeros((0, 2), np.float32), empty, gray, scale, mask)
    pts = cv2.KeyPoint_convert(kps).reshape(-1, 2).astype(np.float32, copy=False)  # C++, not a Python loop
    return LocalFeatures(pts, des if method == "orb" else des.astype(np.float32), gray, scale, mask)


def _two_nearest(ref: np.ndarray, listing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances and indices (N, 2) of each reference descriptor's two nearest listing descriptors.

    Exact brute force through FAISS (Hamming for binary ORB, L2 for SIFT): same answers as
    OpenCV's BFMatcher, without building a Python object per match (about 2.5x faster).
    """
    if ref.dtype == np.uint8:
        index = faiss.IndexBinaryFlat(ref.shape[1] * 8)
        index.add(np.ascontiguousarray(listing))
        dist, idx = index.search(np.ascontiguousarray(ref), 2)
        return dist.astype(np.float32), idx
    index = faiss.IndexFlatL2(ref.shape[1])
    index.add(np.ascontiguousarray(listing, dtype=np.float32))
    dist, idx = index.search(np.ascontiguousarray(ref, dtype=np.float32), 2)
    return np.sqrt(np.maximum(dist, 0.0)), idx


def match_one_to_one(ref: LocalFeatures, listing: LocalFeatures, ratio: float = 0.8) -> np.ndarray:
    """Pairs (i_ref, j_listing) passing the ratio test, each listing point used at most once."""
    if len(ref) < 2 or len(listing) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    if ref.descriptors.dtype != listing.descriptors.dtype:
        raise ValueError("reference and listing features come from different methods")
    dist, idx = _two_nearest(ref.descriptors, listing.descriptors)
    ok = np.nonzero(dist[:, 0] < ratio * dist[:, 1])[0]
    if not len(ok):
        return np.zeros((0, 2), dtype=np.int64)
    order = ok[np.lexsort((ok, dist[ok, 0]))]  # closest first; ties by reference index
    _, first = np.unique(idx[order, 0], return_index=True)  # each listing point: its closest
    keep = order[first]
    return np.stack([keep, idx[keep, 0]], axis=1).astype(np.int64)


CELL_AGREE = 0.5  # a cell agrees when its pixels correlate above this after alignment
CELL_FLAT = 4.0  # grey-level spread under which a cell is flat and says nothing
CELL_SHIFT = 1  # px; an agreeing cell must correlate best unshifted (0 = no shift test)
CELL_SHIFT_SLACK = 0.02  # ... within this much of its best one-step shift
_BLUR_REACH = 8  # px around the overlap that its blur (sigma 1.5: 5 px) and the shift test read


def _cell_agreement(a: np.ndarray, b: np.ndarray, inside: np.ndarray, cell: int) -> tuple[int, int]:
    """(cells whose pixels agree, textured cells compared).

    The grid starts at the overlap's top-left; a cell counts when at least 90% of it is
    inside the overlap and neither side is flat there. It agrees when its pixels correlate
    above CELL_AGREE *and* no shift of ``b`` by CELL_SHIFT pixels correlates clearly better:
    a copy is aligned everywhere, while another photo of the subject (another viewpoint,
    a stereo pair) aligns only up to a parallax that varies across the picture.
    """
    mask = inside.view(np.uint8)
    x0, y0, bw, bh = cv2.boundingRect(mask)  # of the non-zero pixels
    ny, nx = bh // cell, bw // cell
    if ny <= 0 or nx <= 0:
        return 0, 0
    y1, x1 = y0 + ny * cell, x0 + nx * cell
    pad = CELL_SHIFT

    def means(img: np.ndarray) -> np.ndarray:
        # per-cell means of an (ny * cell, nx * cell) float32 array (area resize at an exact factor)
        return cv2.resize(img, (nx, ny), interpolation=cv2.INTER_AREA)

    # centred on the overlap's mean first, so that E[x^2] - E[x]^2 keeps its precision in float32
    pa = a[y0:y1, x0:x1] - np.float32(cv2.mean(a, mask)[0])
    bp = cv2.copyMakeBorder(b, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else b
    bp = bp - np.float32(cv2.mean(b, mask)[0])
    ma = means(pa)
    va = np.maximum(means(pa * pa) - ma * ma, 0.0)

    def corr_with(dy: int = 0, dx: int = 0) -> tuple[np.ndarray, np.ndarray]:
        # per-cell correlation of ``a`` with ``b`` shifted by (dy, dx), and b's spread
        part = bp[y0 + pad + dy : y1 + pad + dy, x0 + pad + dx : x1 + pad + dx]
        mb = means(part)
        vb = np.maximum(means(part * part) - mb * mb, 0.0)
        cov = means(pa * part) - ma * mb
        return cov / np.maximum(np.sqrt(va * vb), 1e-6), np.sqrt(vb)

    m = means(inside[y0:y1, x0:x1].astype(np.float32))
    corr, spread_b = corr_with()
    used = (m >= 0.9) & (np.sqrt(va) >= CELL_FLAT) & (spread_b >= CELL_FLAT)
    agree = used & (corr > CELL_AGREE)
    for dy, dx in ((0, pad), (0, -pad), (pad, 0), (-pad, 0)) if pad else ():
        shifted, _ = corr_with(dy, dx)
        agree &= corr >= shifted - CELL_SHIFT_SLACK
    return int(agree.sum()), int(used.sum())


def _photometric(
    ref: LocalFeatures, listing: LocalFeatures, h_feat: np.ndarray
) -> tuple[float, float, float]:
    """(NCC of the aligned overlap, share of textured cells that agree, share of the reference visible).

    Cells of the overlap are compared one by one, so overlays, fills and pasted edges only
    spoil the cells they cover, while another photo of the same subject (parallax, other
    light) disagrees nearly everywhere.
    """
    lw, lh = listing.size
    rw, rh = ref.size
    warped = cv2.warpPerspective(ref.gray, h_feat, (lw, lh), flags=cv2.INTER_LINEAR)
    src_mask = ref.mask if ref.mask is not None else np.full((rh, rw), 255, np.uint8)
    mask = cv2.warpPerspective(src_mask, h_feat, (lw, lh), flags=cv2.INTER_NEAREST)
    mask = cv2.erode(mask, np.ones((5, 5), np.uint8))
    n = cv2.countNonZero(mask)
    ref_area = float(cv2.countNonZero(src_mask)) * abs(float(np.linalg.det(h_feat[:2, :2])))
    coverage = min(1.0, n / ref_area) if ref_area > 0 else 0.0
    if n < 200:
        return 0.0, 0.0, coverage
    # Only the overlap (plus the blur's reach) is compared: a pasted or small copy costs its own
    # size. Inside the overlap the blurred pixels, and so every sum below, are as over the whole image.
    x, y, w, h = cv2.boundingRect(mask)
    x0, y0 = max(0, x - _BLUR_REACH), max(0, y - _BLUR_REACH)
    x1, y1 = min(lw, x + w + _BLUR_REACH), min(lh, y + h + _BLUR_REACH)
    mask = mask[y0:y1, x0:x1]
    a_img = cv2.GaussianBlur(warped[y0:y1, x0:x1], (0, 0), 1.5).astype(np.float32)
    b_img = cv2.GaussianBlur(listing.gray[y0:y1, x0:x1], (0, 0), 1.5).astype(np.float32)
    # correlation over the overlap, from masked means (OpenCV accumulates them in double)
    (mean_a,), (std_a,) = cv2.meanStdDev(a_img, mask=mask)
    (mean_b,), (std_b,) = cv2.meanStdDev(b_img, mask=mask)
    cov = cv2.mean(a_img * b_img, mask)[0] - float(mean_a[0]) * float(mean_b[0])
    denom = float(std_a[0]) * float(std_b[0])
    ncc = cov / denom if denom > 1e-6 else 0.0
    inside = mask > 0
    cell = max(12, min(lw, lh) // 16)
    good, total = _cell_agreement(a_img, b_img, inside, cell)
    agreement = good / total if total >= 4 else 0.0
    return ncc, agreement, coverage


def verify(
    ref: LocalFeatures,
    listing: LocalFeatures,
    *,
    ratio: float = 0.8,
    model: str = "similarity",
    reproj_px: float = 6.0,
    min_inliers: int = 6,
    max_pairs: int = 60,
) -> Verification:
    """Fit ``model`` ("similarity" or "homography") between matched keypoints and check pixels agree."""
    pairs = match_one_to_one(ref, listing, ratio)
    out = Verification(matches=len(pairs))
    if len(pairs) < max(min_inliers, 4):
        return out
    src = ref.points[pairs[:, 0]].reshape(-1, 1, 2)
    dst = listing.points[pairs[:, 1]].reshape(-1, 1, 2)
    if model == "homography":
        h, inl = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, reproj_px, maxIters=2000, confidence=0.995)
    else:
        a, inl = cv2.estimateAffinePartial2D(
            src, dst, method=cv2.RANSAC, ransacReprojThreshold=reproj_px, maxIters=2000, confidence=0.995
        )
        h = None if a is None else np.vstack([a, [0.0, 0.0, 1.0]])
    if h is None or inl is None:
        return out
    inl = inl.ravel().astype(bool)
    n_in = int(inl.sum())
    out.inliers = n_in
    det = float(np.linalg.det(h[:2, :2]))
    if n_in < min_inliers or not (1e-3 < det < 1e3) or not np.all(np.isfinite(h)):
        return out
    complete_verification(out, ref, listing, h, pairs[inl][:max_pairs])
    return out


def complete_verification(
    out: Verification, ref: LocalFeatures, listing: LocalFeatures, h: np.ndarray, pairs: np.ndarray
) -> None:
    """Fill in the photometric check, transform, outline and evidence pairs of an alignment.

    ``h`` (3x3) maps reference feature pixels to listing feature pixels; ``pairs`` are the
    (i_ref, j_listing) keypoint pairs to keep as evidence.
    """
    out.ncc, out.agreement, out.coverage = _photometric(ref, listing, h)
    # Map reference-original -> listing-original pixels.
    s_ref = np.diag([ref.scale, ref.scale, 1.0])
    s_lis_inv = np.diag([1.0 / listing.scale, 1.0 / listing.scale, 1.0])
    out.transform = s_lis_inv @ h @ s_ref
    rw, rh = ref.size
    corners = np.array([[0, 0], [rw, 0], [rw, rh], [0, rh]], dtype=np.float32).reshape(-1, 1, 2)
    proj = cv2.perspectiveTransform(corners, h).reshape(-1, 2) / listing.scale
    out.outline = [[float(x), float(y)] for x, y in proj]
    out.pairs = [
        (
            (float(ref.points[i, 0] / ref.scale), float(ref.points[i, 1] / ref.scale)),
            (float(listing.points[j, 0] / listing.scale), float(listing.points[j, 1] / listing.scale)),
        )
        for i, j in pairs
    ]
