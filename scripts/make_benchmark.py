#!/usr/bin/env python3
"""Build a DISC21-style authenticity benchmark from registry-installed images.

    python scripts/make_benchmark.py --out /tmp/bench-dev --split dev --seed 0 --scale full

Writes ``DIR/refs/catalogue/*.jpg`` (registered catalogue shots), ``DIR/refs/logos/*.png``
(registered logos), ``DIR/queries/*.jpg`` (listing images: ``copy``, ``logo`` and
``clean``), ``DIR/manifest.json`` and ``DIR/LICENSES.md``. Everything is derived
deterministically from ``--seed``; the dev/test assignment of every source picture is fixed
(salted hash, independent of the seed), so dev and test never share a source picture.

Sources come from ``scripts/install_bench_sources.sh`` (Debian wallpapers and tuxpaint
stamps, npm simple-icons) plus scikit-image / scikit-learn sample images.

manifest.json::

    {"split", "seed", "scale", "notes": [...],
     "brands": [{"name", "display_name", "authorised_sellers": [...], "wordmarks": [...]}],
     "references": [{"file", "kind": "catalogue"|"logo", "brand", "source", "licence",
                     "source_kind", "source_file", "package", "size", ...}],
     "queries": [{"file", "type": "copy"|"logo"|"clean", "ref", "brand", "seller",
                  "edits": [{"op", ...params}], "clean_kind", "box", "size", "sources",
                  # copy: "primary_edit"; logo: "authorised", "logo_paste";
                  # same_subject: "related_ref", "same_subject_relation"; unregistered_logo: "logo_slug", "logo_paste"
                  }]}

``box`` is ``[x0, y0, x1, y1]`` in query pixels for pasted logos (registered or not).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from benchdata import sources as src_mod
from benchdata.common import (
    assign_splits,
    cap_long_side,
    resize_long_side,
    rng_for,
    save_jpeg,
    texture_score,
    thumb_signature,
    to_rgb,
)
from benchdata.edits import COPY_EDIT_KINDS, LISTING_EDIT_KINDS, EditContext, apply_edits, draw_edit_kinds
from benchdata.logos import (
    Icon,
    brand_colour,
    icon_quality,
    load_icons,
    paste_logo,
    rasterise,
    simple_icons_dir,
)
from benchdata.products import product_shot
from benchdata.sources import Source
from PIL import Image

REF_QUALITY = 95
MAX_QUERY_SIDE = 1000
REF_WORK_SIDE = 3840  # registered wallpapers are tiled at up to this resolution
UNSEEN_WORK_SIDE = 2560  # unseen wallpapers only give crops of <= 1000 px
TILE_TARGET = 768  # wallpaper tiles are ~770-960 px in the working image
MAX_TILES_REGISTERED = 10  # per wallpaper, so no single picture dominates the catalogue
MIN_TILE_TEXTURE = 2.0  # mean gradient on a 256 px thumbnail; below: a flat gradient
MIN_TILE_CORNERS = 15  # FAST corners on a 512 px thumbnail; below: nothing to recognise
MAX_TILE_SIMILARITY = 0.9  # thumbnail correlation above which two tiles look the same


@dataclass(frozen=True)
class Scale:
    """Target counts for one build size."""

    catalogue: int
    logos: int
    brands: int
    copies: int
    logo_queries: int
    clean: int
    same_subject: int
    unregistered_logo: int
    wall_ref_scenes: int  # cap on wallpaper scenes registered (as tiles)
    wall_unseen_scenes: int  # cap on wallpaper scenes kept unseen
    sellers: int


SCALES = {
    "small": Scale(
        catalogue=30,
        logos=8,
        brands=5,
        copies=60,
        logo_queries=30,
        clean=60,
        same_subject=18,
        unregistered_logo=18,
        wall_ref_scenes=4,
        wall_unseen_scenes=4,
        sellers=20,
    ),
    "full": Scale(
        catalogue=300,
        logos=40,
        brands=12,
        copies=600,
        logo_queries=300,
        clean=600,
        same_subject=150,
        unregistered_logo=150,
        wall_ref_scenes=10**6,
        wall_unseen_scenes=10**6,
        sellers=60,
    ),
}


@dataclass
class CatRef:
    """A planned catalogue reference."""

    source: Source
    tile: tuple[int, int, int, int] | None = None  # wallpaper tile box in the working image
    has_partner: bool = False
    file: str = ""
    brand: str = ""


@dataclass
class SameSubject:
    """A planned same-subject clean picture and the registered reference it resembles."""

    source: Source
    related: CatRef
    region: tuple[int, int, int, int] | None = None  # wallpaper: reserved tile box
    uses: int = 2
    relation: str = "same_object"  # same_object | same_category | other_region | stereo_pair


@dataclass
class Plan:
    """Everything decided before rendering."""

    catalogue: list[CatRef] = field(default_factory=list)
    same_subject: list[SameSubject] = field(default_factory=list)
    unseen_wallpapers: list[Source] = field(default_factory=list)
    unseen_stamps: list[Source] = field(default_factory=list)
    unseen_skimage: list[Source] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# Worker state: filled in the parent before the pools fork, read by the workers.
STATE: dict = {}


def log(msg: str) -> None:
    """Print a progress line with the elapsed time."""
    t = time.time() - STATE.get("t0", time.time())
    print(f"[{t:6.1f}s] {msg}", flush=True)


# ------------------------------------------------------------------------------ planning


def split_sources(sources: list[Source], split: str) -> list[Source]:
    """Sources of ``split``: balanced per stratum, fixed salt, independent of --seed."""
    strata: dict[str, list[str]] = defaultdict(list)
    for s in sources:
        if s.kind == "stamp":
            strata[f"stamp:{s.category}"].append(s.group)
        elif s.kind == "wallpaper":
            strata[f"wallpaper:{s.category}"].append(s.group)
        elif s.kind == "skimage":
            hint = "ref" if s.category == "same" else s.category
            strata[f"skimage:{hint}"].append(s.group)
        else:
            strata[s.kind].append(s.group)
    assignment = assign_splits(strata)
    return [s for s in sources if assignment[s.group] == split]


def _load_wallpaper_task(job: tuple[str, int]) -> tuple[str, np.ndarray | None]:
    return job[0], src_mod.load_wallpaper(job[0], job[1])


def _corners(im: Image.Image) -> int:
    """FAST corner count on a 512 px grey thumbnail: how much there is to recognise."""
    g = im.convert("L")
    g.thumbnail((512, 512))
    return len(_FAST.detect(np.asarray(g)))


_FAST = cv2.FastFeatureDetector_create(threshold=12)


def tile_wallpaper(arr: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Non-overlapping grid tiles (~TILE_TARGET px) that have texture and differ visibly."""
    h, w = arr.shape[:2]
    nx, ny = max(1, round(w / TILE_TARGET)), max(1, round(h / TILE_TARGET))
    boxes, sigs = [], []
    for j in range(ny):
        for i in range(nx):
            box = (i * w // nx, j * h // ny, (i + 1) * w // nx, (j + 1) * h // ny)
            tile = Image.fromarray(arr[box[1] : box[3], box[0] : box[2]])
            if texture_score(tile) < MIN_TILE_TEXTURE or _corners(tile) < MIN_TILE_CORNERS:
                continue  # a featureless stretch of sky or gradient is no catalogue shot
            sig = thumb_signature(tile)
            if any(float(sig @ s) > MAX_TILE_SIMILARITY for s in sigs):
                continue  # repetitive pattern: this tile would be a near-copy of another
            boxes.append(box)
            sigs.append(sig)
    return boxes


def _near_duplicate_stamps(a: Image.Image, b: Image.Image) -> bool:
    """True when two stamps are one photo (recoloured or mirrored), judged on their masks."""
    if abs(a.width - b.width) > 3 or abs(a.height - b.height) > 3:
        return False
    size = (64, 64)
    ma = np.asarray(a.getchannel("A").resize(size)) > 127
    mb = np.asarray(b.getchannel("A").resize(size)) > 127
    for m in (mb, mb[:, ::-1]):
        inter, union = (ma & m).sum(), (ma | m).sum()
        if union and inter / union > 0.85:
            return True
    return False


def plan_stamps(
    stamps: list[Source], rng: np.random.Generator
) -> tuple[list[CatRef], list[tuple[Source, CatRef, str]], list[Source]]:
    """Registered stamps, same-subject stamps (with the reference they resemble), unseen stamps.

    Folders are stamp categories. In ~10% of folders nothing is registered (unseen
    products). Elsewhere ~70% of the object groups register one photo; other photos of the
    same object (checked not to be a recolour/mirror of it) and the folder's unregistered
    objects become same-subject clean pictures.
    """
    by_folder: dict[str, dict[str, list[Source]]] = defaultdict(lambda: defaultdict(list))
    for s in stamps:
        by_folder[s.category][s.subject].append(s)
    refs: list[CatRef] = []
    same: list[tuple[Source, CatRef, str]] = []
    unseen: list[Source] = []
    for folder in sorted(by_folder):
        groups = by_folder[folder]
        distinct: dict[str, list[Source]] = {}
        for obj in sorted(groups):
            members = sorted(groups[obj], key=lambda s: (-s.size[0] * s.size[1], s.key))
            kept: list[tuple[Source, Image.Image]] = []
            for m in members:
                im = src_mod.load_stamp(m.path)
                if not any(_near_duplicate_stamps(im, k_im) for _, k_im in kept):
                    kept.append((m, im))
            distinct[obj] = [m for m, _ in kept]
        objs = sorted(distinct)
        rng.shuffle(objs)
        if rng.random() < 0.1:
            unseen += [m for o in objs for m in distinct[o]]
            continue
        n_reg = max(1, round(0.7 * len(objs)))
        folder_refs = []
        for o in objs[:n_reg]:
            ref = CatRef(source=distinct[o][0])
            folder_refs.append(ref)
            refs.append(ref)
            for m in distinct[o][1:]:
                same.append((m, ref, "same_object"))
        for o in objs[n_reg:]:
            for m in distinct[o]:
                same.append((m, folder_refs[int(rng.integers(len(folder_refs)))], "same_category"))
    return refs, same, unseen


def choose_catalogue(cands: list[CatRef], target: int, rng: np.random.Generator) -> list[CatRef]:
    """Keep at most ``target`` references, stratified by source kind, preferring ones with a
    same-subject partner (so small builds still have same-subject pairs)."""
    if len(cands) <= target:
        return cands
    by_kind: dict[str, list[CatRef]] = defaultdict(list)
    for c in cands:
        by_kind[c.source.kind].append(c)
    out: list[CatRef] = []
    kinds = sorted(by_kind)
    quotas = {k: int(target * len(by_kind[k]) / len(cands)) for k in kinds}
    for k in kinds[: target - sum(quotas.values())]:
        quotas[k] += 1
    for k in kinds:
        items = by_kind[k]
        order = rng.permutation(len(items))
        items = [items[i] for i in order]
        items.sort(key=lambda c: not c.has_partner)  # stable: partners first, random within
        out += items[: quotas[k]]
    return out


def make_plan(split_srcs: list[Source], args: argparse.Namespace, scale: Scale, pool_size: int) -> Plan:
    """Decide roles for every source picture of the split (needs wallpaper pixels for tiling)."""
    rng = rng_for(args.seed, args.split, "roles")
    plan = Plan()
    walls = sorted([s for s in split_srcs if s.kind == "wallpaper"], key=lambda s: s.key)
    order = rng.permutation(len(walls))
    walls = [walls[i] for i in order]
    n_ref = round(0.6 * len(walls))
    ref_scenes = walls[:n_ref][: scale.wall_ref_scenes]
    unseen_scenes = walls[n_ref:][: scale.wall_unseen_scenes]

    need = ref_scenes + unseen_scenes
    log(
        f"loading {len(need)} wallpapers ({len(ref_scenes)} to register as tiles, "
        f"{len(unseen_scenes)} unseen)"
    )
    with mp.get_context("fork").Pool(pool_size) as pool:
        jobs = [(s.path, REF_WORK_SIDE) for s in ref_scenes] + [
            (s.path, UNSEEN_WORK_SIDE) for s in unseen_scenes
        ]
        loaded = dict(pool.map(_load_wallpaper_task, jobs))
    STATE["wallpapers"] = {s.key: loaded[s.path] for s in need if loaded[s.path] is not None}
    skipped = [s.subject for s in need if loaded[s.path] is None]
    if skipped:
        plan.notes.append(f"skipped mostly-transparent wallpapers: {', '.join(skipped)}")

    cands: list[CatRef] = []
    wall_same: list[tuple[Source, CatRef, tuple[int, int, int, int]]] = []
    for s in ref_scenes:
        arr = STATE["wallpapers"].get(s.key)
        if arr is None:
            continue
        tiles = tile_wallpaper(arr)
        order = rng.permutation(len(tiles))
        tiles = [tiles[i] for i in order]
        n_same = 0 if len(tiles) < 2 else (1 if len(tiles) < 6 else 2)
        scene_refs = [
            CatRef(source=s, tile=t, has_partner=n_same > 0) for t in tiles[n_same:][:MAX_TILES_REGISTERED]
        ]
        cands += scene_refs
        for t in tiles[:n_same]:
            wall_same.append((s, scene_refs[int(rng.integers(len(scene_refs)))], t))
    plan.unseen_wallpapers = [s for s in unseen_scenes if s.key in STATE["wallpapers"]]

    sk = [s for s in split_srcs if s.kind in ("skimage", "sklearn")]
    sk_refs = {s.key: CatRef(source=s) for s in sk if s.category == "ref"}
    cands += list(sk_refs.values())
    plan.unseen_skimage = [s for s in sk if s.category == "unseen"]
    sk_same = []
    for s in sk:
        if s.category == "same" and "skimage:motorcycle_left" in sk_refs:
            sk_refs["skimage:motorcycle_left"].has_partner = True
            sk_same.append((s, sk_refs["skimage:motorcycle_left"]))

    stamps = [s for s in split_srcs if s.kind == "stamp"]
    st_refs, st_same, st_unseen = plan_stamps(stamps, rng)
    for _, ref, _kind in st_same:
        ref.has_partner = True
    cands += st_refs
    plan.unseen_stamps = st_unseen

    chosen = choose_catalogue(cands, scale.catalogue, rng)
    chosen_ids = {id(c) for c in chosen}
    if len(chosen) < scale.catalogue:
        plan.notes.append(
            f"catalogue: sources allow {len(chosen)} of the {scale.catalogue} "
            f"references asked for (took the maximum)"
        )
    plan.catalogue = chosen
    log(
        f"catalogue candidates: {len(cands)} ({Counter(c.source.kind for c in cands)}); "
        f"same-subject candidates: {len(wall_same)} wallpaper regions, {len(st_same)} stamps, "
        f"{len(sk_same)} skimage"
    )

    # same-subject pictures whose reference was not chosen are dropped (never relabelled:
    # they would still resemble an unregistered neighbour, not be truly unseen)
    for s, ref, tile in wall_same:
        if id(ref) in chosen_ids:
            plan.same_subject.append(
                SameSubject(source=s, related=ref, region=tile, uses=4, relation="other_region")
            )
    for s, ref in sk_same:
        if id(ref) in chosen_ids:
            plan.same_subject.append(SameSubject(source=s, related=ref, uses=2, relation="stereo_pair"))
    for s, ref, kind in st_same:
        if id(ref) in chosen_ids:
            plan.same_subject.append(SameSubject(source=s, related=ref, uses=2, relation=kind))
    return plan


def pick_logos(
    icons: list[Icon], split: str, seed: int, n_registered: int, n_unregistered: int
) -> tuple[list[Icon], list[Icon]]:
    """Registered and unregistered logos of ``split`` (icons split like other sources).

    Both sets pass the same shape filter, so "registered" is never guessable from looks.
    """
    assignment = assign_splits({"simple-icons": [i.slug for i in icons]})
    pool = [i for i in icons if assignment[i.slug] == split]
    rng = rng_for(seed, split, "logos")
    order = rng.permutation(len(pool))
    good: list[Icon] = []
    for idx in order:
        if len(good) >= n_registered + n_unregistered:
            break
        if icon_quality(pool[idx]) is not None:
            good.append(pool[idx])
    return good[:n_registered], good[n_registered:]


# ------------------------------------------------------------------------------ rendering


def _init_worker() -> None:
    cv2.setNumThreads(1)
    STATE["ctx"] = EditContext.create(unseen_background)


def _load_source_image(s: Source) -> Image.Image:
    if s.kind == "skimage":
        return src_mod.load_skimage(s.key.split(":", 1)[1])
    if s.kind == "sklearn":
        return src_mod.load_sklearn(s.path)
    if s.kind == "wallpaper":
        return Image.fromarray(STATE["wallpapers"][s.key])
    raise ValueError(s.kind)


def wallpaper_crop(
    s: Source,
    rng: np.random.Generator,
    long_side: int,
    region: tuple[int, int, int, int] | None = None,
    min_scale: float = 0.35,
) -> tuple[Image.Image, dict]:
    """A random crop (random aspect, 35-100% scale) of a wallpaper, or of a region of it."""
    arr = STATE["wallpapers"][s.key]
    x0, y0, x1, y1 = region or (0, 0, arr.shape[1], arr.shape[0])
    rw, rh = x1 - x0, y1 - y0
    aw, ah = [(4, 3), (3, 2), (1, 1), (16, 9), (3, 4), (2, 3), (5, 4)][int(rng.integers(7))]
    fit = min(rw / aw, rh / ah)  # largest crop of this aspect inside the region
    scale = float(rng.uniform(min_scale, 1.0))
    cw, ch = max(32, round(aw * fit * scale)), max(32, round(ah * fit * scale))
    cx = x0 + int(rng.integers(0, rw - cw + 1))
    cy = y0 + int(rng.integers(0, rh - ch + 1))
    im = Image.fromarray(arr[cy : cy + ch, cx : cx + cw])
    return resize_long_side(im, long_side), {"crop": [cx, cy, cx + cw, cy + ch]}


def _stamp_shot(s: Source, rng: np.random.Generator, long_side: tuple[int, int]) -> tuple[Image.Image, dict]:
    return product_shot(src_mod.load_stamp(s.path), rng, long_side)


def unseen_photo(
    rng: np.random.Generator, long_side: int, weights: tuple[float, float, float] = (0.7, 0.2, 0.1)
) -> tuple[Image.Image, str, dict]:
    """A never-registered photo: wallpaper crop, unseen product shot, or unseen skimage image."""
    plan: Plan = STATE["plan"]
    pools = [plan.unseen_wallpapers, plan.unseen_stamps, plan.unseen_skimage]
    w = np.array([wt if pool else 0.0 for wt, pool in zip(weights, pools, strict=True)])
    kind = int(rng.choice(3, p=w / w.sum()))
    pool = pools[kind]
    s = pool[int(rng.integers(len(pool)))]
    if kind == 0:
        im, p = wallpaper_crop(s, rng, long_side)
    elif kind == 1:
        im, p = _stamp_shot(s, rng, (long_side, long_side))
    else:
        im = _load_source_image(s)
        if rng.random() < 0.5:  # a random crop of it, so repeats differ
            im, _ = _random_crop(im, rng, 0.6)
        im, p = resize_long_side(im, long_side), {}
    return im, s.key, p


def _random_crop(im: Image.Image, rng: np.random.Generator, min_area: float) -> tuple[Image.Image, list]:
    a = float(rng.uniform(min_area, 1.0))
    wf = hf = float(np.sqrt(a))
    x0, y0 = float(rng.uniform(0, 1 - wf)), float(rng.uniform(0, 1 - hf))
    box = [
        round(x0 * im.width),
        round(y0 * im.height),
        round((x0 + wf) * im.width),
        round((y0 + hf) * im.height),
    ]
    return im.crop(box), box


def unseen_background(rng: np.random.Generator, long_side: int) -> tuple[Image.Image, str]:
    """Background provider for the ``paste`` copy edit: an unseen wallpaper crop."""
    im, key, _ = unseen_photo(rng, long_side, weights=(1.0, 0.0, 0.0))
    return im, key


def render_reference(task: dict) -> dict:
    """Render one catalogue shot or logo and write it under DIR/refs/."""
    out = Path(STATE["out"]) / task["file"]
    rng = rng_for(STATE["seed"], STATE["split"], "ref", task["file"])
    if task["kind"] == "logo":
        icon: Icon = task["icon"]
        size = int(rng.integers(256, 401))
        im = rasterise(icon, size, brand_colour(icon))
        out.parent.mkdir(parents=True, exist_ok=True)
        im.save(out, "PNG", optimize=True)
        return {"file": task["file"], "size": list(im.size), "colour": list(brand_colour(icon))}
    s: Source = task["source"]
    params: dict = {}
    if s.kind == "stamp":
        im, params = _stamp_shot(s, rng, (720, 1024))
    elif s.kind == "wallpaper":
        x0, y0, x1, y1 = task["tile"]
        im = Image.fromarray(STATE["wallpapers"][s.key][y0:y1, x0:x1])
        im = cap_long_side(im, int(rng.integers(800, 1025)))
        params = {"tile": list(task["tile"])}
    else:
        im = cap_long_side(_load_source_image(s), 1024)
    save_jpeg(im, out, REF_QUALITY)
    return {"file": task["file"], "size": list(im.size), "params": params}


def _finish_query(im: Image.Image, task: dict, rng: np.random.Generator) -> tuple[int, int]:
    im = cap_long_side(to_rgb(im), MAX_QUERY_SIDE)
    save_jpeg(im, Path(STATE["out"]) / task["file"], int(rng.integers(85, 93)))
    return im.size


def _scale_box(box: list[int], from_size: tuple[int, int], to_size: tuple[int, int]) -> list[int]:
    sx, sy = to_size[0] / from_size[0], to_size[1] / from_size[1]
    return [
        int(np.floor(box[0] * sx)),
        int(np.floor(box[1] * sy)),
        int(np.ceil(box[2] * sx)),
        int(np.ceil(box[3] * sy)),
    ]


def _logo_paste(task: dict, rng: np.random.Generator) -> tuple[Image.Image, dict]:
    """Photo + pasted logo, then maybe a box-preserving listing edit (JPEG or colour)."""
    photo, bg_key, _ = unseen_photo(rng, int(rng.integers(560, 1001)), weights=(0.7, 0.2, 0.1))
    logo = (
        Image.open(Path(STATE["out"]) / task["logo_file"])
        if task.get("logo_file")
        else rasterise(task["icon"], int(rng.integers(256, 401)), brand_colour(task["icon"]))
    )
    logo = logo.convert("RGBA")
    colour = logo.getpixel((0, 0))[:3]  # rasterise() stores the logo colour in every pixel
    im, box, params = paste_logo(photo, logo, rng, base_colour=colour)
    edits = []
    if rng.random() < 0.3:
        im, edits = apply_edits(im, [str(rng.choice(["jpeg", "colour"]))], rng, STATE["ctx"])
    return im, {"box": box, "paste": params, "background": bg_key, "edits": edits, "pre_size": list(im.size)}


def render_query(task: dict) -> dict:
    """Render one listing image (copy / logo / clean) and write it under DIR/queries/."""
    rng = rng_for(STATE["seed"], STATE["split"], "query", task["qid"])
    ctx: EditContext = STATE["ctx"]
    rec: dict = {}
    if task["type"] == "copy":
        with Image.open(Path(STATE["out"]) / task["ref"]) as f:
            ref = f.convert("RGB")
        kinds = draw_edit_kinds(task["primary"], task["n_edits"], rng)
        im, edits = apply_edits(ref, kinds, rng, ctx)
        rec = {"edits": edits, "primary_edit": task["primary"]}
        rec["sources"] = [e["background"] for e in edits if e["op"] == "paste"]
    elif task["type"] == "logo" or task.get("clean_kind") == "unregistered_logo":
        im, info = _logo_paste(task, rng)
        size = _finish_query(im, task, rng)
        box = _scale_box(info["box"], tuple(info["pre_size"]), size)
        return {
            "qid": task["qid"],
            "size": list(size),
            "box": box,
            "edits": info["edits"],
            "logo_paste": info["paste"],
            "sources": [info["background"]],
        }
    else:
        kind = task["clean_kind"]
        if kind == "same_subject":
            ss: SameSubject = task["same"]
            s = ss.source
            if s.kind == "stamp":
                im, p = _stamp_shot(s, rng, (640, 1024))
            elif s.kind == "wallpaper":
                im, p = wallpaper_crop(s, rng, int(rng.integers(560, 1001)), region=ss.region, min_scale=0.6)
            else:
                im = _load_source_image(s)
                if task["variant"] > 0:
                    im, _ = _random_crop(im, rng, 0.6)
                p = {}
            rec = {"sources": [s.key], "params": p}
        else:
            im, key, p = unseen_photo(rng, int(rng.integers(560, 1001)), weights=(0.6, 0.25, 0.15))
            rec = {"sources": [key], "params": p}
        edits: list[dict] = []
        if rng.random() < 0.5:  # the same listing edits honest sellers make
            kinds = draw_edit_kinds(
                str(rng.choice(LISTING_EDIT_KINDS)), int(rng.integers(1, 3)), rng, pool=LISTING_EDIT_KINDS
            )
            im, edits = apply_edits(im, kinds, rng, ctx)
        rec["edits"] = edits
    size = _finish_query(im, task, rng)
    return {"qid": task["qid"], "size": list(size), **rec}


def run_pool(fn: Callable[[dict], dict], tasks: list[dict], pool_size: int, label: str) -> list[dict]:
    """Map ``fn`` over ``tasks`` in a forked pool, printing progress every ~10%."""
    results = []
    step = max(1, len(tasks) // 10)
    with mp.get_context("fork").Pool(pool_size, initializer=_init_worker) as pool:
        for i, r in enumerate(pool.imap_unordered(fn, tasks, chunksize=4), 1):
            results.append(r)
            if i % step == 0 or i == len(tasks):
                log(f"{label}: {i}/{len(tasks)}")
    return results


# ------------------------------------------------------------------------------ main


def build(args: argparse.Namespace) -> dict:
    """Build the benchmark described by ``args``; returns the manifest."""
    STATE["t0"] = time.time()
    # OpenCV's thread pool does not survive fork(): keep it single-threaded in the parent
    # before anything uses it, and parallelise with processes instead.
    cv2.setNumThreads(1)
    scale = SCALES[args.scale]
    out = Path(args.out)
    STATE.update(out=str(out), seed=args.seed, split=args.split)
    pool_size = max(1, args.jobs)

    all_sources, notes = src_mod.discover_all()
    icons = load_icons(simple_icons_dir(args.npm_dir))
    missing = []
    if not any(s.kind == "wallpaper" for s in all_sources):
        missing.append("Debian wallpapers (plasma-workspace-wallpapers / mate-backgrounds)")
    if not any(s.kind == "stamp" for s in all_sources):
        missing.append("tuxpaint-stamps-default")
    if not icons:
        missing.append(f"npm simple-icons (looked in {simple_icons_dir(args.npm_dir)})")
    if missing:
        raise SystemExit(
            "missing benchmark sources: "
            + "; ".join(missing)
            + "\nrun: bash scripts/install_bench_sources.sh"
        )
    prepare_out_dir(out, args.force)
    split_srcs = split_sources(all_sources, args.split)
    log(
        f"sources: {len(all_sources)} pictures, {len(split_srcs)} in split '{args.split}'; "
        f"{len(icons)} simple-icons"
    )

    plan = make_plan(split_srcs, args, scale, pool_size)
    plan.notes = notes + plan.notes
    STATE["plan"] = plan
    rng = rng_for(args.seed, args.split, "assign")

    # --- brands, logos, sellers
    n_logos = max(scale.brands, scale.logos)
    reg_icons, unreg_icons = pick_logos(icons, args.split, args.seed, n_logos, scale.unregistered_logo)
    if len(reg_icons) < n_logos:
        plan.notes.append(f"logos: only {len(reg_icons)} usable icons in this split")
    brand_names = [f"brand-{chr(ord('a') + i)}" for i in range(scale.brands)]
    # every brand owns 1-4 logos: one each, then the rest at random (cap 4)
    logo_brand = list(brand_names[: len(reg_icons)])
    while len(logo_brand) < len(reg_icons):
        b = brand_names[int(rng.integers(len(brand_names)))]
        if logo_brand.count(b) < 4:
            logo_brand.append(b)
    rng.shuffle(logo_brand)
    sellers_ok: dict[str, list[str]] = {}
    k = 1
    for i, b in enumerate(brand_names):
        n = int(rng.choice([0, 1, 1, 2])) if i else 1  # at least one brand has a seller
        sellers_ok[b] = [f"seller-ok-{k + j}" for j in range(n)]
        k += n
    sellers_other = [f"seller-{i:03d}" for i in range(1, scale.sellers + 1)]

    # --- references
    cat_order = rng.permutation(len(plan.catalogue))
    catalogue = [plan.catalogue[i] for i in cat_order]
    for i, c in enumerate(catalogue):
        c.file = f"refs/catalogue/c{i + 1:04d}.jpg"
        c.brand = brand_names[i % len(brand_names)]
    logo_refs = [
        {"file": f"refs/logos/l{i + 1:03d}.png", "icon": ic, "brand": logo_brand[i]}
        for i, ic in enumerate(reg_icons)
    ]
    ref_tasks = [
        {"kind": "catalogue", "file": c.file, "source": c.source, "tile": c.tile} for c in catalogue
    ] + [{"kind": "logo", **lr} for lr in logo_refs]
    log(f"rendering {len(ref_tasks)} references")
    ref_results = {r["file"]: r for r in run_pool(render_reference, ref_tasks, pool_size, "refs")}

    # --- queries
    q_tasks: list[dict] = []
    primaries = [COPY_EDIT_KINDS[i % len(COPY_EDIT_KINDS)] for i in range(scale.copies)]
    rng.shuffle(primaries)
    ref_cycle = [catalogue[i] for i in rng.permutation(len(catalogue))] if catalogue else []
    for i, prim in enumerate(primaries):
        if not ref_cycle:
            break
        c = ref_cycle[i % len(ref_cycle)]
        q_tasks.append(
            {
                "type": "copy",
                "ref": c.file,
                "brand": c.brand,
                "primary": prim,
                "n_edits": int(rng.choice([1, 2, 3], p=[0.4, 0.35, 0.25])),
                "seller": sellers_other[int(rng.integers(len(sellers_other)))],
            }
        )
    for i in range(scale.logo_queries if logo_refs else 0):
        lr = logo_refs[i % len(logo_refs)]
        ok = sellers_ok[lr["brand"]]
        authorised = bool(ok) and rng.random() < 0.25
        seller = (
            ok[int(rng.integers(len(ok)))]
            if authorised
            else sellers_other[int(rng.integers(len(sellers_other)))]
        )
        q_tasks.append(
            {
                "type": "logo",
                "ref": lr["file"],
                "brand": lr["brand"],
                "logo_file": lr["file"],
                "seller": seller,
                "authorised": authorised,
            }
        )
    all_sellers = sellers_other + [s for v in sellers_ok.values() for s in v]
    # same-subject: round-robin over candidates, each used at most `uses` times
    ss_tasks = []
    ss_pool = [plan.same_subject[i] for i in rng.permutation(len(plan.same_subject))]
    for variant in range(max((s.uses for s in ss_pool), default=0)):
        for ss in ss_pool:
            if variant < ss.uses and len(ss_tasks) < scale.same_subject:
                ss_tasks.append(
                    {
                        "type": "clean",
                        "clean_kind": "same_subject",
                        "same": ss,
                        "related_ref": ss.related.file,
                        "variant": variant,
                    }
                )
    if len(ss_tasks) < scale.same_subject:
        plan.notes.append(
            f"same_subject: sources allow {len(ss_tasks)} of {scale.same_subject}; "
            f"the rest of the clean set is unseen photos"
        )
    ul_tasks = []
    for i in range(scale.unregistered_logo if unreg_icons else 0):
        ic = unreg_icons[i % len(unreg_icons)]
        ul_tasks.append(
            {"type": "clean", "clean_kind": "unregistered_logo", "icon": ic, "logo_slug": ic.slug}
        )
    n_unseen = scale.clean - len(ss_tasks) - len(ul_tasks)
    un_tasks = [{"type": "clean", "clean_kind": "unseen"} for _ in range(n_unseen)]
    for t in ss_tasks + ul_tasks + un_tasks:
        t["seller"] = all_sellers[int(rng.integers(len(all_sellers)))]
        q_tasks.append(t)
    perm = rng.permutation(len(q_tasks))  # file names must not reveal the query type
    for qi, ti in enumerate(perm):
        q_tasks[ti]["qid"] = f"q{qi + 1:05d}"
        q_tasks[ti]["file"] = f"queries/q{qi + 1:05d}.jpg"
    log(f"rendering {len(q_tasks)} queries")
    q_results = {r["qid"]: r for r in run_pool(render_query, q_tasks, pool_size, "queries")}

    manifest = assemble_manifest(
        args, brand_names, sellers_ok, catalogue, logo_refs, ref_results, q_tasks, q_results, plan
    )
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    write_licences(out, manifest, all_sources)
    manifest["_build_seconds"] = round(time.time() - STATE["t0"], 1)
    return manifest


def assemble_manifest(
    args: argparse.Namespace,
    brand_names: list[str],
    sellers_ok: dict[str, list[str]],
    catalogue: list[CatRef],
    logo_refs: list[dict],
    ref_results: dict,
    q_tasks: list[dict],
    q_results: dict,
    plan: Plan,
) -> dict:
    """The manifest (schema in this module's docstring)."""
    wordmarks: dict[str, list[str]] = defaultdict(list)
    for lr in logo_refs:
        wordmarks[lr["brand"]].append(lr["icon"].title)
    brands = [
        {
            "name": b,
            "display_name": (wordmarks[b] or [b])[0],
            "authorised_sellers": sellers_ok[b],
            "wordmarks": wordmarks[b] or [b],
        }
        for b in brand_names
    ]
    refs = []
    for c in catalogue:
        s = c.source
        refs.append(
            {
                "file": c.file,
                "kind": "catalogue",
                "brand": c.brand,
                "source": s.key + (f"#tile{list(c.tile)}" if c.tile else ""),
                "source_kind": s.kind,
                "source_file": s.path,
                "package": s.package,
                "subject": s.subject,
                "licence": s.licence,
                "size": ref_results[c.file]["size"],
            }
        )
    for lr in logo_refs:
        ic: Icon = lr["icon"]
        refs.append(
            {
                "file": lr["file"],
                "kind": "logo",
                "brand": lr["brand"],
                "source": f"simple-icons:{ic.slug}",
                "source_kind": "simple-icons",
                "source_file": ic.svg,
                "package": "simple-icons",
                "title": ic.title,
                "slug": ic.slug,
                "colour": ref_results[lr["file"]]["colour"],
                "licence": ic.licence,
                "size": ref_results[lr["file"]]["size"],
            }
        )
    queries = []
    for t in sorted(q_tasks, key=lambda t: t["file"]):
        r = q_results[t["qid"]]
        q = {
            "file": t["file"],
            "type": t["type"],
            "ref": None,
            "brand": None,
            "seller": t["seller"],
            "edits": r.get("edits", []),
            "clean_kind": None,
            "box": None,
            "size": r["size"],
            "sources": r.get("sources", []),
        }
        if t["type"] == "copy":
            q.update(ref=t["ref"], brand=t["brand"], primary_edit=t["primary"])
        elif t["type"] == "logo":
            q.update(
                ref=t["ref"],
                brand=t["brand"],
                box=r["box"],
                authorised=t["authorised"],
                logo_paste=r["logo_paste"],
            )
        else:
            q["clean_kind"] = t["clean_kind"]
            if t["clean_kind"] == "same_subject":
                q["related_ref"] = t["related_ref"]
                q["same_subject_relation"] = t["same"].relation
            elif t["clean_kind"] == "unregistered_logo":
                q.update(
                    box=r["box"],
                    logo_slug=t["logo_slug"],
                    logo_paste=r["logo_paste"],
                    sources=r["sources"] + [f"simple-icons:{t['logo_slug']}"],
                )
        queries.append(q)
    return {
        "split": args.split,
        "seed": args.seed,
        "scale": args.scale,
        "brands": brands,
        "references": refs,
        "queries": queries,
        "notes": plan.notes,
        "generator": "scripts/make_benchmark.py",
    }


def write_licences(out: Path, manifest: dict, all_sources: list[Source]) -> None:
    """DIR/LICENSES.md: every source picture used, grouped by licence."""
    by_key = {s.key: s for s in all_sources}
    used: dict[str, set[str]] = defaultdict(set)  # licence -> sources
    for r in manifest["references"]:
        used[r["licence"]].add(r["source"].split("#")[0])
    icons_used = {s for q in manifest["queries"] for s in q["sources"] if s.startswith("simple-icons:")}
    for q in manifest["queries"]:
        for key in q["sources"]:
            if key in by_key:
                used[by_key[key].licence].add(key)
    lines = [
        "# Licences of the images in this benchmark",
        "",
        f"Split `{manifest['split']}`, seed {manifest['seed']}, built by `scripts/make_benchmark.py`.",
        "Every image here is derived (cropped, resized, composited, edited) from the sources",
        "below; each derived image carries the licence(s) of its sources. The per-image",
        "licence of every reference is in `manifest.json`; queries list their `sources`.",
        "",
        "- Debian wallpapers: licence per file from `/usr/share/doc/<package>/copyright`",
        "  (plasma-workspace-wallpapers: GPL-2+; mate-backgrounds: GPL-2+ / CC-BY-SA-4.0;",
        "  lomiri-wallpapers*: CC-BY-4.0 / CC-BY-SA-3.0 / CC-BY-SA-4.0 / CC0-1.0). GPL source:",
        "  the Debian source packages of the same names.",
        "- tuxpaint-stamps-default: GPL-2 (Bill Kendrick et al.); source: the Debian source package.",
        "- scikit-image sample data (`skimage.data`): CC0 / public domain per each loader's",
        "  docstring; where none is stated, the scikit-image distribution's BSD-3-Clause.",
        "- scikit-learn sample images: CC-BY-2.0 (see `sklearn/datasets/images/README.txt`).",
        "- simple-icons: CC0-1.0 collection; the marks themselves are trademarks of their owners",
        "  and appear here only as test data for logo-misuse detection.",
        "- augly assets (fonts, twemoji, screenshot templates) used in overlays: see the augly",
        "  package (MIT; Twemoji CC-BY-4.0; fonts under their own open licences).",
        "",
    ]
    for lic in sorted(used):
        lines.append(f"## {lic}")
        lines += [
            f"- `{k}`" + (f" ({by_key[k].path})" if k in by_key and by_key[k].path else "")
            for k in sorted(used[lic])
        ]
        lines.append("")
    if icons_used:
        lines.append("## simple-icons used only in queries (unregistered logos)")
        lines.append(", ".join(f"`{s.split(':', 1)[1]}`" for s in sorted(icons_used)))
        lines.append("")
    (out / "LICENSES.md").write_text("\n".join(lines))


def prepare_out_dir(out: Path, force: bool) -> None:
    """Create ``out``; clear a previous build there (refuse other non-empty folders)."""
    if out.exists() and any(out.iterdir()):
        if not (out / "manifest.json").exists() and not force:
            raise SystemExit(f"{out} is not empty and holds no previous benchmark; use --force")
        for name in ("refs", "queries"):
            shutil.rmtree(out / name, ignore_errors=True)
        for name in ("manifest.json", "LICENSES.md"):
            (out / name).unlink(missing_ok=True)
    (out / "refs" / "catalogue").mkdir(parents=True, exist_ok=True)
    (out / "refs" / "logos").mkdir(parents=True, exist_ok=True)
    (out / "queries").mkdir(parents=True, exist_ok=True)


def summarise(m: dict) -> str:
    """Human-readable counts for the build."""
    refs = Counter(r["kind"] for r in m["references"])
    cat_src = Counter(r["source_kind"] for r in m["references"] if r["kind"] == "catalogue")
    qt = Counter(q["type"] for q in m["queries"])
    ck = Counter(q["clean_kind"] for q in m["queries"] if q["type"] == "clean")
    prim = Counter(q["primary_edit"] for q in m["queries"] if q["type"] == "copy")
    logo_auth = sum(1 for q in m["queries"] if q["type"] == "logo" and q.get("authorised"))
    lines = [
        f"split={m['split']} seed={m['seed']} scale={m['scale']}",
        f"brands: {len(m['brands'])} ({sum(len(b['authorised_sellers']) for b in m['brands'])} "
        f"authorised sellers)",
        f"references: catalogue={refs['catalogue']} {dict(cat_src)}  logos={refs['logo']}",
        f"queries: copy={qt['copy']} logo={qt['logo']} (authorised seller: {logo_auth}) "
        f"clean={qt['clean']} {dict(ck)}",
        "copy primary edits: " + ", ".join(f"{k}={prim[k]}" for k in COPY_EDIT_KINDS),
    ]
    for n in m.get("notes", []):
        lines.append(f"note: {n}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", required=True, help="output folder (e.g. /tmp/bench-dev)")
    p.add_argument("--split", choices=("dev", "test"), default="dev")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale", choices=sorted(SCALES), default="full")
    p.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="worker processes (default: min(2, CPUs))",
    )
    p.add_argument(
        "--npm-dir",
        type=Path,
        default=None,
        help="npm prefix holding node_modules/simple-icons "
        "(default: $AUTHCHECK_BENCH_NPM or ~/.cache/authcheck-bench/npm)",
    )
    p.add_argument("--force", action="store_true", help="write into a non-empty folder")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    try:
        import cairosvg  # noqa: F401
    except ImportError as exc:
        print(
            f"error: cairosvg is needed to rasterise logos ({exc}); install the repo's `bench` extra",
            file=sys.stderr,
        )
        return 2
    m = build(args)
    print(summarise(m))
    print(f"built in {m['_build_seconds']} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
