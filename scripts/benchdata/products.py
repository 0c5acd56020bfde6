"""Catalogue-style product shots: a stamp cut-out on a plain or soft-gradient studio background."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .common import random_colour

MAX_UPSCALE = 3.5  # stamps are small; beyond this they look too soft
ASPECTS = ((1, 1), (4, 3), (3, 4), (4, 5), (5, 4))
STUDIO_COLOURS = (
    (255, 255, 255),
    (250, 250, 248),
    (244, 244, 244),
    (235, 235, 235),
    (246, 241, 233),
    (236, 242, 248),
    (242, 236, 240),
    (232, 240, 232),
    (40, 40, 44),
    (210, 214, 220),
)


def studio_background(size: tuple[int, int], rng: np.random.Generator) -> tuple[Image.Image, dict]:
    """A plain, vertical-gradient or radial (vignette) studio background."""
    w, h = size
    style = str(rng.choice(["plain", "vertical", "radial"], p=[0.4, 0.3, 0.3]))
    base = np.array(STUDIO_COLOURS[int(rng.integers(len(STUDIO_COLOURS)))], dtype=np.float32)
    if rng.random() < 0.3:  # a pastel tint
        base = 0.75 * base + 0.25 * np.array(random_colour(rng, 150, 255), dtype=np.float32)
    other = np.clip(base * rng.uniform(0.78, 0.95), 0, 255)
    # gradients are smooth: compute them at 1/8 resolution and upsample
    sw, sh = max(2, w // 8), max(2, h // 8)
    if style == "plain":
        arr = np.broadcast_to(base, (sh, sw, 3)).copy()
    elif style == "vertical":
        t = np.linspace(0.0, 1.0, sh, dtype=np.float32)[:, None, None]
        arr = np.broadcast_to(base * (1 - t) + other * t, (sh, sw, 3)).copy()
    else:
        yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
        cx, cy = sw * rng.uniform(0.4, 0.6), sh * rng.uniform(0.35, 0.55)
        r = np.sqrt(((xx - cx) / sw) ** 2 + ((yy - cy) / sh) ** 2) / 0.75
        t = np.clip(r, 0, 1)[..., None]
        arr = base * (1 - t) + other * t
    small = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    arr = np.asarray(small.resize((w, h), Image.Resampling.BILINEAR), dtype=np.int16)
    noise = float(rng.choice([0.0, 0.0, 1.5, 3.0]))
    if noise:  # sensor-like grain, one channel shared by R, G and B
        arr = arr + np.rint(rng.normal(0, noise, size=(h, w, 1))).astype(np.int16)
    im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return im, {"style": style, "colour": [int(x) for x in base], "noise": noise}


def product_shot(
    stamp: Image.Image, rng: np.random.Generator, long_side: tuple[int, int] = (640, 1024)
) -> tuple[Image.Image, dict]:
    """Composite an RGBA cut-out so it fills ~60-80% of a studio frame.

    Returns the RGB shot and the parameters used (fill, frame aspect, shadow, ...).
    """
    ow, oh = stamp.size
    aw, ah = ASPECTS[int(rng.integers(len(ASPECTS)))]
    if rng.random() < 0.5 and (ow > oh) != (aw > ah) and aw != ah:
        aw, ah = ah, aw  # orient the frame like the object more often than not
    fill = float(rng.uniform(0.6, 0.8))
    target = int(rng.integers(long_side[0], long_side[1] + 1))
    cw, ch = (target, round(target * ah / aw)) if aw >= ah else (round(target * aw / ah), target)
    scale = fill / max(ow / cw, oh / ch)
    if scale > MAX_UPSCALE:  # small stamp: shrink the frame rather than blow up the stamp
        shrink = MAX_UPSCALE / scale
        scale = MAX_UPSCALE
        cw, ch = max(256, round(cw * shrink)), max(256, round(ch * shrink))
    sw, sh = max(1, round(ow * scale)), max(1, round(oh * scale))
    obj = stamp.resize((sw, sh), Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC)
    bg, bg_params = studio_background((cw, ch), rng)
    x = int(round((cw - sw) / 2 + rng.uniform(-0.05, 0.05) * cw))
    y = int(round((ch - sh) / 2 + rng.uniform(-0.05, 0.04) * ch))
    x, y = min(max(x, 0), max(cw - sw, 0)), min(max(y, 0), max(ch - sh, 0))
    canvas = bg.convert("RGBA")
    shadow = rng.random() < 0.6
    if shadow:  # soft contact shadow under the object
        layer = Image.new("L", (cw, ch), 0)
        d = ImageDraw.Draw(layer)
        ew, eh = sw * 0.9, max(6.0, sh * 0.08)
        cx, cy = x + sw / 2, min(ch - 2, y + sh - eh * 0.3)
        d.ellipse([cx - ew / 2, cy - eh / 2, cx + ew / 2, cy + eh / 2], fill=int(rng.uniform(50, 110)))
        layer = layer.filter(ImageFilter.GaussianBlur(max(3.0, eh * 0.6)))
        dark = Image.new("RGBA", (cw, ch), (0, 0, 0, 255))
        dark.putalpha(layer)
        canvas = Image.alpha_composite(canvas, dark)
    canvas.alpha_composite(obj, (x, y))
    params = {
        "fill": round(fill, 3),
        "frame": [cw, ch],
        "object_box": [x, y, x + sw, y + sh],
        "scale": round(scale, 3),
        "shadow": shadow,
        "background": bg_params,
    }
    return canvas.convert("RGB"), params
