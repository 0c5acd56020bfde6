"""Extra views of a listing for the global descriptor: borders trimmed; mirroring helpers.

Copiers pad shots or put them in screenshot frames; the descriptor of the whole listing
then drifts away from the reference's. Trimming the flat borders brings it back.
"""

from __future__ import annotations

import numpy as np


def mirrored(image: np.ndarray) -> np.ndarray:
    """The horizontally mirrored image (contiguous)."""
    return np.ascontiguousarray(image[:, ::-1])


def _flat_run(profile: np.ndarray, tol: float) -> int:
    """Length of the leading run of rows/cols whose spread is under ``tol``."""
    over = np.nonzero(profile > tol)[0]
    return int(over[0]) if len(over) else len(profile)


def content_box(
    image: np.ndarray, tol: float = 10.0, min_keep: float = 0.35
) -> tuple[int, int, int, int] | None:
    """Box (x0, y0, x1, y1) inside flat borders (padding, letterboxing, plain frames), or None.

    A row or column counts as border when its pixels barely vary. Returns None when the
    borders are thin (under 4% per side together) or the rest would be implausibly small.
    """
    h, w = image.shape[:2]
    step = max(1, max(h, w) // 256)
    small = image[::step, ::step].astype(np.float32)
    gray = small.mean(axis=2)
    row_spread = gray.std(axis=1)
    col_spread = gray.std(axis=0)
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


def listing_views(image: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Named views to embed: always ``full``; ``trimmed`` when borders were found.

    No mirrored view: SSCD scores a mirrored copy nearly as high as the original
    (measured on the dev split: the true reference in the top 3 for 95.8% of copies with a
    mirrored view, 95.8% without), and verification tries both orientations anyway.
    """
    views = [("full", image)]
    box = content_box(image)
    if box is not None:
        x0, y0, x1, y1 = box
        views.append(("trimmed", np.ascontiguousarray(image[y0:y1, x0:x1])))
    return views
