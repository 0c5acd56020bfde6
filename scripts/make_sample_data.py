"""Build the small sample set under ``samples/`` used by the README quickstart.

Photos are scikit-image's bundled data (CC0 / public domain, see samples/LICENSES.md);
the "Northwind" logo is drawn here. The output is committed, so users need nothing else;
rerun this only to change the samples (needs the ``bench`` extra for scikit-image).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage import data

ROOT = Path(__file__).resolve().parents[1] / "samples"


def _save(img: Image.Image, path: Path, **kw: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kw)
    print(f"wrote {path.relative_to(ROOT.parent)} ({path.stat().st_size // 1024} KB)")


def northwind_logo(size: int = 360) -> Image.Image:
    """A one-colour compass-star mark with a ring, on transparency."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    c, colour = size / 2, (20, 60, 140, 255)
    d.ellipse([size * 0.08, size * 0.08, size * 0.92, size * 0.92], outline=colour, width=int(size * 0.05))
    pts = []
    for i in range(16):
        r = size * (0.40 if i % 4 == 0 else 0.22 if i % 2 == 0 else 0.11)
        a = math.pi / 2 - i * math.pi / 8
        pts.append((c + r * math.cos(a), c - r * math.sin(a)))
    d.polygon(pts, fill=colour)
    d.rectangle([c - size * 0.03, c - size * 0.03, c + size * 0.03, c + size * 0.03], fill=(0, 0, 0, 0))
    return img


def paste(base: np.ndarray, overlay: Image.Image, box_xy: tuple[int, int]) -> Image.Image:
    """Alpha-paste ``overlay`` onto ``base`` at ``box_xy``."""
    out = Image.fromarray(base).convert("RGBA")
    out.alpha_composite(overlay, box_xy)
    return out.convert("RGB")


def main() -> None:
    """Write catalogue shots, the logo and the listings."""
    left, right, _ = data.stereo_motorcycle()
    cat = {
        "astronaut": data.astronaut(),
        "coffee": data.coffee(),
        "rocket": data.rocket(),
        "motorcycle": left,
    }
    for name, arr in cat.items():
        _save(Image.fromarray(arr), ROOT / "catalogue" / f"{name}.jpg", quality=90)
    logo = northwind_logo()
    _save(logo, ROOT / "logos" / "northwind.png")

    font = ImageFont.load_default(size=34)
    listings = ROOT / "listings"
    # 1. Cropped catalogue shot with a sales caption.
    astro = Image.fromarray(data.astronaut()).crop((60, 40, 470, 480))
    ImageDraw.Draw(astro).text((20, 380), "SALE -70% ONLY TODAY", fill=(255, 255, 0), font=font)
    _save(astro, listings / "copy_cropped_with_caption.jpg", quality=80)
    # 2. Mirrored shot inside a phone screenshot frame.
    coffee = Image.fromarray(data.coffee()[:, ::-1]).resize((480, 320))
    frame = Image.new("RGB", (560, 760), (245, 245, 245))
    d = ImageDraw.Draw(frame)
    d.rectangle([0, 0, 560, 70], fill=(30, 30, 30))
    d.text((20, 18), "12:41   shop.example", fill=(255, 255, 255), font=font)
    frame.paste(coffee, (40, 140))
    d.text((40, 500), "Espresso cup set", fill=(20, 20, 20), font=font)
    _save(frame, listings / "copy_mirrored_screenshot.jpg", quality=85)
    # 3. Product shot pasted onto another photo.
    rocket = Image.fromarray(data.rocket()).resize((380, 254))
    bg = Image.fromarray(data.immunohistochemistry()).resize((640, 640))
    bg.paste(rocket, (140, 300))
    _save(bg, listings / "copy_pasted_on_background.jpg", quality=85)
    # 4. The logo, small and rotated, on an unrelated photo.
    mark = logo.resize((120, 120), Image.Resampling.LANCZOS).rotate(
        12, expand=True, resample=Image.Resampling.BICUBIC
    )
    _save(paste(data.chelsea(), mark, (300, 40)), listings / "logo_on_photo.jpg", quality=88)
    # 5. Another photo of a registered subject (a different camera view): must stay clean.
    _save(Image.fromarray(right), listings / "clean_other_view_of_motorcycle.jpg", quality=90)
    # 6. An unrelated photo.
    _save(Image.fromarray(data.hubble_deep_field()), listings / "clean_unrelated.jpg", quality=88)
    # 7. The brand's name, misspelt with a look-alike digit, on an unrelated photo (found with --ocr).
    retina = Image.fromarray(data.retina()).resize((640, 640))
    d = ImageDraw.Draw(retina)
    d.rectangle([40, 520, 600, 600], fill=(250, 250, 250))
    d.text((60, 530), "N0RTHWIND outlet -60%", fill=(20, 20, 120), font=ImageFont.load_default(size=48))
    _save(retina, listings / "wordmark_misspelt.jpg", quality=88)


if __name__ == "__main__":
    main()
