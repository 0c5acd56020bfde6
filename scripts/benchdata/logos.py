"""simple-icons logos: index, rasterising with cairosvg, and pasting onto photos.

The npm package ``simple-icons`` ships ``icons/<slug>.svg`` (24x24 viewBox, single path,
no fill) and ``data/simple-icons.json`` (title, slug, brand ``hex``, optional licence).
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from .common import hex_to_rgb, luminance

DEFAULT_NPM_DIR = Path(
    os.environ.get("AUTHCHECK_BENCH_NPM", Path.home() / ".cache" / "authcheck-bench" / "npm")
)


@dataclass(frozen=True)
class Icon:
    """One simple-icons entry."""

    slug: str
    title: str
    hex: str
    svg: str  # path of the SVG file
    licence: str


def simple_icons_dir(npm_dir: Path | None = None) -> Path:
    """``<npm_dir>/node_modules/simple-icons`` (default npm dir: $AUTHCHECK_BENCH_NPM or cache)."""
    return Path(npm_dir or DEFAULT_NPM_DIR) / "node_modules" / "simple-icons"


def load_icons(pkg_dir: Path) -> list[Icon]:
    """All icons with an SVG file, in slug order ([] when the package is missing)."""
    data_file = pkg_dir / "data" / "simple-icons.json"
    if not data_file.exists():
        return []
    raw = json.loads(data_file.read_text())
    entries = raw["icons"] if isinstance(raw, dict) else raw
    version = ""
    pj = pkg_dir / "package.json"
    if pj.exists():
        version = json.loads(pj.read_text()).get("version", "")
    out = []
    for e in entries:
        slug = e.get("slug") or _title_to_slug(e["title"])
        svg = pkg_dir / "icons" / f"{slug}.svg"
        if not svg.exists():
            continue
        lic = e.get("license", {}).get("type") if isinstance(e.get("license"), dict) else None
        licence = f"{lic} (per simple-icons data)" if lic else "CC0-1.0 (simple-icons collection)"
        licence += f"; simple-icons {version}; the mark is a trademark of its owner ({e['title']})"
        out.append(
            Icon(slug=slug, title=e["title"], hex=e.get("hex", "000000"), svg=str(svg), licence=licence)
        )
    return sorted(out, key=lambda i: i.slug)


def _title_to_slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]", "", title.lower())


def rasterise(
    icon: Icon, size: int, colour: tuple[int, int, int] | None = None, margin: float = 0.04
) -> Image.Image:
    """Render an icon as an RGBA image whose longer side is ~``size`` px.

    The RGB of every pixel is the logo colour; only alpha carries the shape, so later
    resampling never produces dark fringes. Transparent margins are trimmed to ``margin``.
    """
    alpha = _icon_alpha(icon.svg)
    w, h = alpha.size
    s = size / max(w, h)
    alpha = alpha.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.LANCZOS)
    pad = max(1, round(size * margin))
    out_alpha = Image.new("L", (alpha.width + 2 * pad, alpha.height + 2 * pad), 0)
    out_alpha.paste(alpha, (pad, pad))
    rgb = colour if colour is not None else brand_colour(icon)
    out = Image.new("RGBA", out_alpha.size, (*rgb, 255))
    out.putalpha(out_alpha)
    return out


def _render_alpha(svg_path: str, render_px: int) -> Image.Image:
    """The icon's shape as an alpha mask rendered at ``render_px``, trimmed to its ink."""
    import cairosvg  # imported lazily: the builder reports a missing module clearly

    svg = Path(svg_path).read_text()
    png = cairosvg.svg2png(bytestring=svg.encode(), output_width=render_px, output_height=render_px)
    with Image.open(io.BytesIO(png)) as im:
        alpha = im.convert("RGBA").getchannel("A")
    bbox = alpha.getbbox()
    return alpha.crop(bbox) if bbox else alpha


@functools.lru_cache(maxsize=128)
def _icon_alpha(svg_path: str) -> Image.Image:
    """Cached 512 px mask: logos are pasted many times, SVG parsing is the slow part."""
    return _render_alpha(svg_path, 512)


def brand_colour(icon: Icon) -> tuple[int, int, int]:
    """The icon's brand colour, or near-black when the brand colour is near-white."""
    rgb = hex_to_rgb(icon.hex)
    return (34, 34, 34) if luminance(rgb) > 0.85 else rgb


def icon_quality(icon: Icon) -> dict | None:
    """Cheap shape statistics at 96 px; None when the icon is too plain to be a fair target.

    Rejects near-empty marks, solid blobs (squares/discs) and hairline drawings.
    """
    try:
        mask = _render_alpha(icon.svg, 120)
    except Exception:  # a broken SVG simply is not used
        return None
    s = 96 / max(mask.size)
    mask = mask.resize(
        (max(1, round(mask.width * s)), max(1, round(mask.height * s))), Image.Resampling.LANCZOS
    )
    a = np.asarray(mask, dtype=np.uint8)
    h, w = a.shape
    if min(h, w) < 8:  # extreme aspect ratio (thin wordmarks) after trimming
        return None
    ink = float((a > 127).mean())
    edges = cv2.Canny(a, 50, 150)
    edge_ratio = float((edges > 0).sum()) / (2 * (h + w))  # 1.0 ~= the outline of the box
    if not (0.08 <= ink <= 0.88) or edge_ratio < 1.0:
        return None
    return {"ink": round(ink, 3), "edges": round(edge_ratio, 2), "aspect": round(w / h, 2)}


# ------------------------------------------------------------------------------ pasting


def _local_luma(photo: Image.Image, box: tuple[int, int, int, int]) -> float:
    region = photo.crop(box).convert("L").resize((16, 16), Image.Resampling.BOX)
    return float(np.asarray(region, dtype=np.float32).mean() / 255.0)


def paste_logo(
    photo: Image.Image,
    logo: Image.Image,
    rng: np.random.Generator,
    width_frac: tuple[float, float] = (0.08, 0.35),
    base_colour: tuple[int, int, int] = (0, 0, 0),
) -> tuple[Image.Image, list[int], dict]:
    """Paste ``logo`` (RGBA, one colour) onto ``photo`` the way a listing misuses a mark.

    Logo width is 8-35% of the photo width; random spot; rotation within +-15 degrees; mild
    perspective warp; opacity 0.7-1.0; sometimes recoloured (white/black/other) and
    sometimes on a rounded "sticker plate". Returns the image, the logo's box
    ``[x0, y0, x1, y1]`` in pixels (from the warped logo alpha, plate excluded), and params.
    """
    photo = photo.convert("RGB")
    pw, ph = photo.size
    frac = float(rng.uniform(*width_frac))
    lw = max(12, round(frac * pw))
    lh = max(6, round(logo.height * lw / logo.width))
    if lh > 0.6 * ph:  # tall marks: cap the height, keep the aspect
        lh = round(0.6 * ph)
        lw = max(12, round(logo.width * lh / logo.height))
    alpha = logo.getchannel("A").resize((lw, lh), Image.Resampling.LANCZOS)

    angle = float(rng.uniform(-15, 15))
    jitter = float(rng.uniform(0.0, 0.08))  # perspective: corner shift, fraction of size
    opacity = float(rng.uniform(0.7, 1.0))
    plate = rng.random() < 0.3
    recolour = str(rng.choice(["none", "white", "black", "other"], p=[0.55, 0.15, 0.15, 0.15]))

    # position first (needed to pick a colour that stays visible on the local background)
    diag = int(np.ceil(np.hypot(lw, lh) * (1 + jitter))) + 8
    pad_x, pad_y = max(0, pw - diag), max(0, ph - diag)
    ox, oy = int(rng.integers(0, pad_x + 1)), int(rng.integers(0, pad_y + 1))
    luma = _local_luma(photo, (ox, oy, min(pw, ox + diag), min(ph, oy + diag)))

    if recolour == "white":
        colour = (255, 255, 255)
    elif recolour == "black":
        colour = (0, 0, 0)
    elif recolour == "other":
        hue = float(rng.uniform(0, 1))
        colour = tuple(
            int(c) for c in cv2.cvtColor(np.uint8([[[int(hue * 179), 220, 230]]]), cv2.COLOR_HSV2RGB)[0, 0]
        )
    else:
        colour = base_colour
    plate_colour = None
    if plate or abs(luminance(colour) - luma) < 0.2:
        # plate in a colour contrasting with the logo; forced when the logo would vanish
        plate = True
        plate_colour = (255, 255, 255) if luminance(colour) < 0.55 else (25, 25, 28)
        if rng.random() < 0.3:
            plate_colour = tuple(
                int(c) for c in np.clip(np.array(plate_colour) * 0.85 + rng.integers(0, 40, 3), 0, 255)
            )

    # build the patch: RGB defined everywhere (no fringes), alpha = plate or logo
    m = round(0.18 * max(lw, lh)) if plate else 2
    cw, ch = lw + 2 * m, lh + 2 * m
    logo_a = Image.new("L", (cw, ch), 0)
    logo_a.paste(alpha, (m, m))
    la = np.asarray(logo_a, dtype=np.float32) / 255.0
    if plate:
        plate_a = Image.new("L", (cw, ch), 0)
        ImageDraw.Draw(plate_a).rounded_rectangle(
            [0, 0, cw - 1, ch - 1], radius=round(0.25 * min(cw, ch)), fill=255
        )
        pa = np.asarray(plate_a, dtype=np.float32) / 255.0
        rgb = (
            np.array(plate_colour, np.float32) * (1 - la[..., None])
            + np.array(colour, np.float32) * la[..., None]
        )
        patch_a = np.maximum(pa, la)
    else:
        rgb = np.broadcast_to(np.array(colour, np.float32), (ch, cw, 3))
        patch_a = la

    # rotation + perspective as one homography, mapping into a canvas at (ox, oy)
    c = np.float32([[0, 0], [cw, 0], [cw, ch], [0, ch]])
    centre = c.mean(axis=0)
    t = np.deg2rad(angle)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]], np.float32)
    dst = (c - centre) @ rot.T + centre
    dst += rng.uniform(-jitter, jitter, size=(4, 2)).astype(np.float32) * np.float32([cw, ch])
    dst -= dst.min(axis=0)
    H = cv2.getPerspectiveTransform(c, dst.astype(np.float32))
    out_w, out_h = int(np.ceil(dst[:, 0].max())) + 1, int(np.ceil(dst[:, 1].max())) + 1
    out_w, out_h = min(out_w, pw), min(out_h, ph)
    ox, oy = min(ox, pw - out_w), min(oy, ph - out_h)

    def warp(a: np.ndarray) -> np.ndarray:
        return cv2.warpPerspective(
            a, H, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )

    w_rgb = warp(np.ascontiguousarray(rgb))
    w_a = warp(patch_a.astype(np.float32)) * opacity
    w_logo = warp(la.astype(np.float32))
    soften = float(rng.choice([0.0, 0.0, 0.6, 1.0]))
    if soften:  # slight defocus so edges are not razor sharp
        w_a = cv2.GaussianBlur(w_a, (0, 0), soften)
        w_rgb = cv2.GaussianBlur(w_rgb, (0, 0), soften)

    base = np.asarray(photo, dtype=np.float32).copy()
    region = base[oy : oy + out_h, ox : ox + out_w]
    region[:] = region * (1 - w_a[..., None]) + w_rgb * w_a[..., None]
    out = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))

    ys, xs = np.nonzero(w_logo > 0.5)
    if len(xs):
        box = [int(ox + xs.min()), int(oy + ys.min()), int(ox + xs.max() + 1), int(oy + ys.max() + 1)]
    else:
        box = [ox, oy, ox + out_w, oy + out_h]
    params = {
        "width_frac": round(lw / pw, 3),
        "angle": round(angle, 1),
        "perspective": round(jitter, 3),
        "opacity": round(opacity, 2),
        "recolour": recolour,
        "colour": list(colour),
        "plate": bool(plate),
        "plate_colour": list(plate_colour) if plate_colour else None,
        "soften": soften,
    }
    return out, box, params
