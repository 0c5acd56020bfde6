"""Image folders -> pairs of independently edited views, for self-supervised training.

Any folder of images will do (searched recursively). :func:`prepare_images` optionally
turns a set of source pictures into a compact training folder (downscaled JPEGs; very
large pictures such as wallpapers cut into non-overlapping tiles, each a picture of its
own), which decodes fast and travels light.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset, Sampler

from .augment import CopyEdits, EditRates

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
Image.MAX_IMAGE_PIXELS = 200_000_000  # some wallpapers are ~18 MP


def list_images(roots: Iterable[str | Path]) -> list[Path]:
    """Image files under the given folders (recursively) or named directly, sorted, de-duplicated."""
    found: set[Path] = set()
    for raw in roots:
        root = Path(raw)
        if root.is_dir():
            found.update(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif root.is_file():
            found.add(root)
    return sorted(found)


def load_rgb(path: str | Path, max_side: int | None = None) -> np.ndarray:
    """Decode an image as RGB uint8 (EXIF orientation applied, transparency over white), downscaled."""
    with Image.open(path) as im:
        if max_side and im.format == "JPEG":
            im.draft("RGB", (max_side, max_side))  # decode at a reduced scale: much faster
        im = ImageOps.exif_transpose(im)
        if im.mode in ("RGBA", "LA", "P", "PA"):
            im = im.convert("RGBA")
            white = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(white, im)
        im = im.convert("RGB")
        if max_side and max(im.size) > max_side:
            im.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
        return np.asarray(im)


class PairDataset(Dataset):
    """Item ``i`` is two edited views of image ``i``: uint8 tensors (size, size, 3).

    ``load_side`` bounds the decoded resolution (the edits then run at ~1.5 x ``size``).
    Other pictures of the folder serve as backgrounds for the paste edit.
    """

    def __init__(
        self,
        files: Sequence[str | Path],
        size: int,
        load_side: int | None = None,
        rates: EditRates | None = None,
    ):
        if not files:
            raise ValueError("no training images")
        self.files = [str(f) for f in files]
        self.size = size
        self.load_side = load_side or 2 * size
        self.edits = CopyEdits(size, rates, background=self._background)
        self._rng: np.random.Generator | None = None

    def __len__(self) -> int:
        return len(self.files)

    @property
    def rng(self) -> np.random.Generator:
        """Per-process generator, seeded from torch's per-worker seed (differs between workers)."""
        if self._rng is None:
            info = torch.utils.data.get_worker_info()
            seed = info.seed if info is not None else torch.initial_seed()
            self._rng = np.random.default_rng(seed % (2**63))
        return self._rng

    def _background(self, rng: np.random.Generator) -> np.ndarray | None:
        if rng.random() < 0.25:
            return None  # plain / gradient / noise background instead
        return load_rgb(self.files[int(rng.integers(len(self.files)))], self.load_side)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = load_rgb(self.files[index], self.load_side)
        rng = self.rng
        a = self.edits(image, rng)
        b = self.edits(image, rng)
        return torch.from_numpy(np.ascontiguousarray(a)), torch.from_numpy(np.ascontiguousarray(b))


class EndlessSampler(Sampler[int]):
    """Shuffled passes over the dataset, one after another, without end.

    A small folder makes an epoch only a few batches long; restarting the loader at every
    epoch would leave the GPU waiting while the workers refill. This keeps them busy.
    """

    def __init__(self, size: int, seed: int = 0):
        self.size = size
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed)
        while True:
            yield from torch.randperm(self.size, generator=g).tolist()


def grid_tiles(image: np.ndarray, side: int, max_cuts: int = 4) -> list[np.ndarray]:
    """Non-overlapping tiles of a large picture, at least ``side`` px each (none if it is not that large).

    The short side is cut into ``k`` = min(``max_cuts``, short // ``side``) parts and the long
    side into as many parts of the same length as fit. Tiles never overlap, so no tile is a
    crop of another: they are fair negatives for each other.
    """
    h, w = image.shape[:2]
    k = min(max_cuts, min(h, w) // side)
    if k < 2:
        return []
    cell = min(h, w) // k
    rows, cols = h // cell, w // cell
    y0, x0 = (h - rows * cell) // 2, (w - cols * cell) // 2
    return [
        image[y0 + r * cell : y0 + (r + 1) * cell, x0 + c * cell : x0 + (c + 1) * cell]
        for r in range(rows)
        for c in range(cols)
    ]


def texture(image: np.ndarray) -> float:
    """Mean absolute grey-level gradient of a 256 px thumbnail: near 0 for flat skies and gradients."""
    h, w = image.shape[:2]
    f = 256 / max(h, w)
    small = np.asarray(
        Image.fromarray(image).convert("L").resize((max(2, round(w * f)), max(2, round(h * f)))),
        dtype=np.float32,
    )
    return float((np.abs(np.diff(small, axis=0)).mean() + np.abs(np.diff(small, axis=1)).mean()) / 2)


def prepare_images(
    sources: Iterable[str | Path],
    out: str | Path,
    side: int = 384,
    max_cuts: int = 4,
    min_texture: float = 3.0,
    quality: int = 88,
) -> list[Path]:
    """Write a compact training folder from source pictures; returns the files written.

    Each source is written downscaled to ``side``; a picture large enough to hold several
    ``side``-px tiles (wallpapers) is written as its non-overlapping tiles instead (see
    :func:`grid_tiles`), which multiplies the distinct training pictures without ever
    pairing an image with a crop of itself as a negative. Tiles flatter than
    ``min_texture`` (see :func:`texture`: empty sky, smooth gradients) are left out: no edit
    could make them recognisable, and they only teach the loss to fight noise.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for src in list_images(sources):
        tag = hashlib.sha1(str(src).encode()).hexdigest()[:10]
        try:
            image = load_rgb(src)
        except (OSError, ValueError) as exc:
            print(f"skipped {src}: {exc}")
            continue
        tiles = [t for t in grid_tiles(image, side, max_cuts) if texture(t) >= min_texture]
        pieces = tiles or [image]
        for i, piece in enumerate(pieces):
            pil = Image.fromarray(piece)
            pil.thumbnail((side, side), Image.Resampling.LANCZOS)
            path = out / f"{src.stem[:40]}-{tag}-{i}.jpg"
            pil.save(path, "JPEG", quality=quality)
            written.append(path)
    return written
