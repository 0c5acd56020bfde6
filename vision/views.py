"""Extra views of a listing for the global descriptor: borders trimmed; mirroring helpers.

Copiers pad shots or put them in screenshot frames; the descriptor of the whole listing
then drifts away from the reference's. Trimming the flat borders brings it back.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vision.resample import shrink_to


def mirrored(image: np.ndarray) -> np.ndarray:
    """The horizontally mirrored image (contiguous)."""
    return np.ascontiguousarray(image[:, ::-1])


def _flat_run(profile: np.ndarray, tol: float) -> int:
    """Length of the leading run of rows/cols whose spread is under ``tol``."""
    over = np.nonzero(profile > tol)[0]
    return int(over[0]) if len(over) else len(profile)


_CHANNEL_MEAN = np.full((1, 3), 1.0 / 3.0, np.float32)


def _spread(gray: np.ndarray, axis: int) -> np.ndarray:
    """Standard deviation of a float32 image along ``axis`` (1: per row, 0: per column)."""
    dim = 1 if axis == 1 else 0
    mean = cv2.reduce(gray, dim, cv2.REDUCE_AVG).ravel()
    mean_sq = cv2.reduce(gray * gray, dim, cv2.REDUCE_AVG).ravel()
    return np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))


def content_box(
    image: np.ndarray, tol: float = 10.0, min_keep: float = 0.35
) -> tuple[int, int, int, int] | None:
    """Box (x0, y0, x1, y1) inside flat borders (padding, letterboxing, plain frames), or None.

    A row or column counts as border when its pixels barely vary. Returns None when the
    borders are thin (under 4% per side together) or the rest would be implausibly small.
    """
    h, w = image.shape[:2]
    step = max(1, max(h, w) // 256)
    # about every step-th pixel, then the channel mean: OpenCV does both several times
    # faster than numpy's strided copy and short-axis mean
    small = cv2.resize(image, (-(-w // step), -(-h // step)), interpolation=cv2.INTER_NEAREST)
    gray = cv2.transform(small.astype(np.float32), _CHANNEL_MEAN)
    row_spread = _spread(gray, axis=1)
    col_spread = _spread(gray, axis=0)
    top = _flat_run(row_spread, tol)
    bottom = _flat_run(row_spread[::-1], tol)
    left = _flat_run(col_spread, tol)
    right = _flat_run(col_spread[::-1], tol)
    sh, sw = gray.shape
    if top + bottom >= sh or left + right >= sw:
        return None
    if (top + bottom) < 0.04 * sh and (left + right) < 0.04 * sw:
        return None
    x0, y0, x1, y1 = left * step, top * step, w - right * step, h - bottom * step
    if (x1 - x0) * (y1 - y0) < min_keep * min_keep * h * w:
        return None
    return x0, y0, x1, y1


def centre_crop(image: np.ndarray, keep: float = 0.7) -> np.ndarray:
    """The central ``keep`` fraction (per side) of the image."""
    h, w = image.shape[:2]
    dh, dw = int(h * (1 - keep) / 2), int(w * (1 - keep) / 2)
    return np.ascontiguousarray(image[dh : h - dh, dw : w - dw])


def photo_region(
    image: np.ndarray, side: int = 160, min_area: float = 0.08, max_area: float = 0.85, min_fill: float = 0.6
) -> tuple[int, int, int, int] | None:
    """Box (x0, y0, x1, y1) of the main picture inside a page (a screenshot of a feed or shop), or None.

    Page furniture is flat, unsaturated and of the page's background colour; the picture is
    the largest connected part that is not: textured, saturated or off the background. A
    box outside ``min_area``..``max_area`` of the image, or that the part fills under
    ``min_fill`` of, is no picture.
    """
    h, w = image.shape[:2]
    k = side / max(h, w)
    sw, sh = max(1, round(w * k)), max(1, round(h * k))
    small = shrink_to(image, (sw, sh))
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    sat = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)[..., 1]
    mean = cv2.blur(gray, (3, 3))
    spread = np.sqrt(np.maximum(cv2.blur(gray * gray, (3, 3)) - mean * mean, 0.0))
    page = float(np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])))
    mask = ((spread > 6.0) | (sat > 60) | (np.abs(mean - page) > 40)).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))  # drops text lines, thin bars
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return None
    i = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, bw, bh, area = (int(v) for v in stats[i])
    sh, sw = gray.shape
    if not (min_area <= bw * bh / (sw * sh) <= max_area) or area < min_fill * bw * bh:
        return None
    return int(x / k), int(y / k), min(w, int((x + bw) / k)), min(h, int((y + bh) / k))


def listing_views(image: np.ndarray, region: bool = True) -> list[tuple[str, np.ndarray]]:
    """Named views to embed: always ``full``, then :func:`extra_views`."""
    return [("full", image), *extra_views(image, region)]


def extra_views(image: np.ndarray, region: bool = True) -> list[tuple[str, np.ndarray]]:
    """Views beside the full listing: ``trimmed`` when borders were found; ``region`` when the
    listing looks like a page around one picture (a screenshot) and ``region`` is on.

    No mirrored view: SSCD scores a mirrored copy nearly as high as the original
    (measured on the dev split: the true reference in the top 3 for 95.8% of copies with a
    mirrored view, 95.8% without), and verification tries both orientations anyway.
    """
    views = []
    box = content_box(image)
    if box is not None:
        x0, y0, x1, y1 = box
        views.append(("trimmed", np.ascontiguousarray(image[y0:y1, x0:x1])))
    found = photo_region(image) if region else None
    if found is not None and (box is None or box_iou(found, box) < 0.8):
        x0, y0, x1, y1 = found
        views.append(("region", np.ascontiguousarray(image[y0:y1, x0:x1])))
    return views


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes; 0 for empty ones."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
