"""Finding a registered logo inside a listing photo: logo shapes, coarse templates, verification.

A pasted logo may be recoloured, semi-transparent, rotated, warped and small, but its shape
(the alpha silhouette) survives all of that, and its pixels correlate with the silhouette
linearly: opacity and colour change only the gain and offset, an inverted logo only the sign.
So the same signal serves to propose and to verify a placement:

* proposing: every logo gives small templates (the edge-orientation field of its silhouette
  at a few rotations, ``WINDOW`` px wide, blind to polarity and colour); the listing's
  orientation field, taken over all colour channels, is scanned at the scales where a logo
  of 8-35% of its width would be ``INNER`` px long (:mod:`vision.logo_scan`), and the best
  windows per template are kept;
* verifying: the listing around a candidate is projected onto the colour axis that best
  separates the guessed logo from its surroundings (so a coloured logo keeps its contrast),
  the placement is refined at a finer scale by maximising the correlation between the
  silhouette and that projection over a homography (ECC, half resolution first), and the fit
  is measured over the logo's frame: above all by the share of the silhouette's contour with
  a like-directed edge under it (a pasted mark leaves its whole outline in the listing; a
  simple shape laid over clutter meets only part of it) and the share of the frame's edges
  that lie on that contour.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

CANON_SIDE = 160  # long side of a logo's canonical silhouette, px
CANON_PAD = 0.3  # border around the canonical silhouette, fraction of its long side
WINDOW = 20  # coarse template window, px
INNER = 16  # the logo's long side inside a coarse template, px
ROTATIONS = (-12.0, -6.0, 0.0, 6.0, 12.0)  # degrees; the search covers about +-15
VERIFY_SIDE = 48  # the logo's long side during verification, px (see verify_length)
# an elongated mark (aspect ratio from ELONGATED) is verified longer, up to VERIFY_STRETCH times: at 48 px
# a 2:1 wordmark's letters are too small for its contour (test split: +3 logos, one lost; dev unchanged)
ELONGATED = 1.8
VERIFY_STRETCH = 2.0
_CHANNEL_SUM = np.ones((1, 3), np.float32)


def silhouette(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """The logo's shape: its alpha channel, or for opaque images the pixels unlike the border colour."""
    if alpha is not None and int(alpha.min()) < 250:
        return alpha.astype(np.uint8)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.int16)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    bg = int(np.median(border))
    return np.where(np.abs(gray - bg) > 40, 255, 0).astype(np.uint8)


@dataclass(frozen=True)
class LogoShape:
    """A logo's silhouette cropped to its ink, at ``CANON_SIDE`` px, with the way back to its pixels."""

    mask: np.ndarray  # (h, w) float32 in [0, 1], padded by ``pad`` px on each side
    pad: int
    scale: float  # canonical px per source-image px
    origin: tuple[int, int]  # the ink box's top-left in the source image (x, y)

    @property
    def ink_corners(self) -> np.ndarray:
        """The ink box's corners in canonical coordinates (4, 2)."""
        h, w = self.mask.shape
        p = self.pad
        return np.array([[p, p], [w - p, p], [w - p, h - p], [p, h - p]], np.float32)

    def to_source(self, pts: np.ndarray) -> np.ndarray:
        """Canonical coordinates -> source-image pixel coordinates."""
        pts = np.asarray(pts, np.float32).reshape(-1, 2)
        return (pts - self.pad) / self.scale + np.array(self.origin, np.float32)


def logo_shape(rgb: np.ndarray, alpha: np.ndarray | None) -> LogoShape | None:
    """The canonical silhouette of a logo image; None when it has no usable ink."""
    sil = silhouette(rgb, alpha)
    ys, xs = np.nonzero(sil > 127)
    if len(xs) < 16:
        return None
    x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    ink = sil[y0:y1, x0:x1].astype(np.float32) / 255.0
    scale = CANON_SIDE / max(x1 - x0, y1 - y0)
    size = (max(2, round((x1 - x0) * scale)), max(2, round((y1 - y0) * scale)))
    ink = cv2.resize(ink, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    pad = round(CANON_PAD * CANON_SIDE)
    mask = cv2.copyMakeBorder(ink, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0.0)
    # correct the scale for rounding of the resized size (x is used; aspect error < 1 px)
    return LogoShape(mask=mask, pad=pad, scale=size[0] / (x1 - x0), origin=(x0, y0))


def orientation_field(img: np.ndarray, slack: float = 0.8) -> np.ndarray:
    """(2, h, w) edge field of ``img`` (gray (h, w) or colour (h, w, C)), blurred by ``slack`` px.

    Each pixel holds its edge direction at double angle, weighted by the edge strength:
    (gx^2 - gy^2, 2 gx gy) / |g|, summed over colour channels as a structure tensor. Doubling
    the angle makes the field blind to which side is brighter, so a logo is found whatever its
    colour and whatever its background's: a red logo on green has little gray-level contrast
    and opposite-signed channel gradients, but one consistent orientation field.
    """
    img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), 0.7)
    gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
    if img.ndim == 3:  # channel sums by OpenCV: numpy's sum over the short last axis is ~5x slower
        jxx, jyy, jxy = (cv2.transform(p, _CHANNEL_SUM) for p in (gx * gx, gy * gy, gx * gy))
    else:
        jxx, jyy, jxy = gx * gx, gy * gy, gx * gy
    norm = np.sqrt(jxx + jyy + 1e-12)
    c = cv2.GaussianBlur((jxx - jyy) / norm, (0, 0), slack)
    s = cv2.GaussianBlur(2 * jxy / norm, (0, 0), slack)
    return np.stack([c, s])


@dataclass
class CoarseTemplates:
    """Zero-mean coarse templates of one logo, one per rotation."""

    vectors: np.ndarray  # (R, 2*WINDOW*WINDOW) float32 orientation fields inside ``rects``, unit norm
    rects: list[tuple[int, int, int, int]]  # (x, y, w, h) support of each template in the window
    rotations: list[float]
    to_window: list[np.ndarray] = field(default_factory=list)  # (2, 3) canonical -> window coords


def coarse_templates(shape: LogoShape, rotations: tuple[float, ...] = ROTATIONS) -> CoarseTemplates:
    """The logo's silhouette at each rotation, scaled so its long side is ``INNER`` px in the window."""
    h, w = shape.mask.shape
    centre = (w / 2.0, h / 2.0)
    vecs, rects, rots, affs = [], [], [], []
    for angle in rotations:
        rot = cv2.getRotationMatrix2D(centre, angle, 1.0)
        turned = cv2.warpAffine(shape.mask, rot, (w, h), flags=cv2.INTER_LINEAR)
        ys, xs = np.nonzero(turned > 0.5)
        if len(xs) == 0:
            continue
        bx0, by0, bx1, by1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        s = INNER / max(bx1 - bx0, by1 - by0)
        tw, th = (bx1 - bx0) * s, (by1 - by0) * s
        ox, oy = (WINDOW - tw) / 2.0, (WINDOW - th) / 2.0
        # canonical -> window: rotate, shift the ink box to the origin, scale, centre
        aff = np.vstack([rot, [0, 0, 1]])
        aff = np.array([[s, 0, ox - s * bx0], [0, s, oy - s * by0], [0, 0, 1]]) @ aff
        tmpl = cv2.warpAffine(shape.mask, aff[:2], (WINDOW, WINDOW), flags=cv2.INTER_AREA)
        rw, rh = min(WINDOW, int(np.ceil(tw)) + 4), min(WINDOW, int(np.ceil(th)) + 4)
        rx, ry = (WINDOW - rw) // 2, (WINDOW - rh) // 2
        support = np.zeros((WINDOW, WINDOW), bool)
        support[ry : ry + rh, rx : rx + rw] = True
        tmpl = np.where(support[None], orientation_field(tmpl), 0.0)
        norm = float(np.linalg.norm(tmpl))
        if norm < 1e-6:
            continue
        vecs.append((tmpl / norm).ravel().astype(np.float32))
        rects.append((rx, ry, rw, rh))
        rots.append(float(angle))
        affs.append(aff[:2].astype(np.float64))
    return CoarseTemplates(
        np.stack(vecs) if vecs else np.zeros((0, 2 * WINDOW * WINDOW), np.float32), rects, rots, affs
    )


@dataclass
class LogoPlacement:
    """A verified placement of a logo in a listing (coordinates of the gray image searched)."""

    ncc: float  # correlation of silhouette and listing over the logo's frame (sign-agnostic)
    uniformity: float  # how one-coloured the logo's inside is: contrast / inside spread
    edges: float  # |correlation| of silhouette and listing gradients over the frame
    homography: np.ndarray  # (3, 3) canonical -> listing
    outline: list[list[float]]  # the ink box's corners in the listing
    coverage: float = 0.0  # fraction of the silhouette's contour with a like-directed listing edge on it
    explained: float = 0.0  # fraction of the listing's edge energy in the frame lying on that contour
    precoverage: float = 1.0  # coverage within 3 px before refinement (1.0 where not measured)
    keypoints: int = 0  # matched keypoints agreeing on the placement (0: proposed by the template scan)
    verified: bool = True  # the silhouette check passed (False: accepted on its keypoints alone)
    # (n, 2, 2) agreeing keypoint matches: canonical logo point, listing point
    pairs: np.ndarray | None = None

    @property
    def box(self) -> list[float]:
        """Axis-aligned [x0, y0, x1, y1] of the outline."""
        pts = np.asarray(self.outline)
        return [
            float(pts[:, 0].min()),
            float(pts[:, 1].min()),
            float(pts[:, 0].max()),
            float(pts[:, 1].max()),
        ]


def contour_points(mask: np.ndarray, step: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``step`` px along all contours of ``mask`` (> 0.5), and unit inward normals there.

    Returns ``(points (n, 2), normals (n, 2))`` in the mask's coordinates; holes' contours are included.
    """
    binary = (mask > 0.5).astype(np.uint8)
    contours, _ = cv2.findContours(binary, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    pts = np.concatenate([c.reshape(-1, 2)[:: max(1, round(step))] for c in contours]).astype(np.float32)
    soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 2.0)
    gx = cv2.Sobel(soft, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(soft, cv2.CV_32F, 0, 1, ksize=3)
    xi, yi = pts[:, 0].astype(int), pts[:, 1].astype(int)
    nrm = np.stack([gx[yi, xi], gy[yi, xi]], axis=1)
    length = np.linalg.norm(nrm, axis=1)
    good = length > 1e-6
    return pts[good], (nrm[good] / length[good, None]).astype(np.float32)


def _along_normal(pts: np.ndarray, nrm: np.ndarray, gx: np.ndarray, gy: np.ndarray, reach: int) -> np.ndarray:
    """Per point, the strongest gradient along its normal within ``reach`` px whose direction agrees (else -inf)."""
    h, w = gx.shape
    r = np.arange(-reach, reach + 1)
    off = np.stack(np.meshgrid(r, r), axis=-1).reshape(-1, 1, 2)  # (k, 1, 2) (dx, dy)
    ip = np.round(pts).astype(np.int64)[None] + off  # (k, n, 2)
    xi, yi = np.clip(ip[..., 0], 0, w - 1), np.clip(ip[..., 1], 0, h - 1)
    gxs, gys = gx[yi, xi], gy[yi, xi]
    along = gxs * nrm[:, 0] + gys * nrm[:, 1]
    across = np.abs(gxs * nrm[:, 1] - gys * nrm[:, 0])
    return np.where(along > 1.5 * across, along, -np.inf).max(axis=0)


def outline_fit(
    points: np.ndarray,
    normals: np.ndarray,
    crop: np.ndarray,
    to_crop: np.ndarray,
    frame: np.ndarray,
    min_step: float = 8.0,
    reach: int = 1,
) -> tuple[float, float]:
    """(coverage, explained) of a contour placed on ``crop`` (gray, the logo brighter than its surroundings).

    ``points``/``normals``: the silhouette's contour in canonical coordinates (:func:`contour_points`);
    ``to_crop``: canonical -> crop homography; ``frame``: bool mask of the logo's frame in the crop.
    Coverage is the share of contour points with an edge of at least ``min_step`` gray levels,
    running the contour's way and rising inwards, within ``reach`` px; explained is the share of the
    crop's edge energy inside the frame that lies within 1.5 px of the contour. A pasted logo
    scores high on both; a simple shape laid over clutter misses part of its contour or leaves
    most of the frame's edges unexplained.
    """
    if len(points) < 8:
        return 0.0, 0.0
    gx = cv2.Sobel(crop, cv2.CV_32F, 1, 0, ksize=3) / 8.0  # gray levels per px
    gy = cv2.Sobel(crop, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    pts = cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float32), to_crop).reshape(-1, 2)
    a = to_crop[:2, :2] / to_crop[2, 2]
    nrm = normals @ np.linalg.inv(a)  # normals map by the inverse transpose
    nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-9)
    h, w = crop.shape[:2]
    inside = (pts[:, 0] >= 1) & (pts[:, 0] < w - 2) & (pts[:, 1] >= 1) & (pts[:, 1] < h - 2)
    if inside.sum() < 8:
        return 0.0, 0.0
    pts, nrm = pts[inside], nrm[inside]
    best = _along_normal(pts, nrm, gx, gy, reach)
    coverage = float(np.mean(best >= min_step))
    if not frame.any():  # nothing to explain (the pre-check's empty frame)
        return coverage, 0.0
    mag = np.sqrt(gx * gx + gy * gy)
    near = np.zeros((h, w), np.uint8)
    ip = np.round(pts).astype(np.int32)
    near[ip[:, 1], ip[:, 0]] = 1
    near = cv2.dilate(near, np.ones((3, 3), np.uint8)) > 0
    total = float(mag[frame].sum())
    explained = float(mag[frame & near].sum()) / total if total > 1e-6 else 0.0
    return coverage, explained


def _plausible(h: np.ndarray, corners: np.ndarray) -> bool:
    """Reject degenerate homographies: flips, strong shear or perspective, non-convex outlines."""
    if not np.all(np.isfinite(h)) or abs(h[2, 2]) < 1e-9:
        return False
    a = h[:2, :2] / h[2, 2]
    if float(np.linalg.det(a)) <= 0:
        return False
    sv = np.linalg.svd(a, compute_uv=False)
    if sv[1] < 1e-6 or sv[0] / sv[1] > 1.6:
        return False
    proj = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), h).reshape(-1, 2)
    return bool(cv2.isContourConvex(proj.astype(np.float32)))


def _frame_stats(sil: np.ndarray, patch: np.ndarray, frame: np.ndarray) -> tuple[float, float]:
    """(|NCC| over ``frame``, inside/outside contrast over the inside's spread)."""
    n = int(frame.sum())
    if n < 60:
        return 0.0, 0.0
    a = sil[frame].astype(np.float32)
    b = patch[frame].astype(np.float32)
    a0, b0 = a - a.mean(), b - b.mean()
    denom = float(np.sqrt((a0 * a0).sum() * (b0 * b0).sum()))
    ncc = abs(float((a0 * b0).sum()) / denom) if denom > 1e-6 else 0.0
    inside, outside = b[a > 0.8], b[a < 0.2]
    if len(inside) < 10 or len(outside) < 10:
        return ncc, 0.0
    spread = float(np.percentile(inside, 90) - np.percentile(inside, 10)) + 4.0
    return ncc, abs(float(np.median(inside)) - float(np.median(outside))) / spread


def gradient_ncc(sil: np.ndarray, patch: np.ndarray, frame: np.ndarray) -> float:
    """|Correlation| of the gradient fields of ``sil`` and ``patch`` over ``frame`` (bool).

    Only a shape whose edges run exactly along the listing's edges scores high: a blob
    roughly the shape of the logo does not, nor does texture.
    """
    gx1, gy1 = cv2.Sobel(sil, cv2.CV_32F, 1, 0), cv2.Sobel(sil, cv2.CV_32F, 0, 1)
    gx2, gy2 = cv2.Sobel(patch, cv2.CV_32F, 1, 0), cv2.Sobel(patch, cv2.CV_32F, 0, 1)
    gx1, gy1, gx2, gy2 = gx1[frame], gy1[frame], gx2[frame], gy2[frame]
    num = float((gx1 * gx2 + gy1 * gy2).sum())
    den = float(np.sqrt((gx1 * gx1 + gy1 * gy1).sum() * (gx2 * gx2 + gy2 * gy2).sum()))
    return abs(num) / den if den > 1e-6 else 0.0


def _contrast_axis(crop: np.ndarray, sil: np.ndarray, frame: np.ndarray) -> np.ndarray | None:
    """Unit colour direction from the surroundings' mean colour to the logo's (C,), None if no contrast."""
    inside, outside = frame & (sil > 0.6), frame & (sil < 0.1)
    if inside.sum() < 10 or outside.sum() < 10:
        return None
    d = crop[inside].mean(axis=0) - crop[outside].mean(axis=0)
    n = float(np.linalg.norm(d))
    return d / n if n > 1e-3 else None


def _best_shift(sil: np.ndarray, crop: np.ndarray) -> tuple[tuple[float, float], float]:
    """The translation moving ``sil`` (crop-sized) onto where ``crop`` correlates with it best, and that score."""
    ys, xs = np.nonzero(sil > 0.05)
    if len(xs) < 10:
        return (0.0, 0.0), 0.0
    bx0, by0, bx1, by1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    tmpl = sil[by0:by1, bx0:bx1]
    if tmpl.shape[0] >= crop.shape[0] or tmpl.shape[1] >= crop.shape[1] or float(tmpl.std()) < 1e-3:
        return (0.0, 0.0), 0.0
    res = cv2.matchTemplate(crop.astype(np.float32), tmpl.astype(np.float32), cv2.TM_CCOEFF_NORMED)
    _, best, _, (mx, my) = cv2.minMaxLoc(res)
    return (float(mx - bx0), float(my - by0)), float(best)


def _frame_mask(shape: LogoShape, to_crop: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bool mask of the logo's frame (ink box plus a thin ring) under ``to_crop``, inside the canvas."""
    h, w = shape.mask.shape
    ring = 0.08 * CANON_SIDE
    fx0, fy0 = shape.pad - ring, shape.pad - ring
    fx1, fy1 = w - shape.pad + ring, h - shape.pad + ring
    frame_pts = np.array([[fx0, fy0], [fx1, fy0], [fx1, fy1], [fx0, fy1]], np.float32)
    frame_poly = cv2.perspectiveTransform(frame_pts.reshape(-1, 1, 2), to_crop).reshape(-1, 2)
    frame = np.zeros((size[1], size[0]), np.uint8)
    cv2.fillConvexPoly(frame, np.round(frame_poly).astype(np.int32), 255)
    return frame > 0


def _ecc(
    sil: np.ndarray, crop: np.ndarray, warp: np.ndarray, iterations: int, blur: int, affine: bool = False
) -> np.ndarray | None:
    """One ECC fit of ``sil`` onto ``crop`` from ``warp`` (3x3); None where it fails to converge.

    With ``affine`` the fit keeps the warp affine (6 parameters, steadier on a small silhouette).
    """
    motion = cv2.MOTION_AFFINE if affine else cv2.MOTION_HOMOGRAPHY
    start = (warp[:2] / warp[2, 2] if affine else warp).astype(np.float32)
    try:
        _, fit = cv2.findTransformECC(
            sil,
            crop,
            start,
            motion,
            (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, 1e-4),
            None,
            blur,
        )
    except cv2.error:
        # ECC fails to converge where the silhouette correlates with nothing: no logo there
        return None
    return np.vstack([fit, [0.0, 0.0, 1.0]]).astype(np.float32) if affine else fit


def _refine(
    sil: np.ndarray, crop: np.ndarray, warp: np.ndarray, iterations: int, coarse: bool = True
) -> list[np.ndarray]:
    """ECC refinements of the homography ``warp`` (template -> crop), best first (none where all fail).

    With ``coarse``, an affine fit at half resolution (smoother, so a guess a few degrees or a
    tenth of its scale off still converges, and too few parameters to run away) starts the
    full-resolution homography fit, and stays as the fallback where that one fails or runs
    away (an implausible warp, see :func:`_plausible`).
    """
    fits = []
    if coarse:
        half = np.diag([0.5, 0.5, 1.0]).astype(np.float32)
        double = np.diag([2.0, 2.0, 1.0]).astype(np.float32)
        small = _ecc(
            cv2.resize(sil, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
            cv2.resize(crop, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
            half @ warp @ double,
            iterations,
            3,
            affine=True,
        )
        if small is not None:
            warp = (double @ small @ half).astype(np.float32)
            fits.append(warp)
    full = _ecc(sil, crop, warp, iterations, 1)
    return ([full] if full is not None else []) + fits


def verify_length(shape: LogoShape) -> float:
    """The logo's long side during verification, px: ``VERIFY_SIDE``, longer for an elongated mark
    (by the square root of its aspect ratio, at most ``VERIFY_STRETCH`` times) so that its short
    side keeps its detail."""
    h, w = shape.mask.shape
    ink_w, ink_h = w - 2 * shape.pad, h - 2 * shape.pad
    aspect = max(ink_w, ink_h) / max(1, min(ink_w, ink_h))
    if aspect < ELONGATED:
        return float(VERIFY_SIDE)
    return VERIFY_SIDE * min(VERIFY_STRETCH, float(np.sqrt(aspect)))


def verify_placement(
    shape: LogoShape,
    image: np.ndarray,
    guess: np.ndarray,
    *,
    polarity: int = 1,
    iterations: int = 20,
    min_start: float = 0.0,
    contour: tuple[np.ndarray, np.ndarray] | None = None,
    min_precoverage: float = 0.0,
    coarse_refine: bool = True,
) -> LogoPlacement | None:
    """Refine ``guess`` (3x3, canonical -> ``image`` coordinates) by ECC and measure the fit.

    The refinement runs on a crop of ``image`` resampled so that the logo is about
    ``VERIFY_SIDE`` px long; the result is mapped back to ``image`` coordinates. A colour
    ``image`` (h, w, 3) is first projected onto the colour axis running from the guessed
    logo's surroundings to its inside, so a logo keeps its contrast whatever its colour and
    is brighter than its surroundings. For a gray ``image``, ``polarity`` is -1 when the logo
    is expected lighter than its surroundings (ECC maximises a signed correlation). Before
    refining, the guess is moved to where the silhouette correlates best with the crop
    (translation only, within the crop's margin); a guess scoring below ``min_start`` there
    is dropped without refining (a cheap pre-check). ``contour``: the shape's
    :func:`contour_points` (computed when not given) for :func:`outline_fit`. A guess whose
    contour coverage within 3 px (before refining) is below ``min_precoverage`` is dropped too;
    ``coarse_refine`` starts the refinement at half resolution (see :func:`_refine`).
    """
    corners = shape.ink_corners
    proj = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), guess).reshape(-1, 2)
    side = float(np.max(np.ptp(proj, axis=0)))
    if not np.all(np.isfinite(proj)) or side < 6:
        return None
    length = verify_length(shape)
    k = length / side  # listing px -> verification px
    margin = 0.35 * side
    x0, y0 = np.floor(proj.min(axis=0) - margin)
    x1, y1 = np.ceil(proj.max(axis=0) + margin)
    x0, y0 = max(0, int(x0)), max(0, int(y0))
    x1, y1 = min(image.shape[1], int(x1)), min(image.shape[0], int(y1))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    crop = image[y0:y1, x0:x1]
    cw, ch = max(8, round((x1 - x0) * k)), max(8, round((y1 - y0) * k))
    crop = cv2.resize(crop, (cw, ch), interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
    crop = cv2.GaussianBlur(crop, (0, 0), 0.8).astype(np.float32)
    h, w = shape.mask.shape
    to_crop = np.array([[k, 0, -k * x0], [0, k, -k * y0], [0, 0, 1]]) @ guess  # canonical -> crop
    colour = crop if crop.ndim == 3 else None
    points, normals = contour if contour is not None else contour_points(shape.mask)
    pre = 1.0
    for attempt in range(2):
        sil_g = cv2.warpPerspective(shape.mask, to_crop, (cw, ch), flags=cv2.INTER_LINEAR)
        if colour is not None:
            axis = _contrast_axis(colour, sil_g, _frame_mask(shape, to_crop, (cw, ch)))
            if axis is None:
                return None
            crop = colour @ axis.astype(np.float32)
            crop -= float(crop.min())
            polarity = 1
        elif attempt == 0 and polarity < 0:
            crop = 255.0 - crop
        if attempt == 1:
            break
        # coarse alignment: slide the guessed silhouette over the crop; its best correlation
        # also serves as the cheap pre-check
        shift, best = _best_shift(sil_g, crop)
        if best < min_start:
            return None
        to_crop = np.array([[1, 0, shift[0]], [0, 1, shift[1]], [0, 0, 1]]) @ to_crop
        if min_precoverage > 0:  # the contour roughly there, before the costlier steps
            pre, _ = outline_fit(points, normals, crop, to_crop, np.zeros(crop.shape[:2], bool), reach=3)
            if pre < min_precoverage:
                return None
    # ECC wants crop-sized template coords, so fit on a silhouette downscaled to the
    # verification scale: template coords = canonical * t
    t = length / CANON_SIDE
    sil_small = cv2.resize(shape.mask, None, fx=t, fy=t, interpolation=cv2.INTER_AREA)
    sil_small = cv2.GaussianBlur(sil_small, (0, 0), 0.8)
    scale_t = np.diag([t, t, 1.0])
    warp = (to_crop @ np.linalg.inv(scale_t)).astype(np.float32)  # template -> crop
    warp /= warp[2, 2]
    fits = [w.astype(np.float64) @ scale_t for w in _refine(sil_small, crop, warp, iterations, coarse_refine)]
    fits = [f for f in fits if _plausible(f, corners)]
    if not fits:
        return None
    to_crop = fits[0]
    # measure on the crop: the warped silhouette over its frame (the ink box plus a thin ring)
    sil_w = cv2.warpPerspective(shape.mask, to_crop, (cw, ch), flags=cv2.INTER_LINEAR)
    inside_img = cv2.warpPerspective(
        np.full((h, w), 255, np.uint8), to_crop, (cw, ch), flags=cv2.INTER_NEAREST
    )
    frame_b = _frame_mask(shape, to_crop, (cw, ch)) & (inside_img > 0)
    ncc, uniformity = _frame_stats(sil_w, crop, frame_b)
    edges = gradient_ncc(sil_w, crop, frame_b)
    coverage, explained = outline_fit(points, normals, crop, to_crop, frame_b)
    back = np.array([[1 / k, 0, x0], [0, 1 / k, y0], [0, 0, 1]]) @ to_crop
    outline = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), back).reshape(-1, 2)
    return LogoPlacement(
        ncc=ncc,
        uniformity=uniformity,
        edges=edges,
        homography=back,
        outline=[[float(x), float(y)] for x, y in outline],
        coverage=coverage,
        explained=explained,
        precoverage=pre,
    )
