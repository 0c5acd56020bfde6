"""Seeded randomness, split assignment and small image helpers shared by the builder."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image

# Fixed salt: the dev/test assignment of a source never depends on --seed, so a dev
# build and a test build made with any seeds always use disjoint source images.
SPLIT_SALT = "authcheck-bench-split-v1"
SPLITS = ("dev", "test")


def stable_int(*keys: object) -> int:
    """Return a 64-bit integer derived from ``keys`` (stable across runs and processes)."""
    text = "\x1f".join(str(k) for k in keys)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def rng_for(*keys: object) -> np.random.Generator:
    """Return a numpy Generator seeded from ``keys`` (e.g. seed, split, purpose, index)."""
    return np.random.default_rng(stable_int(*keys))


def split_of(group: str) -> str:
    """Assign a source group to ``dev`` or ``test`` by hashing it with a fixed salt."""
    return SPLITS[stable_int(SPLIT_SALT, group) % 2]


def assign_splits(strata: dict[str, list[str]]) -> dict[str, str]:
    """Balanced, seed-independent dev/test assignment of source groups.

    Within each stratum (e.g. one stamp folder, one wallpaper collection) the groups are
    ordered by a salted hash and dealt alternately to dev and test, so small collections
    split evenly instead of by coin flips. Only the set of groups matters, never --seed.
    """
    out: dict[str, str] = {}
    for stratum, groups in sorted(strata.items()):
        first = stable_int(SPLIT_SALT, "stratum", stratum) % 2
        ordered = sorted(set(groups), key=lambda g: (stable_int(SPLIT_SALT, g), g))
        for i, g in enumerate(ordered):
            out[g] = SPLITS[(first + i) % 2]
    return out


def to_rgb(im: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Convert any PIL mode to RGB, compositing transparency onto ``background``."""
    if im.mode == "RGB":
        return im
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (*background, 255))
        return Image.alpha_composite(base, rgba).convert("RGB")
    return im.convert("RGB")


def resize_long_side(im: Image.Image, long_side: int) -> Image.Image:
    """Resize so the longer side equals ``long_side`` (keeps aspect ratio)."""
    w, h = im.size
    scale = long_side / max(w, h)
    if abs(scale - 1.0) < 1e-6:
        return im
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if scale < 1:  # reducing_gap: box-reduce first, then Lanczos (much faster, same look)
        return im.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
    return im.resize(size, Image.Resampling.BICUBIC)


def cap_long_side(im: Image.Image, max_side: int) -> Image.Image:
    """Downscale only if the longer side exceeds ``max_side``."""
    return resize_long_side(im, max_side) if max(im.size) > max_side else im


def jpeg_roundtrip(im: Image.Image, quality: int) -> Image.Image:
    """Encode as JPEG at ``quality`` and decode again (recompression artefacts)."""
    buf = io.BytesIO()
    to_rgb(im).save(buf, "JPEG", quality=int(quality))
    buf.seek(0)
    out = Image.open(buf)
    out.load()
    return out.convert("RGB")


def save_jpeg(im: Image.Image, path: Path, quality: int) -> None:
    """Save ``im`` as a baseline JPEG (4:2:0) at ``quality``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    to_rgb(im).save(path, "JPEG", quality=int(quality))


def texture_score(im: Image.Image) -> float:
    """Mean gradient magnitude of a 256 px grey thumbnail: ~0 for flat or smooth images."""
    g = im.convert("L")
    g.thumbnail((256, 256))
    a = np.asarray(g, dtype=np.float32)
    gx = np.abs(np.diff(a, axis=1)).mean()
    gy = np.abs(np.diff(a, axis=0)).mean()
    return float(gx + gy)


def thumb_signature(im: Image.Image, size: int = 16) -> np.ndarray:
    """Zero-mean unit-norm grey thumbnail, for spotting near-identical crops cheaply."""
    a = np.asarray(im.convert("L").resize((size, size), Image.Resampling.BOX), dtype=np.float32)
    a = a - a.mean()
    n = np.linalg.norm(a)
    return (a / n).ravel() if n > 1e-6 else a.ravel()


def random_colour(rng: np.random.Generator, lo: int = 0, hi: int = 255) -> tuple[int, int, int]:
    """A random RGB colour with channels in [lo, hi]."""
    c = rng.integers(lo, hi + 1, size=3)
    return (int(c[0]), int(c[1]), int(c[2]))


def luminance(rgb: tuple[int, int, int]) -> float:
    """Relative luminance in [0, 1] (Rec. 709 weights, no gamma)."""
    r, g, b = rgb
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255.0


def hex_to_rgb(hex_colour: str) -> tuple[int, int, int]:
    """``"1DB954"`` -> ``(29, 185, 84)``."""
    h = hex_colour.lstrip("#")
    return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
