"""Copy edits in the style of DISC21, applied to catalogue references (and, as benign
listing edits, to clean images so that "was edited" never gives a copy away).

Each edit is ``fn(im, rng, ctx) -> (im, params)``; ``params["op"]`` names the edit and
the rest records what was drawn, so the manifest lists edits in the order applied.
augly's imaging ops are used where they work with current numpy/Pillow
(``overlay_onto_screenshot``, and ``meme_format`` with a small Pillow shim); everything
else is implemented here with Pillow/numpy/OpenCV.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from .common import jpeg_roundtrip, luminance, random_colour, to_rgb

COPY_EDIT_KINDS = (
    "crop",
    "resize",
    "jpeg",
    "hflip",
    "rotate",
    "colour",
    "blur",
    "text",
    "emoji",
    "pad",
    "screenshot",
    "paste",
)
# edits that put the whole picture inside something else: at most one per image
CONTAINER_KINDS = ("pad", "screenshot", "paste")
# edits a legitimate seller also makes to its own photos (applied to clean images too)
LISTING_EDIT_KINDS = ("resize", "jpeg", "colour", "text", "emoji", "pad", "screenshot", "crop")
# application order: geometry -> photometric -> overlays -> containers -> size -> codec
STAGE = {
    "crop": 0,
    "hflip": 0,
    "rotate": 1,
    "colour": 1,
    "blur": 1,
    "text": 2,
    "emoji": 2,
    "pad": 3,
    "screenshot": 3,
    "paste": 3,
    "resize": 4,
    "jpeg": 5,
}

PHRASES = (
    "SALE",
    "-50%",
    "-30% TODAY",
    "FREE SHIPPING",
    "Only $19.99",
    "$49.90",
    "NEW",
    "HOT",
    "100% ORIGINAL",
    "Best price!",
    "Limited offer",
    "Buy now",
    "In stock",
    "Fast delivery",
    "Top seller",
    "Grade AAA",
    "DM for price",
    "Wholesale",
    "2 for 1",
    "Brand new",
    "Genuine quality",
    "Ships today",
    "@deals_corner",
    "shop-outlet.example",
    "LAST ITEMS",
    "Mega deal",
    "Original packaging",
    "Gift idea",
    "Free returns",
    "No. 1 choice",
)
FONT_NAMES = (
    "Montserrat-Bold",
    "Montserrat-Regular",
    "OpenSans-Bold",
    "OpenSans-Regular",
    "Raleway-Black",
    "SourceSansPro-Bold",
    "Ubuntu-B",
    "Ubuntu-R",
    "Titillium-Bold",
    "Impact",
    "LeagueSpartan-Bold",
    "Lobster_1.3",
    "Pacifico",
    "PlayfairDisplay-Bold",
    "IBMPlexSans-Bold",
    "Chunkfive",
    "KaushanScript-Regular",
    "Quicksand-Bold",
)
SYSTEM_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


def _augly_assets() -> Path | None:
    try:
        import augly
    except ImportError:
        return None
    p = Path(augly.__file__).parent / "assets"
    return p if p.is_dir() else None


def install_augly_shims() -> None:
    """Make augly 1.0's ``meme_format`` work on Pillow >= 10 (``getsize_multiline`` is gone).

    (augly's ``perspective_transform`` also breaks, on ``np.float``; we do not use it.)
    """
    if hasattr(ImageFont.FreeTypeFont, "getsize_multiline"):
        return

    def getsize_multiline(
        self: ImageFont.FreeTypeFont, text: str, *args: object, **kwargs: object
    ) -> tuple[int, int]:
        d = ImageDraw.Draw(Image.new("L", (1, 1)))
        x0, y0, x1, y1 = d.multiline_textbbox((0, 0), text, font=self)
        return x1, y1

    ImageFont.FreeTypeFont.getsize_multiline = getsize_multiline  # type: ignore[attr-defined]


@dataclass
class EditContext:
    """What edits need beyond the image: an unseen-photo provider for ``paste``, fonts, emoji."""

    background: Callable[[np.random.Generator, int], tuple[Image.Image, str]]
    fonts: list[str] = field(default_factory=list)
    emoji: list[str] = field(default_factory=list)
    screenshot_templates: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def create(cls, background: Callable[[np.random.Generator, int], tuple[Image.Image, str]]) -> EditContext:
        """Collect fonts, twemoji PNGs and screenshot templates (augly assets when present)."""
        assets = _augly_assets()
        fonts, emoji, templates = [], [], []
        if assets:
            fonts = [
                str(assets / "fonts" / f"{n}.ttf")
                for n in FONT_NAMES
                if (assets / "fonts" / f"{n}.ttf").exists()
            ]
            emoji = sorted(str(p) for p in (assets / "twemojis").rglob("*.png"))
            bb = assets / "screenshot_templates" / "bboxes.json"
            for name in ("web.png", "mobile.png"):
                if (assets / "screenshot_templates" / name).exists() and bb.exists():
                    templates.append((str(assets / "screenshot_templates" / name), str(bb)))
        fonts += [f for f in SYSTEM_FONTS if Path(f).exists()]
        return cls(background=background, fonts=fonts, emoji=emoji, screenshot_templates=templates)

    def font(self, rng: np.random.Generator, size: int) -> tuple[ImageFont.FreeTypeFont, str]:
        """A random legible font at ``size`` px (Pillow's default font if none is installed)."""
        size = max(8, int(size))
        if self.fonts:
            path = self.fonts[int(rng.integers(len(self.fonts)))]
            return ImageFont.truetype(path, size), Path(path).stem
        return ImageFont.load_default(size=size), "default"


# ------------------------------------------------------------------------------ edits


def edit_crop(im: Image.Image, rng: np.random.Generator, ctx: EditContext) -> tuple[Image.Image, dict]:
    """Keep 40-90% of the area at a random spot (mild aspect change)."""
    w, h = im.size
    area = float(rng.uniform(0.4, 0.9))
    ratio = math.exp(rng.uniform(math.log(0.75), math.log(1.33)))
    wf = min(1.0, math.sqrt(area * ratio))
    hf = min(1.0, area / wf)
    wf = min(1.0, area / hf)
    x0, y0 = float(rng.uniform(0, 1 - wf)), float(rng.uniform(0, 1 - hf))
    box = (round(x0 * w), round(y0 * h), round((x0 + wf) * w), round((y0 + hf) * h))
    out = im.crop(box)
    return out, {
        "op": "crop",
        "box": [round(x0, 4), round(y0, 4), round(x0 + wf, 4), round(y0 + hf, 4)],
        "area": round(wf * hf, 3),
    }


def edit_resize(
    im: Image.Image, rng: np.random.Generator, ctx: EditContext, min_long_side: int = 0
) -> tuple[Image.Image, dict]:
    """Downscale by 0.3-0.8 (never below ``min_long_side`` on the long side)."""
    s = float(rng.uniform(0.3, 0.8))
    if min_long_side:
        s = max(s, min(1.0, min_long_side / max(im.size)))
    size = (max(16, round(im.width * s)), max(16, round(im.height * s)))
    return im.resize(size, Image.Resampling.LANCZOS), {"op": "resize", "scale": round(s, 3)}


def edit_jpeg(im: Image.Image, rng: np.random.Generator, ctx: EditContext) -> tuple[Image.Image, dict]:
    """Recompress at JPEG quality 20-70."""
    q = int(rng.integers(20, 71))
    return jpeg_roundtrip(im, q), {"op": "jpeg", "quality": q}


def edit_hflip(im: Image.Image, rng: np.random.Generator, ctx: EditContext) -> tuple[Image.Image, dict]:
    """Mirror left-right."""
    return ImageOps.mirror(im), {"op": "hflip"}


def _max_inscribed(w: int, h: int, angle_deg: float) -> tuple[float, float]:
    """Largest axis-aligned rectangle inside a w x h rectangle rotated by angle_deg."""
    a = math.radians(abs(angle_deg))
    s, c = math.sin(a), math.cos(a)
    long_, short = max(w, h), min(w, h)
    if short <= 2 * s * c * long_ or abs(s - c) < 1e-10:
        # half-constrained: two corners touch the longer sides
        x = 0.5 * short
        return (x / s, x / c) if w >= h else (x / c, x / s)
    c2 = c * c - s * s
    return (w * c - h * s) / c2, (h * c - w * s) / c2


def edit_rotate(im: Image.Image, rng: np.random.Generator, ctx: EditContext) -> tuple[Image.Image, dict]:
    """Rotate 5-30 degrees either way; either expand with a fill colour or crop to content."""
    angle = float(rng.uniform(5, 30)) * (1 if rng.random() < 0.5 else -1)
    mode = "fill" if rng.random() < 0.5 else "crop"
    if mode == "fill":
        fill = (
            (255, 255, 255) if rng.random() < 0.4 else (0, 0, 0) if rng.random() < 0.4 else random_colour(rng)
        )
        out = im.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill)
        return out, {"op": "rotate", "angle": round(angle, 1), "mode": mode, "fill": list(fill)}
    w, h = im.size
    out = im.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    cw, ch = _max_inscribed(w, h, angle)
    cx, cy = out.width / 2, out.height / 2
    out = out.crop(
        (round(cx - cw / 2) + 1, round(cy - ch / 2) + 1, round(cx + cw / 2) - 1, round(cy + ch / 2) - 1)
    )
    return out, {"op": "rotate", "angle": round(angle, 1), "mode": mode}


def _away_from_one(rng: np.random.Generator, lo: float, hi: float, gap: float = 0.12) -> float:
    """A factor in [lo, 1-gap] U [1+gap, hi], so the change is visible."""
    if rng.random() < 0.5:
        return float(rng.uniform(lo, 1 - gap))
    return float(rng.uniform(1 + gap, hi))


def edit_colour(im: Image.Image, rng: np.random.Generator, ctx: EditContext) -> tuple[Image.Image, dict]:
    """Brightness / contrast / saturation / hue shift, or greyscale."""
    params: dict = {"op": "colour"}
    out = to_rgb(im)
    if rng.random() < 0.2:
        out = ImageOps.grayscale(out).convert("RGB")
        params["greyscale"] = True
        if rng.random() < 0.5:
            f = _away_from_one(rng, 0.7, 1.4)
            out = ImageEnhance.Contrast(out).enhance(f)
            params["contrast"] = round(f, 3)
        return out, params
    subs = [str(x) for x in rng.permutation(["brightness", "contrast", "saturation", "hue"])]
    for sub in subs[: int(rng.integers(1, 4))]:
        if sub == "brightness":
            f = _away_from_one(rng, 0.6, 1.4)
            out = ImageEnhance.Brightness(out).enhance(f)
        elif sub == "contrast":
            f = _away_from_one(rng, 0.6, 1.4)
            out = ImageEnhance.Contrast(out).enhance(f)
        elif sub == "saturation":
            f = _away_from_one(rng, 0.3, 1.7, gap=0.2)
            out = ImageEnhance.Color(out).enhance(f)
        else:
            f = float(rng.uniform(0.05, 0.2)) * (1 if rng.random() < 0.5 else -1)
            hsv = np.asarray(out.convert("HSV")).copy()
            hsv[..., 0] = (hsv[..., 0].astype(np.int16) + round(f * 255)) % 256
            out = Image.fromarray(hsv, "HSV").convert("RGB")
        params[sub] = round(f, 3)
    return out, params


def edit_blur(im: Image.Image, rng: np.random.Generator, ctx: EditContext) -> tuple[Image.Image, dict]:
    """Gaussian blur, radius ~1.5-4 px at 800 px (scaled with the image)."""
    r = float(rng.uniform(1.5, 4.0)) * max(im.size) / 800
    return im.filter(ImageFilter.GaussianBlur(r)), {"op": "blur", "radius": round(r, 2)}


def _text_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return [(255, 255, 255), (0, 0, 0), (230, 30, 40), (255, 210, 0), random_colour(rng)][
        int(rng.integers(5))
    ]


def edit_text(im: Image.Image, rng: np.random.Generator, ctx: EditContext) -> tuple[Image.Image, dict]:
    """Overlay 1-3 short sales phrases (sometimes on a band), or a meme caption (augly)."""
    if rng.random() < 0.2 and ctx.fonts:
        try:
            import augly.image as imaugs

            install_augly_shims()
            phrase = str(PHRASES[int(rng.integers(len(PHRASES)))])
            out = imaugs.meme_format(
                to_rgb(im),
                text=phrase,
                caption_height=int(max(40, 0.15 * im.height)),
                meme_bg_color=(255, 255, 255),
                text_color=(0, 0, 0),
            )
            return to_rgb(out), {"op": "text", "style": "meme", "texts": [phrase]}
        except Exception:  # fall back to our own overlay
            pass
    out = to_rgb(im).convert("RGBA")
    layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    w, h = out.size
    texts, placed = [], []
    for _ in range(int(rng.integers(1, 4))):
        phrase = str(PHRASES[int(rng.integers(len(PHRASES)))])
        size = int(rng.uniform(0.05, 0.12) * h)
        font, fname = ctx.font(rng, size)
        x0, y0, x1, y1 = d.textbbox((0, 0), phrase, font=font)
        tw, th = x1 - x0, y1 - y0
        if tw > 0.95 * w:  # too long for this width: shrink
            font, fname = ctx.font(rng, int(size * 0.95 * w / tw))
            x0, y0, x1, y1 = d.textbbox((0, 0), phrase, font=font)
            tw, th = x1 - x0, y1 - y0
        x = int(rng.integers(0, max(1, w - tw)))
        y = int(rng.integers(0, max(1, h - th)))
        colour = _text_colour(rng)
        if rng.random() < 0.35:  # a band behind the text
            band = (0, 0, 0, 150) if luminance(colour) > 0.5 else (255, 255, 255, 170)
            pad = max(2, th // 4)
            d.rectangle([x - pad, y - pad, x + tw + pad, y + th + pad], fill=band)
        stroke = int(max(1, size // 18)) if rng.random() < 0.4 else 0
        d.text(
            (x - x0, y - y0),
            phrase,
            font=font,
            fill=(*colour, 255),
            stroke_width=stroke,
            stroke_fill=(0, 0, 0, 255) if luminance(colour) > 0.5 else (255, 255, 255, 255),
        )
        texts.append(phrase)
        placed.append({"text": phrase, "xy": [x, y], "size": size, "font": fname})
    return Image.alpha_composite(out, layer).convert("RGB"), {
        "op": "text",
        "style": "overlay",
        "texts": texts,
        "items": placed,
    }


def _shape_sticker(rng: np.random.Generator, size: int) -> tuple[Image.Image, str]:
    """A drawn sticker (star, heart, disc or burst) for when no emoji assets exist."""
    im = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    colour = (*random_colour(rng, 40, 255), 255)
    kind = str(rng.choice(["star", "heart", "disc", "burst"]))
    c, r = size / 2, size / 2 - 1
    if kind in ("star", "burst"):
        n = 5 if kind == "star" else 12
        inner = 0.45 if kind == "star" else 0.75
        pts = []
        for i in range(2 * n):
            rad = r if i % 2 == 0 else r * inner
            a = math.pi * i / n - math.pi / 2
            pts.append((c + rad * math.cos(a), c + rad * math.sin(a)))
        d.polygon(pts, fill=colour)
    elif kind == "heart":
        d.ellipse([0, size * 0.1, c + 1, c + size * 0.15], fill=colour)
        d.ellipse([c - 1, size * 0.1, size - 1, c + size * 0.15], fill=colour)
        d.polygon([(size * 0.03, c * 0.95), (size * 0.97, c * 0.95), (c, size - 1)], fill=colour)
    else:
        d.ellipse(
            [1, 1, size - 2, size - 2], fill=colour, outline=(255, 255, 255, 255), width=max(1, size // 15)
        )
    return im, f"shape:{kind}"


def edit_emoji(im: Image.Image, rng: np.random.Generator, ctx: EditContext) -> tuple[Image.Image, dict]:
    """Paste 1-4 emoji/stickers (twemoji from augly's assets, else drawn shapes)."""
    out = to_rgb(im).convert("RGBA")
    w, h = out.size
    items = []
    for _ in range(int(rng.integers(1, 5))):
        size = max(12, int(rng.uniform(0.1, 0.25) * min(w, h)))
        if ctx.emoji:
            path = ctx.emoji[int(rng.integers(len(ctx.emoji)))]
            with Image.open(path) as e:
                sticker = e.convert("RGBA").resize((size, size), Image.Resampling.LANCZOS)
            name = f"twemoji:{Path(path).parent.name}/{Path(path).stem}"
        else:
            sticker, name = _shape_sticker(rng, size)
        angle = float(rng.uniform(-30, 30))
        sticker = sticker.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
        opacity = float(rng.uniform(0.8, 1.0))
        if opacity < 1:
            a = sticker.getchannel("A").point(lambda v, o=opacity: int(v * o))
            sticker.putalpha(a)
        x = int(rng.integers(-sticker.width // 4, max(1, w - 3 * sticker.width // 4)))
        y = int(rng.integers(-sticker.height // 4, max(1, h - 3 * sticker.height // 4)))
        out.alpha_composite(sticker, (max(0, x), max(0, y)))
        items.append({"emoji": name, "xy": [max(0, x), max(0, y)], "size": size, "angle": round(angle, 1)})
    return out.convert("RGB"), {"op": "emoji", "items": items}


def edit_pad(im: Image.Image, rng: np.random.Generator, ctx: EditContext) -> tuple[Image.Image, dict]:
    """Add a border of 10-40% of each dimension (uniform colour or noise), maybe off-centre."""
    w, h = im.size
    frac = float(rng.uniform(0.1, 0.4))
    style = "uniform" if rng.random() < 0.6 else "noise"
    total_w, total_h = round(frac * w), round(frac * h)
    split_x = float(rng.uniform(0.2, 0.8)) if rng.random() < 0.5 else 0.5
    split_y = float(rng.uniform(0.2, 0.8)) if rng.random() < 0.5 else 0.5
    left, top = round(total_w * split_x), round(total_h * split_y)
    W, H = w + total_w, h + total_h
    if style == "uniform":
        colour = [(255, 255, 255), (0, 0, 0), random_colour(rng)][int(rng.integers(3))]
        canvas = Image.new("RGB", (W, H), colour)
        extra = {"colour": list(colour)}
    else:
        noise = rng.integers(0, 256, size=(max(1, H // 4), max(1, W // 4), 3), dtype=np.uint8)
        canvas = Image.fromarray(noise).resize((W, H), Image.Resampling.BILINEAR)
        extra = {}
    canvas.paste(to_rgb(im), (left, top))
    return canvas, {"op": "pad", "style": style, "frac": round(frac, 3), "offset": [left, top], **extra}


def _fake_url(rng: np.random.Generator) -> str:
    host = ["shop", "deals", "outlet", "market", "store", "bazaar"][int(rng.integers(6))]
    return f"https://www.{host}-{int(rng.integers(10, 99))}.example/item/{int(rng.integers(10**5, 10**6))}"


def _grey_lines(
    d: ImageDraw.ImageDraw,
    x: int,
    y: int,
    w: int,
    n: int,
    lh: int,
    rng: np.random.Generator,
    colour: tuple[int, int, int],
) -> int:
    for _ in range(n):
        d.rounded_rectangle(
            [x, y, x + int(w * rng.uniform(0.5, 1.0)), y + max(2, lh // 2)],
            radius=max(1, lh // 4),
            fill=colour,
        )
        y += lh
    return y


def _browser_frame(im: Image.Image, rng: np.random.Generator, ctx: EditContext) -> tuple[Image.Image, dict]:
    f = float(rng.uniform(0.45, 0.65))  # image width / page width
    W = round(im.width / f)
    u = max(10, W // 60)  # layout unit
    chrome = 6 * u
    H = max(round(W * rng.uniform(0.55, 0.75)), chrome + im.height + 6 * u)
    dark = rng.random() < 0.2
    bg, fg, grey = (
        ((32, 33, 36), (232, 234, 237), (80, 84, 90))
        if dark
        else ((255, 255, 255), (32, 33, 36), (218, 220, 224))
    )
    page = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(page)
    d.rectangle([0, 0, W, chrome], fill=(53, 54, 58) if dark else (222, 225, 230))
    for i in range(int(rng.integers(2, 5))):  # tabs
        x = u + i * 12 * u
        d.rounded_rectangle(
            [x, u // 2, x + 11 * u, 2 * u + u // 2], radius=u // 2, fill=bg if i == 0 else grey
        )
    d.rounded_rectangle([2 * u, 3 * u, W - 2 * u, 5 * u + u // 2], radius=u, fill=bg)
    font_small, _ = ctx.font(rng, int(1.3 * u))
    d.text((3 * u, 3 * u + u // 4), _fake_url(rng), font=font_small, fill=fg)
    x0, y0 = 2 * u, chrome + 2 * u
    page.paste(to_rgb(im), (x0, y0))
    tx = x0 + im.width + 3 * u
    tw = W - tx - 2 * u
    font_big, _ = ctx.font(rng, int(2.2 * u))
    title = str(PHRASES[int(rng.integers(len(PHRASES)))])
    d.text((tx, y0), title, font=font_big, fill=fg)
    d.text((tx, y0 + 4 * u), f"${rng.uniform(5, 300):.2f}", font=font_big, fill=(200, 30, 40))
    y = _grey_lines(d, tx, y0 + 8 * u, tw, int(rng.integers(3, 7)), int(1.6 * u), rng, grey)
    btn = tuple(int(c) for c in random_colour(rng, 20, 220))
    d.rounded_rectangle([tx, y + u, tx + min(tw, 14 * u), y + 4 * u], radius=u, fill=btn)
    d.text((tx + u, y + 1.6 * u), "Add to cart", font=font_small, fill=(255, 255, 255))
    _grey_lines(d, x0, y0 + im.height + 2 * u, im.width, 3, int(1.6 * u), rng, grey)
    return page, {
        "op": "screenshot",
        "style": "browser",
        "dark": dark,
        "image_box": [x0, y0, x0 + im.width, y0 + im.height],
    }


def _phone_frame(im: Image.Image, rng: np.random.Generator, ctx: EditContext) -> tuple[Image.Image, dict]:
    f = float(rng.uniform(0.85, 1.0))  # image width / screen width
    W = round(im.width / f)
    u = max(8, W // 32)
    H = max(round(W * rng.uniform(1.9, 2.17)), im.height + 22 * u)
    dark = rng.random() < 0.3
    bg, fg, grey = (
        ((0, 0, 0), (245, 245, 245), (60, 60, 60))
        if dark
        else ((255, 255, 255), (20, 20, 20), (225, 225, 225))
    )
    screen = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(screen)
    font, _ = ctx.font(rng, int(1.6 * u))
    d.text((u, u // 2), f"{int(rng.integers(7, 23))}:{int(rng.integers(0, 60)):02d}", font=font, fill=fg)
    d.rounded_rectangle([W - 4 * u, u, W - u, 2 * u], radius=u // 3, outline=fg, width=2)  # battery
    d.rectangle([W - 4 * u + 3, u + 3, W - 2 * u, 2 * u - 3], fill=fg)
    bar_y = 3 * u
    d.line([u, bar_y + 1.5 * u, 2 * u, bar_y + u, 2 * u, bar_y + 2 * u], fill=fg, width=3)  # back
    d.text((4 * u, bar_y + u // 2), str(PHRASES[int(rng.integers(len(PHRASES)))])[:18], font=font, fill=fg)
    x0, y0 = (W - im.width) // 2, bar_y + 4 * u
    screen.paste(to_rgb(im), (x0, y0))
    y = y0 + im.height + u
    for i in range(4):  # like / comment / share / save icons
        d.ellipse([u + i * 3 * u, y, u + i * 3 * u + 2 * u, y + 2 * u], outline=fg, width=2)
    d.text((u, y + 3 * u), f"${rng.uniform(5, 300):.2f}", font=font, fill=(220, 40, 50))
    _grey_lines(d, u, y + 6 * u, W - 2 * u, int(rng.integers(2, 5)), int(1.5 * u), rng, grey)
    d.rectangle([0, H - 5 * u, W, H], fill=(20, 20, 20) if dark else (248, 248, 248))
    for i in range(5):  # bottom navigation
        cx = W * (i + 0.5) / 5
        d.rounded_rectangle([cx - u, H - 3.5 * u, cx + u, H - 1.5 * u], radius=u // 2, outline=fg, width=2)
    return screen, {
        "op": "screenshot",
        "style": "phone",
        "dark": dark,
        "image_box": [x0, y0, x0 + im.width, y0 + im.height],
    }


def edit_screenshot(im: Image.Image, rng: np.random.Generator, ctx: EditContext) -> tuple[Image.Image, dict]:
    """Place the picture inside a fake browser page or phone app (our own drawing), or in
    augly's screenshot templates (``overlay_onto_screenshot``)."""
    src = to_rgb(im)
    if max(src.size) > 700:  # a screenshot shows the picture at screen size
        src = src.resize(
            (round(src.width * 700 / max(src.size)), round(src.height * 700 / max(src.size))),
            Image.Resampling.LANCZOS,
        )
    choice = rng.random()
    if choice < 0.3 and ctx.screenshot_templates:
        try:
            import augly.image as imaugs

            tpl, bb = ctx.screenshot_templates[int(rng.integers(len(ctx.screenshot_templates)))]
            out = imaugs.overlay_onto_screenshot(
                src,
                template_filepath=tpl,
                template_bboxes_filepath=bb,
                crop_src_to_fit=bool(rng.random() < 0.3),
            )
            return to_rgb(out), {"op": "screenshot", "style": f"augly:{Path(tpl).stem}"}
        except Exception:  # fall back to our own frames
            pass
    if choice < 0.65:
        return _browser_frame(src, rng, ctx)
    return _phone_frame(src, rng, ctx)


def edit_paste(im: Image.Image, rng: np.random.Generator, ctx: EditContext) -> tuple[Image.Image, dict]:
    """Scale the picture to 40-80% of an unseen photo's width and paste it at a random spot."""
    bg, bg_key = ctx.background(rng, int(rng.integers(800, 1001)))
    bw, bh = bg.size
    frac = float(rng.uniform(0.4, 0.8))
    pw = round(frac * bw)
    ph = round(im.height * pw / im.width)
    if ph > 0.92 * bh:  # too tall for the photo: fit the height instead
        ph = round(0.92 * bh)
        pw = round(im.width * ph / im.height)
    pic = to_rgb(im).resize((pw, ph), Image.Resampling.LANCZOS)
    x, y = int(rng.integers(0, bw - pw + 1)), int(rng.integers(0, bh - ph + 1))
    style = str(rng.choice(["plain", "border", "shadow"], p=[0.5, 0.25, 0.25]))
    canvas = to_rgb(bg).copy()
    if style == "shadow":
        sh = Image.new("L", canvas.size, 0)
        off = max(3, pw // 40)
        ImageDraw.Draw(sh).rectangle([x + off, y + off, x + pw + off, y + ph + off], fill=140)
        sh = sh.filter(ImageFilter.GaussianBlur(off))
        canvas = Image.composite(Image.new("RGB", canvas.size, (0, 0, 0)), canvas, sh)
    elif style == "border":
        b = max(2, pw // 50)
        ImageDraw.Draw(canvas).rectangle([x - b, y - b, x + pw + b, y + ph + b], fill=(255, 255, 255))
    canvas.paste(pic, (x, y))
    return canvas, {
        "op": "paste",
        "background": bg_key,
        "width_frac": round(pw / bw, 3),
        "box": [x, y, x + pw, y + ph],
        "style": style,
    }


EDIT_FUNCS: dict[str, Callable[..., tuple[Image.Image, dict]]] = {
    "crop": edit_crop,
    "resize": edit_resize,
    "jpeg": edit_jpeg,
    "hflip": edit_hflip,
    "rotate": edit_rotate,
    "colour": edit_colour,
    "blur": edit_blur,
    "text": edit_text,
    "emoji": edit_emoji,
    "pad": edit_pad,
    "screenshot": edit_screenshot,
    "paste": edit_paste,
}


def draw_edit_kinds(
    primary: str, n_edits: int, rng: np.random.Generator, pool: tuple[str, ...] = COPY_EDIT_KINDS
) -> list[str]:
    """``primary`` plus ``n_edits - 1`` distinct others from ``pool``, at most one container."""
    kinds = [primary]
    candidates = [k for k in pool if k != primary]
    rng.shuffle(candidates)
    for k in candidates:
        if len(kinds) >= n_edits:
            break
        if k in CONTAINER_KINDS and any(x in CONTAINER_KINDS for x in kinds):
            continue
        kinds.append(k)
    return kinds


def order_edits(kinds: list[str], rng: np.random.Generator) -> list[str]:
    """Order edits by stage (geometry first, codec last), ties broken at random."""
    ties = rng.random(len(kinds))
    return [k for _, _, k in sorted(zip([STAGE[k] for k in kinds], ties, kinds, strict=True))]


def apply_edits(
    im: Image.Image, kinds: list[str], rng: np.random.Generator, ctx: EditContext
) -> tuple[Image.Image, list[dict]]:
    """Apply ``kinds`` in stage order; returns the image and the edit records in order."""
    records = []
    has_container = any(k in ("paste", "screenshot") for k in kinds)
    for k in order_edits(kinds, rng):
        if k == "resize":
            # after a paste/screenshot the picture is already small inside the frame
            im, p = edit_resize(im, rng, ctx, min_long_side=420 if has_container else 0)
        else:
            im, p = EDIT_FUNCS[k](im, rng, ctx)
        records.append(p)
    return to_rgb(im), records
