"""Finding a registered logo inside a listing photo: renderings, binary features, verification.

A pasted logo may be recoloured, semi-transparent, rotated, warped and small. Its shape
(the alpha silhouette) survives all of that, so each logo is described by ORB features of
several renderings: its own colours and its silhouette dark-on-light and light-on-dark
(the listing may show it either way). A candidate placement found from matched features
is verified photometrically: after the homography, the listing pixels inside the logo's
outline must correlate with the silhouette (sign-agnostic), which random matches do not.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

RENDER_SIDE = 320  # logos are rendered at this long side before feature extraction
PAD = 24  # border around the rendering so corner keypoints are not lost


@dataclass(frozen=True)
class BinaryFeatures:
    """ORB keypoints (x, y) in the image they came from, and 32-byte descriptors."""

    points: np.ndarray  # (N, 2) float32
    descriptors: np.ndarray  # (N, 32) uint8
    scale: float = 1.0  # feature-image pixels per original pixel

    def __len__(self) -> int:
        return len(self.points)


@dataclass(frozen=True)
class LogoRendering:
    """One way of drawing a logo, with the silhouette used for verification."""

    name: str
    gray: np.ndarray  # (h, w) uint8 rendering, padded
    mask: np.ndarray  # (h, w) uint8 silhouette (255 = logo)
    features: BinaryFeatures


_ORB: dict[tuple[int, int], cv2.ORB] = {}


def _orb(nfeatures: int, edge: int) -> cv2.ORB:
    key = (nfeatures, edge)
    det = _ORB.get(key)
    if det is None:
        det = cv2.ORB_create(
            nfeatures=nfeatures, scaleFactor=1.2, nlevels=8, edgeThreshold=edge, patchSize=edge, fastThreshold=12
        )
        _ORB[key] = det
    return det


def orb_features(gray: np.ndarray, nfeatures: int = 1500, mask: np.ndarray | None = None) -> BinaryFeatures:
    """ORB features of a grayscale image."""
    kps, des = _orb(nfeatures, 19).detectAndCompute(gray, mask)
    if des is None or not kps:
        return BinaryFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8))
    return BinaryFeatures(np.array([k.pt for k in kps], np.float32), des)


def listing_gray(rgb: np.ndarray, max_side: int = 800) -> tuple[np.ndarray, float]:
    """Grayscale listing at ``max_side`` (never upscaled) and its scale from the input."""
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        rgb = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), scale


def silhouette(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """The logo's shape: its alpha channel, or for opaque images the pixels unlike the border colour."""
    if alpha is not None and int(alpha.min()) < 250:
        return np.where(alpha > 127, 255, 0).astype(np.uint8)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.int16)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    bg = int(np.median(border))
    return np.where(np.abs(gray - bg) > 40, 255, 0).astype(np.uint8)


def _pad_resize(img: np.ndarray, scale: float, fill: int) -> np.ndarray:
    h, w = img.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(img, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    return cv2.copyMakeBorder(small, PAD, PAD, PAD, PAD, cv2.BORDER_CONSTANT, value=fill)


def logo_renderings(rgb: np.ndarray, alpha: np.ndarray | None, nfeatures: int = 500) -> list[LogoRendering]:
    """Renderings of a logo (own colours on white/black, silhouette both polarities) with features."""
    h, w = rgb.shape[:2]
    scale = RENDER_SIDE / max(h, w)
    shape = silhouette(rgb, alpha)
    mask = _pad_resize(shape, scale, 0)
    mask = np.where(mask > 127, 255, 0).astype(np.uint8)
    a = (shape.astype(np.float32) / 255.0)[..., None]
    gray_logo = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)[..., None]
    out: list[LogoRendering] = []
    candidates = {
        "dark_on_light": 255 - mask,
        "light_on_dark": mask,
        "own_on_white": _pad_resize((gray_logo * a + 255 * (1 - a))[..., 0].astype(np.uint8), scale, 255),
        "own_on_black": _pad_resize((gray_logo * a)[..., 0].astype(np.uint8), scale, 0),
    }
    for name, gray in candidates.items():
        # Skip renderings identical in contrast to another (e.g. a black logo on white).
        if any(np.abs(gray.astype(np.int16) - r.gray).mean() < 8 for r in out):
            continue
        feats = orb_features(cv2.GaussianBlur(gray, (3, 3), 0), nfeatures)
        if len(feats):
            out.append(LogoRendering(name, gray, mask, feats))
    return out


@dataclass
class LogoPlacement:
    """Where a logo was found in a listing (listing coordinates of the input image)."""

    inliers: int
    ncc: float
    outline: list[list[float]]
    homography: np.ndarray
    pairs: list[tuple[tuple[float, float], tuple[float, float]]]

    @property
    def box(self) -> list[float]:
        """Axis-aligned [x0, y0, x1, y1] of the outline."""
        pts = np.asarray(self.outline)
        return [float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())]


_HAMMING = cv2.BFMatcher(cv2.NORM_HAMMING)


def _plausible(h: np.ndarray, rw: int, rh: int, lw: int, lh: int) -> bool:
    """Reject degenerate homographies: flips, extreme scale, strong shear or perspective."""
    if not np.all(np.isfinite(h)):
        return False
    a = h[:2, :2] / h[2, 2]
    det = float(np.linalg.det(a))
    if det <= 0:
        return False
    sv = np.linalg.svd(a, compute_uv=False)
    if sv[1] < 1e-6 or sv[0] / sv[1] > 2.5:
        return False
    corners = np.array([[0, 0], [rw, 0], [rw, rh], [0, rh]], np.float32).reshape(-1, 1, 2)
    proj = cv2.perspectiveTransform(corners, h).reshape(-1, 2)
    if not cv2.isContourConvex(proj.astype(np.float32)):
        return False
    area = abs(cv2.contourArea(proj.astype(np.float32)))
    return 0.002 * lw * lh <= area <= 0.9 * lw * lh


def mask_ncc(mask_warped: np.ndarray, listing: np.ndarray, region: np.ndarray) -> float:
    """|NCC| between the warped silhouette and the listing, over ``region`` (bool)."""
    n = int(region.sum())
    if n < 80:
        return 0.0
    a = mask_warped[region].astype(np.float32)
    b = cv2.GaussianBlur(listing, (3, 3), 0)[region].astype(np.float32)
    a -= a.mean()
    b -= b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return abs(float((a * b).sum()) / denom) if denom > 1e-6 else 0.0


def locate_logo(
    rendering: LogoRendering,
    listing: np.ndarray,
    listing_feats: BinaryFeatures,
    *,
    ratio: float = 0.85,
    min_inliers: int = 6,
    reproj_px: float = 5.0,
) -> LogoPlacement | None:
    """Fit a homography from a logo rendering into the listing and check the pixels; None if absent."""
    ref = rendering.features
    if len(ref) < 4 or len(listing_feats) < 4:
        return None
    knn = _HAMMING.knnMatch(ref.descriptors, listing_feats.descriptors, k=2)
    best: dict[int, tuple[float, int]] = {}
    for pair in knn:
        if len(pair) < 2:
            continue
        m, n = pair
        if m.distance < ratio * n.distance:
            prev = best.get(m.trainIdx)
            if prev is None or m.distance < prev[0]:
                best[m.trainIdx] = (m.distance, m.queryIdx)
    if len(best) < min_inliers:
        return None
    pairs = np.array([(q, t) for t, (_, q) in best.items()], dtype=np.int64)
    src = ref.points[pairs[:, 0]].reshape(-1, 1, 2)
    dst = listing_feats.points[pairs[:, 1]].reshape(-1, 1, 2)
    h, inl = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, reproj_px, maxIters=3000, confidence=0.995)
    if h is None or inl is None:
        return None
    inl = inl.ravel().astype(bool)
    n_in = int(inl.sum())
    rh, rw = rendering.gray.shape
    lh, lw = listing.shape
    if n_in < min_inliers or not _plausible(h, rw, rh, lw, lh):
        return None
    warped = cv2.warpPerspective(rendering.mask, h, (lw, lh), flags=cv2.INTER_LINEAR)
    frame = cv2.warpPerspective(np.full((rh, rw), 255, np.uint8), h, (lw, lh), flags=cv2.INTER_NEAREST) > 0
    ncc = mask_ncc(warped, listing, frame)
    corners = np.array([[PAD, PAD], [rw - PAD, PAD], [rw - PAD, rh - PAD], [PAD, rh - PAD]], np.float32)
    proj = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), h).reshape(-1, 2)
    keep = pairs[inl][:60]
    return LogoPlacement(
        inliers=n_in,
        ncc=ncc,
        outline=[[float(x), float(y)] for x, y in proj],
        homography=h,
        pairs=[
            (tuple(map(float, ref.points[i])), tuple(map(float, listing_feats.points[j])))  # type: ignore[misc]
            for i, j in keep
        ],
    )
