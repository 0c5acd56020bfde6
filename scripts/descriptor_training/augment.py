"""The edits a copier makes, as random augmentations (SSCD's "strong" set, adapted to listings).

One call of :class:`CopyEdits` turns a source picture into one edited view: a crop, maybe a
rotation or a flip, maybe pasted onto another picture or padded with borders, colour
changes, blur, text and emoji-like stickers drawn over it, JPEG recompression, and finally
the square resize the product's descriptor applies (``vision.descriptor.resize_square``).
Everything runs on numpy / OpenCV / Pillow, in data-loader workers.
"""

from __future__ import annotations

import functools
import glob
import io
import string
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

Background = Callable[[np.random.Generator], np.ndarray]  # returns an RGB uint8 image


@dataclass
class EditRates:
    """Probability of each edit (0 turns it off)."""

    crop: float = 0.7
    rotate: float = 0.15
    hflip: float = 0.5
    vflip: float = 0.05
    paste: float = 0.2
    pad: float = 0.15
    colour: float = 0.8
    grey: float = 0.1
    blur: float = 0.15
    text: float = 0.2
    sticker: float = 0.2
    jpeg: float = 0.5


@functools.lru_cache(maxsize=1)
def _font_files() -> tuple[str, ...]:
    return tuple(sorted(glob.glob("/usr/share/fonts/**/*.ttf", recursive=True)))


@functools.lru_cache(maxsize=256)
def _font(index: int, size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    files = _font_files()
    if files and index >= 0:
        try:
            return ImageFont.truetype(files[index % len(files)], size)
        except OSError:
            pass
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: fixed-size bitmap font
        return ImageFont.load_default()


def random_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A plain, gradient or noise background (when no other picture is at hand)."""
    kind = rng.integers(3)
    if kind == 0:
        return np.broadcast_to(rng.integers(0, 256, 3, dtype=np.uint8), (h, w, 3)).copy()
    if kind == 1:
        a, b = rng.integers(0, 256, (2, 3)).astype(np.float32)
        t = np.linspace(0.0, 1.0, w if rng.random() < 0.5 else h, dtype=np.float32)[:, None]
        ramp = (a + (b - a) * t).astype(np.uint8)
        return np.ascontiguousarray(
            np.broadcast_to(ramp[None] if len(ramp) == w else ramp[:, None], (h, w, 3))
        )
    small = rng.integers(0, 256, (max(2, h // 16), max(2, w // 16), 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


class CopyEdits:
    """Random copy edits producing ``size`` x ``size`` uint8 RGB views.

    ``work_side`` bounds the resolution edits run at (cheap, and copies are usually
    smaller than originals anyway); ``background`` supplies other pictures to paste onto.
    """

    def __init__(
        self,
        size: int,
        rates: EditRates | None = None,
        work_side: int | None = None,
        background: Background | None = None,
    ):
        self.size = size
        self.rates = rates or EditRates()
        self.work_side = work_side or int(size * 1.5)
        self.background = background

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One edited view of an RGB uint8 image."""
        r = self.rates
        img = self._crop(image, rng) if rng.random() < r.crop else image
        img = self._shrink(img)
        if rng.random() < r.rotate:
            img = self._rotate(img, rng)
        if rng.random() < r.hflip:
            img = img[:, ::-1]
        if rng.random() < r.vflip:
            img = img[::-1]
        img = np.ascontiguousarray(img)
        if rng.random() < r.paste:
            img = self._paste(img, rng)
        elif rng.random() < r.pad:
            img = self._pad(img, rng)
        if rng.random() < r.colour:
            img = self._colour(img, rng)
        if rng.random() < r.grey:
            g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
            img = np.repeat(g[:, :, None], 3, axis=2)
        if rng.random() < r.blur:
            sigma = float(rng.uniform(0.5, 2.5)) * max(img.shape[:2]) / self.size
            img = cv2.GaussianBlur(img, (0, 0), sigma)
        text, stickers = rng.random() < r.text, rng.random() < r.sticker
        if text or stickers:
            img = self._draw(img, rng, text=text, stickers=stickers)
        if rng.random() < r.jpeg:
            img = self._jpeg(img, rng)
        return resize_to(img, self.size)

    # -- geometry ----------------------------------------------------------------------
    def _shrink(self, img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        if max(h, w) <= self.work_side:
            return img
        f = self.work_side / max(h, w)
        return cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)

    @staticmethod
    def _crop(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        h, w = img.shape[:2]
        area = rng.uniform(0.2, 1.0) * h * w
        ratio = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3))) * w / h
        cw = int(round(min(w, np.sqrt(area * ratio))))
        ch = int(round(min(h, np.sqrt(area / ratio))))
        cw, ch = max(cw, 8), max(ch, 8)
        x = int(rng.integers(0, max(1, w - cw + 1)))
        y = int(rng.integers(0, max(1, h - ch + 1)))
        return img[y : y + ch, x : x + cw]

    @staticmethod
    def _rotate(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() < 0.4:
            return np.ascontiguousarray(np.rot90(img, int(rng.integers(1, 4))))
        h, w = img.shape[:2]
        angle = float(rng.uniform(-20, 20))
        mat = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        return cv2.warpAffine(img, mat, (w, h), flags=cv2.INTER_LINEAR, borderValue=fill)

    def _paste(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Paste onto another picture (or a plain/noise background) at 35-90% of its side."""
        h, w = img.shape[:2]
        side = max(h, w)
        bg = self.background(rng) if self.background is not None else None
        if bg is None:
            bg = random_background(rng, side, side)
        scale = rng.uniform(0.35, 0.9)
        bh, bw = bg.shape[:2]
        f = scale * min(bh / h, bw / w)
        nh, nw = max(8, int(h * f)), max(8, int(w * f))
        fg = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
        out = np.array(bg, copy=True)
        y = int(rng.integers(0, max(1, bh - nh + 1)))
        x = int(rng.integers(0, max(1, bw - nw + 1)))
        out[y : y + nh, x : x + nw] = fg[: bh - y, : bw - x]
        return self._shrink(out)

    @staticmethod
    def _pad(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        h, w = img.shape[:2]
        t, b = (int(v) for v in rng.uniform(0, 0.3, 2) * h)
        left, right = (int(v) for v in rng.uniform(0, 0.3, 2) * w)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        return cv2.copyMakeBorder(img, t, b, left, right, cv2.BORDER_CONSTANT, value=colour)

    # -- photometric -------------------------------------------------------------------
    @staticmethod
    def _colour(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Brightness, contrast, saturation and hue jitter."""
        x = img.astype(np.float32)
        x *= rng.uniform(0.6, 1.4)  # brightness
        mean = x.mean()
        x = (x - mean) * rng.uniform(0.6, 1.4) + mean  # contrast
        grey = x @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        x = (x - grey[..., None]) * rng.uniform(0.5, 1.5) + grey[..., None]  # saturation
        x = np.clip(x, 0, 255).astype(np.uint8)
        shift = int(rng.uniform(-0.05, 0.05) * 180)
        if shift:
            hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV)
            hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + shift) % 180).astype(np.uint8)
            x = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        return x

    @staticmethod
    def _jpeg(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=int(rng.integers(15, 91)))
        buf.seek(0)
        return np.asarray(Image.open(buf).convert("RGB"))

    # -- overlays ----------------------------------------------------------------------
    @staticmethod
    def _draw(img: np.ndarray, rng: np.random.Generator, text: bool, stickers: bool) -> np.ndarray:
        pil = Image.fromarray(img)
        draw = ImageDraw.Draw(pil)
        h, w = img.shape[:2]
        if text:
            for _ in range(int(rng.integers(1, 4))):
                size = max(6, int(h * rng.uniform(0.06, 0.2)))
                font = _font(int(rng.integers(-1, 64)), size)
                chars = string.ascii_letters + string.digits + " !?%$&"
                words = "".join(rng.choice(list(chars), int(rng.integers(3, 16))))
                xy = (int(rng.integers(0, max(1, w - size))), int(rng.integers(0, max(1, h - size))))
                fill = tuple(int(v) for v in rng.integers(0, 256, 3))
                stroke = int(rng.integers(0, 3))
                draw.text(xy, words, font=font, fill=fill, stroke_width=stroke, stroke_fill=(0, 0, 0))
        if stickers:
            for _ in range(int(rng.integers(1, 4))):
                _sticker(draw, rng, h, w)
        return np.asarray(pil)


def _sticker(draw: ImageDraw.ImageDraw, rng: np.random.Generator, h: int, w: int) -> None:
    """An emoji-like sticker: a face, a heart, a star or a badge, 8-30% of the short side."""
    r = max(3, int(min(h, w) * rng.uniform(0.04, 0.15)))
    cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
    colour = tuple(int(v) for v in rng.integers(0, 256, 3))
    kind = rng.integers(4)
    if kind == 0:  # smiley
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 204, 51), outline=(120, 80, 0))
        e = max(1, r // 5)
        for dx in (-r // 3, r // 3):
            draw.ellipse((cx + dx - e, cy - r // 3 - e, cx + dx + e, cy - r // 3 + e), fill=(60, 40, 20))
        draw.arc(
            (cx - r // 2, cy - r // 4, cx + r // 2, cy + r // 2), 20, 160, fill=(60, 40, 20), width=max(1, e)
        )
    elif kind == 1:  # heart
        draw.ellipse((cx - r, cy - r // 2, cx, cy + r // 2), fill=colour)
        draw.ellipse((cx, cy - r // 2, cx + r, cy + r // 2), fill=colour)
        draw.polygon([(cx - r, cy), (cx + r, cy), (cx, cy + r + r // 2)], fill=colour)
    elif kind == 2:  # star
        angles = np.linspace(-np.pi / 2, 3 * np.pi / 2, 11)[:-1]
        radii = np.where(np.arange(10) % 2 == 0, r, r * 0.45)
        pts = [
            (cx + float(rr * np.cos(a)), cy + float(rr * np.sin(a)))
            for a, rr in zip(angles, radii, strict=True)
        ]
        draw.polygon(pts, fill=colour, outline=(0, 0, 0))
    else:  # price badge
        draw.rounded_rectangle((cx - r, cy - r // 2, cx + r, cy + r // 2), radius=max(1, r // 4), fill=colour)
        draw.text((cx - r // 2, cy - r // 3), "SALE", fill=(255, 255, 255), font=_font(-1, max(6, r // 2)))


def resize_to(img: np.ndarray, size: int) -> np.ndarray:
    """Square resize as the product does it (area when shrinking, linear when enlarging)."""
    h, w = img.shape[:2]
    interp = cv2.INTER_AREA if max(h, w) > size else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(img), (size, size), interpolation=interp)
