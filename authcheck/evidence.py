"""Evidence images: a flagged listing beside the reference it matched, with the match drawn.

The listing (left) and the reference (right) are scaled to one height; the matched region
is outlined on the listing (projected reference corners, else the box) and matched
keypoint pairs are joined by lines. Coordinates follow the result JSON: outlines, boxes
and listing points in original listing pixels, reference points in original reference
pixels; both are mapped onto the stored copies, whatever their size.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from index.catalogue import Catalogue, Reference

PANEL_HEIGHT = 420
MAX_PANEL_WIDTH = 720
MAX_LINES = 60
GAP = 16
HEADER = 60
_BG = (250, 250, 250)
_INK = (30, 30, 30)
_OUTLINE = (230, 30, 60)
_PALETTE = [(0, 160, 255), (255, 170, 0), (40, 200, 90), (200, 80, 255), (255, 90, 160), (0, 200, 200)]


@dataclass
class Panel:
    """One side of the evidence: a stored image and the size its coordinates refer to."""

    image: Image.Image | None  # the stored copy, RGB, or None when it is missing
    coord_size: tuple[int, int]  # (width, height) that match coordinates are expressed in
    title: str

    def layout(self, height: int, max_width: int) -> tuple[float, int, int]:
        """(scale from coordinate pixels to panel pixels, panel width, panel height)."""
        cw, ch = (max(1, v) for v in self.coord_size)
        scale = min(height / ch, max_width / cw)
        return scale, max(1, round(cw * scale)), max(1, round(ch * scale))


def open_rgb(path: Path) -> Image.Image | None:
    """An image file as RGB (transparency flattened onto white), or None if missing or unreadable."""
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("RGBA", "LA", "P"):
                rgba = img.convert("RGBA")
                base = Image.new("RGB", rgba.size, (255, 255, 255))
                base.paste(rgba, mask=rgba.getchannel("A"))
                return base
            return img.convert("RGB")
    except (OSError, ValueError):
        return None


def _inside(home: Path, rel: str | None) -> Path | None:
    """``home/rel`` if it stays inside ``home``."""
    if not rel:
        return None
    path = (home / rel).resolve()
    return path if path.is_relative_to(home.resolve()) else None


def listing_panel(home: Path, screening: dict) -> Panel:
    """The listing side of a screening's evidence."""
    path = _inside(home, screening.get("listing_path"))
    image = open_rgb(path) if path else None
    result = screening.get("result") or {}
    size = (int(result.get("width") or 0), int(result.get("height") or 0))
    if not all(size):
        size = image.size if image else (PANEL_HEIGHT, PANEL_HEIGHT)
    seller = screening.get("seller_id") or "unknown seller"
    return Panel(image, size, f"Listing: {screening.get('image', '')} ({seller})")


def reference_panel(home: Path, ref: Reference | None, match: dict) -> Panel:
    """The reference side; a placeholder when the reference has been removed since."""
    if ref is None:
        return Panel(None, (PANEL_HEIGHT, PANEL_HEIGHT), f"Reference #{match.get('reference_id')} (removed)")
    path = _inside(home, ref.stored_path)
    image = open_rgb(path) if path else None
    title = f"Reference #{ref.id}: {ref.brand} / {Path(ref.source).name}"
    return Panel(image, (ref.width, ref.height), title)


def wordmark_panel(match: dict) -> Panel:
    """The "reference" side of a wordmark match: the registered text and what was read."""
    width, height = 560, PANEL_HEIGHT
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.text((20, 40), "registered wordmark", fill=(90, 90, 90), font=_font(16))
    draw.text((20, 70), str(match.get("source", ""))[:40], fill=_INK, font=_font(40))
    draw.text((20, 180), "read in the listing", fill=(90, 90, 90), font=_font(16))
    draw.text((20, 210), str(match.get("text", ""))[:40], fill=_OUTLINE, font=_font(40))
    return Panel(image, (width, height), f"Wordmark of {match.get('brand', '?')}")


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _paste(canvas: Image.Image, panel: Panel, origin: tuple[int, int], size: tuple[int, int]) -> None:
    draw = ImageDraw.Draw(canvas)
    if panel.image is None:
        draw.rectangle([origin, (origin[0] + size[0] - 1, origin[1] + size[1] - 1)], fill=(225, 225, 225))
        draw.text((origin[0] + 10, origin[1] + 10), "image not available", fill=_INK, font=_font(14))
        return
    canvas.paste(panel.image.resize(size, Image.Resampling.LANCZOS), origin)


def match_caption(match: dict) -> str:
    """One line with the match's verdict and scores."""
    parts = [f"verdict {match.get('verdict', '?')}", f"score {match.get('score', 0):.3f}"]
    if match.get("similarity") is not None:
        parts.append(f"similarity {match['similarity']:.3f}")
    if match.get("inliers"):
        parts.append(f"{match['inliers']} inliers")
    if match.get("ncc") is not None:
        parts.append(f"NCC {match['ncc']:.2f}")
    if match.get("mirrored"):
        parts.append("mirrored")
    if match.get("text"):
        parts.append(f"read {match['text']!r}")
    parts.append(f"signal {match.get('signal', '?')}")
    return ", ".join(parts)


def render_evidence(listing: Panel, reference: Panel, match: dict, height: int = PANEL_HEIGHT) -> Image.Image:
    """Listing and reference side by side, the matched region outlined and keypoint pairs joined."""
    ls, lw, lh = listing.layout(height, MAX_PANEL_WIDTH)
    rs, rw, rh = reference.layout(height, MAX_PANEL_WIDTH)
    width, total_h = lw + GAP + rw, HEADER + max(lh, rh)
    canvas = Image.new("RGB", (width, total_h), _BG)
    lo, ro = (0, HEADER), (lw + GAP, HEADER)
    _paste(canvas, listing, lo, (lw, lh))
    _paste(canvas, reference, ro, (rw, rh))

    canvas = canvas.convert("RGBA")
    # The matched region, clipped to the listing panel (a cropped copy's outline runs past its edges).
    region = Image.new("RGBA", (lw, lh), (0, 0, 0, 0))
    outline, box = match.get("outline"), match.get("box")
    rdraw = ImageDraw.Draw(region)
    if outline and len(outline) >= 3:
        pts = [(x * ls, y * ls) for x, y in outline]
        rdraw.line([*pts, pts[0]], fill=(*_OUTLINE, 255), width=3, joint="curve")
    elif box:
        rdraw.rectangle(
            [box[0] * ls, box[1] * ls, box[2] * ls, box[3] * ls], outline=(*_OUTLINE, 255), width=3
        )
    canvas.alpha_composite(region, dest=lo)
    # Keypoint pairs: a line from each listing point to its reference point.
    lines = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(lines)
    pairs = match.get("pairs") or []
    step = max(1, len(pairs) // MAX_LINES)
    for n, pair in enumerate(pairs[::step][:MAX_LINES]):
        (rx, ry), (lx, ly) = pair
        colour = (*_PALETTE[n % len(_PALETTE)], 190)
        a = (lo[0] + lx * ls, lo[1] + ly * ls)
        b = (ro[0] + rx * rs, ro[1] + ry * rs)
        draw.line([a, b], fill=colour, width=1)
        for x, y in (a, b):
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], outline=colour, width=2)
    canvas = Image.alpha_composite(canvas, lines).convert("RGB")

    text = ImageDraw.Draw(canvas)
    font, small = _font(14), _font(12)
    text.text((6, 4), match_caption(match), fill=_INK, font=font)
    if match.get("kind") == "wordmark":
        note = "region: the line of text outlined in red (OCR)"
    elif not outline and not box:
        note = "region: whole image (global descriptor match, no keypoint geometry)"
    else:
        note = f"region: outlined in red; {len(pairs)} matched keypoint pair(s)"
    text.text((6, 23), note, fill=(90, 90, 90), font=small)
    text.text((lo[0] + 2, HEADER - 16), listing.title[: lw // 7], fill=_INK, font=small)
    text.text((ro[0] + 2, HEADER - 16), reference.title[: rw // 7], fill=_INK, font=small)
    return canvas


def to_png(image: Image.Image) -> bytes:
    """PNG bytes of an image."""
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def top_matches(screening: dict, limit: int = 3) -> list[dict]:
    """The matches worth showing: decided ones (copy, logo_*, ...) in stored order, else the top candidate."""
    matches = list((screening.get("result") or {}).get("matches") or [])
    decided = [m for m in matches if m.get("verdict") not in ("candidate", "clean")]
    return (decided or matches[:1])[:limit]


def find_match(screening: dict, reference_id: int | None) -> dict | None:
    """The screening's match against ``reference_id`` (its top match when None)."""
    if reference_id is None:
        shown = top_matches(screening, limit=1)
        return shown[0] if shown else None
    matches = (screening.get("result") or {}).get("matches") or []
    return next((m for m in matches if m.get("reference_id") == reference_id), None)


def match_at(screening: dict, index: int) -> dict | None:
    """The screening's ``index``-th match (wordmark matches have no reference id to find them by)."""
    matches = (screening.get("result") or {}).get("matches") or []
    return matches[index] if 0 <= index < len(matches) else None


def reference_ids(matches: list[dict]) -> list[int]:
    """Ids of the references behind ``matches`` (wordmark matches have none)."""
    return [int(m["reference_id"]) for m in matches if m.get("reference_id") is not None]


def case_evidence(home: Path, catalogue: Catalogue, screening: dict, match: dict) -> Image.Image:
    """The evidence image of one match of a stored screening."""
    if match.get("reference_id") is None:
        other = wordmark_panel(match)
    else:
        other = reference_panel(home, catalogue.get_reference(int(match["reference_id"])), match)
    return render_evidence(listing_panel(home, screening), other, match)


def case_evidence_png(
    home: Path, catalogue: Catalogue, screening: dict, reference_id: int | None = None
) -> bytes:
    """PNG evidence of a stored screening's match with ``reference_id`` (its top match when None).

    Raises LookupError when the screening has no such match.
    """
    match = find_match(screening, reference_id)
    if match is None:
        raise LookupError(f"screening {screening.get('id')} has no match with reference {reference_id}")
    return to_png(case_evidence(home, catalogue, screening, match))


__all__ = [
    "Panel",
    "case_evidence",
    "case_evidence_png",
    "find_match",
    "listing_panel",
    "match_at",
    "match_caption",
    "reference_ids",
    "reference_panel",
    "render_evidence",
    "to_png",
    "top_matches",
    "wordmark_panel",
]
