"""Dense coarse scan of a listing for logo-sized windows.

The listing is resampled so that a logo whose long side is a given fraction of the image
would be ``INNER`` px long, for fractions from ``min_frac`` to ``max_frac`` in steps of
``step``. At each level every ``WINDOW`` x ``WINDOW`` window (stride ``stride``) becomes an
edge-orientation field (:func:`vision.logo_features.orientation_field`, from all colour
channels) normalised by its energy; its inner product with a coarse template (an
orientation field too) approximates their correlation, which :func:`rect_ncc` computes
exactly for the few pairs worth it. Edges, unlike intensities, reward only edges that run
where the logo's edges run, not any blob. The exact correlation falls off within a pixel or
two of the true place, so a hit on the coarse window grid is moved to the best place within
half a stride (:func:`best_nearby`) before it is scored and ranked; window patches are cut out
of the level's field only for the windows looked at (:meth:`ScanLevel.patches`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vision.logo_features import INNER, WINDOW, orientation_field

MIN_GRAD = 0.02  # RMS gradient (gray in [0, 1]) below which a window holds no logo


@dataclass
class ScanLevel:
    """One pyramid level: its image, window grid and per-window statistics."""

    scale: float  # level px per image px
    image: np.ndarray  # (h, w) or (h, w, 3) float32 in [0, 1]
    xs: np.ndarray  # window left edges (level px)
    ys: np.ndarray  # window top edges (level px)
    field: np.ndarray  # (2, h, w) float32 edge field the windows are cut from
    norms: np.ndarray  # (n,) float32: a window's normalised vector is its patch / its norm
    integral_sq: np.ndarray  # integral image of the squared edge-field magnitude
    active: np.ndarray  # (m,) windows with enough edges to hold a logo
    stride: int  # level px between neighbouring windows

    def __len__(self) -> int:
        return len(self.xs) * len(self.ys)

    def patches(self, windows: np.ndarray) -> np.ndarray:
        """(len(windows), 2*WINDOW*WINDOW) float32 edge-field windows of flat window indices ``windows``.

        Cut on demand: only the few windows worth a look are ever copied out of the field.
        """
        return self.patches_at(*self.position(windows))

    def patches_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Edge-field windows with top-left corners ``(x, y)`` (level px, on or off the window grid)."""
        view = np.lib.stride_tricks.sliding_window_view(self.field, (WINDOW, WINDOW), axis=(1, 2))
        return view[:, y, x].transpose(1, 0, 2, 3).reshape(len(x), -1)

    def position(self, i: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
        """Window top-left (x, y) of flat window index ``i``, level px."""
        return self.xs[np.asarray(i) % len(self.xs)], self.ys[np.asarray(i) // len(self.xs)]


def scan_levels(
    image: np.ndarray,
    *,
    min_frac: float = 0.075,
    max_frac: float = 0.4,
    step: float = 2**0.25,
    stride: int = 2,
) -> list[ScanLevel]:
    """Pyramid levels of ``image`` (uint8, gray or RGB) for logos of ``min_frac``-``max_frac`` of its size.

    A logo's long side is at least ``min_frac`` of the image width and at most ``max_frac``
    of its larger side.
    """
    h, w = image.shape[:2]
    size = min_frac * w
    largest = max_frac * max(w, h)
    first = INNER / size
    base = cv2.resize(
        image, (max(WINDOW, round(w * first)), max(WINDOW, round(h * first))), interpolation=cv2.INTER_AREA
    )
    base = base.astype(np.float32) / 255.0
    levels = []
    while size <= largest * 1.001:
        s = INNER / size
        f = s / first
        img = (
            base
            if f >= 0.999
            else cv2.resize(
                base,
                (max(WINDOW, round(base.shape[1] * f)), max(WINDOW, round(base.shape[0] * f))),
                interpolation=cv2.INTER_AREA,
            )
        )
        levels.append(_level(img, s, stride))
        size *= step
    return levels


def _level(img: np.ndarray, scale: float, stride: int) -> ScanLevel:
    grad = orientation_field(img)
    n = WINDOW * WINDOW
    gh = (grad.shape[1] - WINDOW) // stride + 1
    gw = (grad.shape[2] - WINDOW) // stride + 1
    energy = (grad * grad).sum(axis=0)
    # window energy from the integral image: no pass over the (n, 512) patch matrix
    integral_sq = cv2.integral(energy, sdepth=cv2.CV_64F)
    ys = np.arange(gh) * stride
    xs = np.arange(gw) * stride
    y0, x0 = ys[:, None], xs[None, :]
    win_e = (
        integral_sq[y0 + WINDOW, x0 + WINDOW]
        - integral_sq[y0, x0 + WINDOW]
        - integral_sq[y0 + WINDOW, x0]
        + integral_sq[y0, x0]
    ).ravel()
    rms = np.sqrt(np.maximum(win_e, 0.0) / n)
    active = np.nonzero(rms >= 2 * MIN_GRAD)[0]
    return ScanLevel(
        scale=scale,
        image=img,
        xs=xs,
        ys=ys,
        field=grad,
        norms=(np.maximum(rms, MIN_GRAD) * WINDOW).astype(np.float32),
        integral_sq=integral_sq,
        active=active,
        stride=stride,
    )


def rect_ncc(level: ScanLevel, windows: np.ndarray, templates: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """Exact signed gradient correlation of windows ``windows[i]`` with ``templates[i]`` over ``rects[i]``.

    ``templates`` are unit-norm gradient fields, zero outside their rect; ``rects`` rows are (x, y, w, h).
    """
    x, y = level.position(windows)
    return rect_ncc_at(level, x, y, templates, rects)


def rect_ncc_at(
    level: ScanLevel, x: np.ndarray, y: np.ndarray, templates: np.ndarray, rects: np.ndarray
) -> np.ndarray:
    """:func:`rect_ncc` for windows with top-left corners ``(x, y)``, on or off the window grid."""
    return np.einsum("ij,ij->i", level.patches_at(x, y), templates) / _rect_norm(level, x, y, rects)


def _rect_norm(level: ScanLevel, x: np.ndarray, y: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """Edge-field norm over each window's template rect (integral image), floored at MIN_GRAD."""
    x0, y0 = x + rects[:, 0], y + rects[:, 1]
    x1, y1 = x0 + rects[:, 2], y0 + rects[:, 3]
    sq = level.integral_sq
    energy = sq[y1, x1] - sq[y0, x1] - sq[y1, x0] + sq[y0, x0]
    return np.sqrt(np.maximum(energy, rects[:, 2] * rects[:, 3] * MIN_GRAD**2))


def best_nearby(
    level: ScanLevel, x: np.ndarray, y: np.ndarray, templates: np.ndarray, rects: np.ndarray, reach: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The best :func:`rect_ncc_at` within ``reach`` px of each ``(x, y)``: (scores, x, y).

    Windows between the grid's points: a coarse stride finds a logo's neighbourhood, this finds its place.
    """
    h, w = level.field.shape[1:]
    reach = max(0, min(reach, (h - WINDOW) // 2, (w - WINDOW) // 2))  # a level barely a window wide
    x = np.clip(x, reach, w - WINDOW - reach)  # every shifted window inside the level
    y = np.clip(y, reach, h - WINDOW - reach)
    big = WINDOW + 2 * reach
    view = np.lib.stride_tricks.sliding_window_view(level.field, (big, big), axis=(1, 2))
    around = view[:, y - reach, x - reach].transpose(1, 0, 2, 3)  # (k, 2, big, big), copied once
    tmpl = templates.reshape(len(x), 2, WINDOW, WINDOW)
    best = np.full(len(x), -np.inf)
    bx, by = x.copy(), y.copy()
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            part = around[:, :, reach + dy : reach + dy + WINDOW, reach + dx : reach + dx + WINDOW]
            sc = np.einsum("ijkl,ijkl->i", part, tmpl) / _rect_norm(level, x + dx, y + dy, rects)
            better = sc > best
            best = np.where(better, sc, best)
            bx, by = np.where(better, x + dx, bx), np.where(better, y + dy, by)
    return best, bx, by
