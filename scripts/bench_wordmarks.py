"""Benchmark of wordmark finding by OCR (``screen --ocr``): recall, false positives, time per image.

Builds its queries from a set made by ``scripts/make_benchmark.py``: the set's unseen clean
photos are the backgrounds; on each, one line of text is drawn (DejaVu fonts, 28-72 px,
dark or light, on a plain band or straight on the photo, tilted up to 6 degrees):

* ``exact``: a brand's registered wordmark as written, or in upper/lower case;
* ``misspelt``: the wordmark with one counterfeiter's edit (a doubled letter, a vowel swapped,
  a look-alike digit such as 1 for i or 0 for o, or a letter dropped from a long mark);
* ``control``: ordinary listing text ("SALE", "Free shipping", ...), which must not match.

Every query is screened through the real app with OCR on, and the script prints recall per
kind (the right brand's wordmark found), the control false-positive rate, wrong-brand hits,
and milliseconds per image (wall clock and CPU of the OCR stage).

    python scripts/bench_wordmarks.py /tmp/bench-dev --limit 120
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from authcheck.app import Authcheck  # noqa: E402

FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf",
]
CONTROL = [
    "SALE",
    "Free shipping",
    "DM for price",
    "Brand new in box",
    "Limited offer",
    "Only $19.99",
    "Original packaging",
    "Buy 2 get 1 free",
    "Nice quality",
    "Best seller",
]
LOOKALIKE = {"i": "1", "l": "1", "o": "0", "e": "3", "s": "5", "a": "@"}


def misspell(word: str, rng: random.Random) -> str:
    """One counterfeiter's edit of ``word`` (a doubled letter, a vowel swap, a look-alike, a drop)."""
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    kinds = ["double", "vowel", "lookalike"] + (["drop"] if len(word) >= 8 else [])
    for _ in range(20):
        kind = rng.choice(kinds)
        i = rng.choice(letters)
        c = word[i]
        if kind == "double":
            return word[: i + 1] + c + word[i + 1 :]
        if kind == "vowel" and c.lower() in "aeiou":
            new = rng.choice([v for v in "aeiou" if v != c.lower()])
            return word[:i] + (new.upper() if c.isupper() else new) + word[i + 1 :]
        if kind == "lookalike" and c.lower() in LOOKALIKE:
            return word[:i] + LOOKALIKE[c.lower()] + word[i + 1 :]
        if kind == "drop":
            return word[:i] + word[i + 1 :]
    return word + word[-1]


def _font(rng: random.Random, size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    fonts = [f for f in FONTS if Path(f).is_file()]
    return ImageFont.truetype(rng.choice(fonts), size) if fonts else ImageFont.load_default(size=size)


def draw_text(photo: Image.Image, text: str, rng: random.Random) -> Image.Image:
    """``photo`` with one line of ``text`` drawn at a random place, size, colour and slight tilt."""
    w, h = photo.size
    size = rng.randint(28, 72)
    font = _font(rng, size)
    box = ImageDraw.Draw(photo).textbbox((0, 0), text, font=font)
    tw, th = box[2] - box[0] + 24, box[3] - box[1] + 24
    layer = Image.new("RGBA", (tw, th), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    dark = rng.random() < 0.5
    if rng.random() < 0.5:  # on a plain band
        draw.rectangle([0, 0, tw, th], fill=(250, 250, 250, 230) if dark else (20, 20, 20, 210))
    ink = (rng.randint(0, 60),) * 3 if dark else (rng.randint(200, 255),) * 3
    draw.text((12 - box[0], 12 - box[1]), text, font=font, fill=(*ink, 255))
    layer = layer.rotate(rng.uniform(-6, 6), expand=True, resample=Image.Resampling.BICUBIC)
    if layer.width >= w or layer.height >= h:
        layer = layer.resize((min(layer.width, w - 2), min(layer.height, h - 2)))
    x, y = rng.randint(0, w - layer.width), rng.randint(0, h - layer.height)
    out = photo.convert("RGBA")
    out.alpha_composite(layer, (x, y))
    return out.convert("RGB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, help="folder with manifest.json (from make_benchmark.py)")
    ap.add_argument("--limit", type=int, default=120, help="number of queries (a third of each kind)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    args = ap.parse_args()

    manifest = json.loads((args.data / "manifest.json").read_text())
    backgrounds = [q["file"] for q in manifest["queries"] if q.get("clean_kind") == "unseen"]
    marks = [(b["name"], m) for b in manifest["brands"] for m in b.get("wordmarks", [])]
    if not backgrounds or not marks:
        print("the set has no unseen clean photos or no wordmarks", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="authcheck-wordmarks-") as tmp:
        home, qdir = Path(tmp) / "home", Path(tmp) / "queries"
        qdir.mkdir()
        queries = []
        for n in range(args.limit):
            kind = ("exact", "misspelt", "control")[n % 3]
            brand, mark = rng.choice(marks)
            if kind == "exact":
                text = rng.choice([mark, mark.upper(), mark.lower()])
            elif kind == "misspelt":
                text = misspell(rng.choice([mark, mark.upper()]), rng)
            else:
                brand, text = None, rng.choice(CONTROL)
            photo = Image.open(args.data / backgrounds[n % len(backgrounds)]).convert("RGB")
            path = qdir / f"w{n:04d}.jpg"
            draw_text(photo, text, rng).save(path, quality=90)
            queries.append({"file": str(path), "kind": kind, "brand": brand, "text": text})

        app = Authcheck(home)
        for b in manifest["brands"]:
            app.add_brand(b["name"], b.get("authorised_sellers", []), b.get("wordmarks", []))
        app.screen_one("warm-up", queries[0]["file"], record=False, ocr=True)  # load the OCR models
        found: dict[str, list[bool]] = defaultdict(list)
        wrong = 0
        ocr_ms: list[float] = []
        misses: list[str] = []
        start, cpu = time.perf_counter(), time.process_time()
        stream = [(q["file"], q["file"]) for q in queries]
        for q, r in zip(queries, app.screen(stream, record=False, ocr=True), strict=True):
            hits = [m for m in r.matches if m.kind == "wordmark"]
            ocr_ms.append(r.timings_ms.get("ocr", 0.0))
            if q["kind"] == "control":
                found["control"].append(bool(hits))
                continue
            ok = any(m.brand == q["brand"] for m in hits)
            found[q["kind"]].append(ok)
            wrong += any(m.brand != q["brand"] for m in hits)
            if not ok:
                misses.append(q["text"])
        wall = (time.perf_counter() - start) / len(queries) * 1e3
        cpu_ms = (time.process_time() - cpu) / len(queries) * 1e3
        app.close()
    report = {
        "queries": {k: len(v) for k, v in found.items()},
        "recall_exact": round(float(np.mean(found["exact"])), 3),
        "recall_misspelt": round(float(np.mean(found["misspelt"])), 3),
        "control_false_positive_rate": round(float(np.mean(found["control"])), 3),
        "wrong_brand_hits": wrong,
        "ms_per_image": {
            "wall": round(wall, 1),
            "cpu": round(cpu_ms, 1),
            "ocr_median": round(statistics.median(ocr_ms), 1),
        },
        "missed_texts": misses[:20],
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for k, v in report.items():
            print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
