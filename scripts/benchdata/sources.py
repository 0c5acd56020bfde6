"""Finding the benchmark's source images, their licences, and loading their pixels.

Sources (all from package registries, see ``scripts/install_bench_sources.sh``):

* Debian wallpapers: ``plasma-workspace-wallpapers``, ``mate-backgrounds``,
  ``lomiri-wallpapers*``. Licences are read from ``/usr/share/doc/<pkg>/copyright`` (DEP-5).
* Debian ``tuxpaint-stamps-default``: photo cut-outs (RGBA PNG), GPL-2, grouped in
  category folders.
* ``skimage.data`` sample images (licence from each loader's docstring).
* scikit-learn sample images ``china.jpg`` / ``flower.jpg`` (CC-BY-2.0, per its README).

Every source has a ``group``: the unit that is assigned to one split as a whole. Variants
of one picture (resolutions, dark/colour variants, mirrored stamps, a stereo pair) share a
group, so no split ever holds a copy of a picture used by the other.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .common import to_rgb

Image.MAX_IMAGE_PIXELS = 200_000_000  # the largest wallpapers are ~18 MP

WALLPAPER_PACKAGES = ("plasma-workspace-wallpapers", "mate-backgrounds")
STAMPS_DIR = Path("/usr/share/tuxpaint/stamps")
DPKG_INFO = Path("/var/lib/dpkg/info")
DOC_DIR = Path("/usr/share/doc")
IMAGE_EXTS = (".jpg", ".jpeg", ".png")
MIN_STAMP_SIDE = 100  # smaller stamps would be upscaled more than ~3.5x in a product shot
WORK_LONG_SIDE = 2560  # working resolution for wallpapers


@dataclass(frozen=True)
class Source:
    """One source picture.

    ``key`` is unique and human readable; ``group`` is the split/role unit; ``subject``
    names what it shows (stamp object, wallpaper scene); ``category`` is the stamp folder
    or wallpaper collection.
    """

    key: str
    kind: str  # "wallpaper" | "stamp" | "skimage" | "sklearn"
    group: str
    path: str | None
    package: str
    licence: str
    category: str
    subject: str
    size: tuple[int, int] = (0, 0)


# --------------------------------------------------------------------------- licences


def parse_dep5(path: Path) -> list[tuple[list[str], str, str]]:
    """Parse a DEP-5 copyright file into ``[(file patterns, copyright, licence), ...]``."""
    stanzas: list[tuple[list[str], str, str]] = []
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return stanzas
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, list[str]] = {}
        current = None
        for line in block.splitlines():
            if line[:1] in (" ", "\t"):
                if current:
                    fields[current].append(line.strip())
                continue
            m = re.match(r"([A-Za-z-]+):\s*(.*)", line)
            if m:
                current = m.group(1).lower()
                fields[current] = [m.group(2).strip()] if m.group(2).strip() else []
        if "files" in fields and "license" in fields:
            patterns = " ".join(fields["files"]).split()
            copyright_ = "; ".join(x for x in fields.get("copyright", []) if x)
            licence = fields["license"][0] if fields["license"] else ""
            stanzas.append((patterns, copyright_, licence))
    return stanzas


def licence_for(package: str, installed_path: str) -> str:
    """Licence of an installed file according to its package's DEP-5 copyright file.

    DEP-5 patterns are relative to the upstream source tree, so a pattern matches when it
    matches a suffix of the installed path; the last matching stanza wins, as in DEP-5.
    """
    stanzas = parse_dep5(DOC_DIR / package / "copyright")
    parts = Path(installed_path).parts
    best = None
    for patterns, copyright_, licence in stanzas:
        for pat in patterns:
            n = pat.count("/") + 1
            tail = "/".join(parts[-n:])
            # upstream folders are not always kept on install (lomiri: 16.04/x.jpg is
            # installed as backgrounds/x.jpg), so a file-name match counts as well
            if (
                pat == "*"
                or fnmatch.fnmatch(tail, pat)
                or ("/" in pat and fnmatch.fnmatch(parts[-1], pat.rsplit("/", 1)[1]))
            ):
                best = (licence, copyright_)
    if best is None:
        return f"see /usr/share/doc/{package}/copyright"
    licence, copyright_ = best
    return f"{licence} ({copyright_}; Debian package {package})" if copyright_ else licence


# --------------------------------------------------------------------------- discovery


def _package_files(package: str) -> list[str]:
    """Files installed by a Debian package (from dpkg's file lists; [] if not installed)."""
    for name in (f"{package}.list", f"{package}:all.list", f"{package}:amd64.list"):
        p = DPKG_INFO / name
        if p.exists():
            return [ln.strip() for ln in p.read_text(errors="replace").splitlines() if ln.strip()]
    return []


def installed_lomiri_packages() -> list[str]:
    """Names of installed ``lomiri-wallpapers*`` packages."""
    names = sorted(
        {p.name.split(".list")[0].split(":")[0] for p in DPKG_INFO.glob("lomiri-wallpapers*.list")}
    )
    return names


def _size_from_name(path: str) -> int:
    m = re.search(r"(\d+)x(\d+)", Path(path).stem)
    return int(m.group(1)) * int(m.group(2)) if m else 0


def _pick_variant(paths: list[str]) -> str:
    """Pick one file of a wallpaper scene: landscape, long side nearest above 2560 px."""
    best, best_score = paths[0], None
    for p in paths:
        try:
            with Image.open(p) as im:
                w, h = im.size
        except OSError:
            continue
        long_side = max(w, h)
        # prefer landscape, then the smallest file that still covers the working size
        score = (
            w >= h,
            long_side >= WORK_LONG_SIDE,
            -long_side if long_side >= WORK_LONG_SIDE else long_side,
        )
        if best_score is None or score > best_score:
            best, best_score = p, score
    return best


def _mate_scene(stem: str) -> str:
    stem = re.sub(r"_\d+x\d+$", "", stem)
    if stem.startswith("Ubuntu-Mate-"):
        return "Ubuntu-Mate"  # colour variants of one picture
    if "Stripes" in stem:
        return "Stripes"  # dark/light variants of one design
    return stem


def discover_wallpapers() -> list[Source]:
    """One Source per wallpaper scene (variants collapsed), with its DEP-5 licence."""
    scenes: dict[tuple[str, str], list[str]] = {}
    packages = list(WALLPAPER_PACKAGES) + installed_lomiri_packages()
    seen_real: set[str] = set()
    for pkg in packages:
        for f in _package_files(pkg):
            if not f.lower().endswith(IMAGE_EXTS) or not Path(f).is_file():
                continue
            real = str(Path(f).resolve())
            if real in seen_real:
                continue  # symlinked duplicates (e.g. lomiri-default-background.png)
            p = Path(f)
            if pkg == "plasma-workspace-wallpapers":
                # /usr/share/wallpapers/<Scene>/contents/images/WxH.ext; skip screenshots and
                # the dark variants (recoloured copies of the same picture)
                if "contents" not in p.parts or p.parent.name != "images":
                    continue
                scene = p.parts[p.parts.index("contents") - 1]
                family = "plasma"
            elif pkg == "mate-backgrounds":
                scene, family = _mate_scene(p.stem), "mate"
            else:
                scene, family = p.stem, "lomiri"
            seen_real.add(real)
            scenes.setdefault((family, scene), []).append(f)
    out = []
    for (family, scene), paths in sorted(scenes.items()):
        chosen = _pick_variant(sorted(paths, key=_size_from_name))
        pkg = next(pk for pk in packages if chosen in _package_files_cached(pk))
        with Image.open(chosen) as im:
            size = im.size
        out.append(
            Source(
                key=f"wallpaper:{family}/{scene}",
                kind="wallpaper",
                group=f"wallpaper:{family}/{scene}",
                path=chosen,
                package=pkg,
                licence=licence_for(pkg, chosen),
                category=family,
                subject=scene,
                size=size,
            )
        )
    return out


_PKG_FILES_CACHE: dict[str, set[str]] = {}


def _package_files_cached(pkg: str) -> set[str]:
    if pkg not in _PKG_FILES_CACHE:
        _PKG_FILES_CACHE[pkg] = set(_package_files(pkg))
    return _PKG_FILES_CACHE[pkg]


def stamp_object_key(stem: str) -> str:
    """Object name of a stamp file: ``apple_red`` -> ``apple``, ``t_shirt`` -> ``shirt``.

    Mirrored copies (``*_mirror``) and numbered variants collapse onto one key.
    """
    s = stem.lower()
    s = re.sub(r"[_-]?mirror$", "", s)
    tokens = [t for t in re.split(r"[^a-z]+", s) if t]
    if not tokens:
        return s
    if len(tokens[0]) <= 1 and len(tokens) > 1:
        return tokens[1]
    return tokens[0]


def discover_stamps(stamps_dir: Path = STAMPS_DIR) -> list[Source]:
    """Photo stamps (no cartoons or symbols) at least MIN_STAMP_SIDE px on the long side."""
    if not stamps_dir.is_dir():
        return []
    licence = licence_for("tuxpaint-stamps-default", str(stamps_dir / "x.png"))
    out = []
    for p in sorted(stamps_dir.rglob("*.png")):
        rel = p.relative_to(stamps_dir)
        if "cartoon" in rel.parts or rel.parts[0] == "symbols":
            continue
        try:
            with Image.open(p) as im:
                size = im.size
        except OSError:
            continue
        if max(size) < MIN_STAMP_SIDE:
            continue
        folder = str(rel.parent)
        obj = stamp_object_key(p.stem)
        out.append(
            Source(
                key=f"stamp:{rel.with_suffix('')}",
                kind="stamp",
                group=f"stamp:{folder}/{obj}",
                path=str(p),
                package="tuxpaint-stamps-default",
                licence=licence,
                category=folder,
                subject=obj,
                size=size,
            )
        )
    return out


# skimage.data images worth using as photos: (loader, role hint). "ref" images may be
# registered; "unseen" ones (textures, scans) only appear as never-registered photos.
SKIMAGE_IMAGES: dict[str, str] = {
    "astronaut": "ref",
    "camera": "ref",
    "chelsea": "ref",
    "clock": "ref",
    "coffee": "ref",
    "coins": "ref",
    "hubble_deep_field": "ref",
    "immunohistochemistry": "ref",
    "moon": "ref",
    "retina": "ref",
    "rocket": "ref",
    "motorcycle_left": "ref",
    "motorcycle_right": "same",
    "brick": "unseen",
    "grass": "unseen",
    "gravel": "unseen",
    "cell": "unseen",
    "page": "unseen",
    "text": "unseen",
}

_SKIMAGE_FALLBACK_LICENCE = "BSD-3-Clause (scikit-image distribution; no image-specific licence stated)"


def _skimage_licence(name: str) -> str:
    data = importlib.import_module("skimage.data")
    fn = getattr(data, "stereo_motorcycle" if name.startswith("motorcycle") else name)
    doc = " ".join((fn.__doc__ or "").split())
    if name.startswith("motorcycle"):
        return (
            "Middlebury 2014 stereo dataset (Scharstein et al.), shipped in scikit-image "
            "(BSD-3-Clause); no image-specific licence stated"
        )
    for pat, lic in (
        (r"CC0", "CC0-1.0"),
        (r"public domain", "Public domain"),
        (r"No (known )?copyright restrictions", "No known copyright restrictions (public domain)"),
    ):
        if re.search(pat, doc, re.I):
            return f"{lic} (per skimage.data.{name} docstring)"
    return _SKIMAGE_FALLBACK_LICENCE


def discover_skimage() -> list[Source]:
    """skimage.data sample images available offline (empty list if scikit-image is missing)."""
    try:
        data = importlib.import_module("skimage.data")
    except ImportError:
        return []
    out: list[Source] = []
    for name, hint in SKIMAGE_IMAGES.items():
        loader = "stereo_motorcycle" if name.startswith("motorcycle") else name
        if not hasattr(data, loader):
            continue
        group = "skimage:stereo_motorcycle" if name.startswith("motorcycle") else f"skimage:{name}"
        out.append(
            Source(
                key=f"skimage:{name}",
                kind="skimage",
                group=group,
                path=None,
                package="scikit-image",
                licence=_skimage_licence(name),
                category=hint,
                subject="stereo_motorcycle" if name.startswith("motorcycle") else name,
            )
        )
    return out


SKLEARN_LICENCE = {
    "china.jpg": "CC-BY-2.0 (Flickr user danielbuechele; scikit-learn sample image, "
    "see sklearn/datasets/images/README.txt)",
    "flower.jpg": "CC-BY-2.0 (Flickr user vultilion; scikit-learn sample image, "
    "see sklearn/datasets/images/README.txt)",
}


def discover_sklearn() -> list[Source]:
    """scikit-learn's two sample photos (empty list if scikit-learn is missing)."""
    # locate the package without importing it (importing scikit-learn takes seconds)
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return []
    img_dir = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "images"
    out = []
    for name, lic in SKLEARN_LICENCE.items():
        p = img_dir / name
        if p.exists():
            readme = img_dir / "README.txt"
            if readme.exists() and "creativecommons.org/licenses/by/2.0" not in readme.read_text():
                lic = f"see {readme}"
            out.append(
                Source(
                    key=f"sklearn:{p.stem}",
                    kind="sklearn",
                    group=f"sklearn:{p.stem}",
                    path=str(p),
                    package="scikit-learn",
                    licence=lic,
                    category="ref",
                    subject=p.stem,
                )
            )
    return out


def discover_all() -> tuple[list[Source], list[str]]:
    """All available sources, plus human-readable notes about what is missing."""
    notes = []
    wallpapers = discover_wallpapers()
    if not wallpapers:
        notes.append("no Debian wallpapers (run scripts/install_bench_sources.sh)")
    stamps = discover_stamps()
    if not stamps:
        notes.append("no tuxpaint stamps (run scripts/install_bench_sources.sh)")
    sk = discover_skimage()
    if not sk:
        notes.append("scikit-image not importable: skimage.data images skipped")
    sl = discover_sklearn()
    if not sl:
        notes.append("scikit-learn not importable: its sample images skipped")
    return wallpapers + stamps + sk + sl, notes


# --------------------------------------------------------------------------- loading


def load_wallpaper(path: str, max_side: int = WORK_LONG_SIDE) -> np.ndarray | None:
    """Load a wallpaper as an RGB uint8 array, long side <= ``max_side``.

    Returns None for designs meant to sit on a user-chosen colour (mostly transparent).
    """
    with Image.open(path) as im:
        if im.format == "JPEG":
            im.draft("RGB", (max_side, max_side))  # decode at reduced scale: much faster
        elif im.mode == "RGB" and max(im.size) >= 1.9 * max_side:
            # big opaque PNG: OpenCV decodes and halves it faster than Pillow
            arr = cv2.imread(path, cv2.IMREAD_REDUCED_COLOR_2)  # halves while decoding
            if arr is not None:
                im2 = Image.fromarray(cv2.cvtColor(arr, cv2.COLOR_BGR2RGB))
                if max(im2.size) > max_side:
                    im2.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
                return np.asarray(im2)
        if im.mode in ("RGBA", "LA", "PA", "P"):
            rgba = im.convert("RGBA")
            alpha = np.asarray(rgba.getchannel("A"))
            if (alpha < 250).mean() > 0.05:
                return None
            im2 = rgba.convert("RGB")
        else:
            im2 = im.convert("RGB")
    if max(im2.size) > max_side:
        im2.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(im2)


def load_stamp(path: str) -> Image.Image:
    """Load a stamp as RGBA, trimmed to its opaque bounding box."""
    with Image.open(path) as im:
        rgba = im.convert("RGBA")
    bbox = rgba.getchannel("A").point(lambda v: 255 if v > 8 else 0).getbbox()
    return rgba.crop(bbox) if bbox else rgba


def load_skimage(name: str) -> Image.Image:
    """Load a skimage.data image as RGB."""
    data = importlib.import_module("skimage.data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name.startswith("motorcycle"):
            left, right, _ = data.stereo_motorcycle()
            arr = left if name == "motorcycle_left" else right
        else:
            arr = getattr(data, name)()
    arr = np.asarray(arr)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0, 1) * 255).astype(np.uint8) if arr.max() <= 1 else arr.astype(np.uint8)
    im = Image.fromarray(arr)
    return to_rgb(im)


def load_sklearn(path: str) -> Image.Image:
    """Load a scikit-learn sample image as RGB."""
    with Image.open(path) as im:
        return im.convert("RGB")
