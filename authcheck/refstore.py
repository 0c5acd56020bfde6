"""Stored copies of reference images (for evidence and verification) and their cached features.

Keypoints of a stored copy are kept in memory (LRU) and on disk beside it
(``<sha>.<method>-<side>-<n>[-m].v1.kp``, see :mod:`vision.feature_files`), so a candidate
seen by an earlier process, or prepared at registration, costs a small file read instead of
a decode and a keypoint extraction; its feature image is decoded only if the verification
gets that far.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Hashable
from contextlib import suppress
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
from PIL import Image

from index.vector_index import atomic_write_bytes
from vision.feature_files import features_from_bytes, features_to_bytes
from vision.imageio import LoadedImage, load_image_full
from vision.local_features import LocalFeatures, extract, feature_image
from vision.views import mirrored

V = TypeVar("V")
FEATURES_VERSION = "v1"  # in the cache file names: bump when extraction changes


class _LRU(Generic[V]):
    """A thread-safe least-recently-used cache holding at most ``size`` entries."""

    def __init__(self, size: int) -> None:
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class ReferenceStore:
    """Content-addressed copies under ``<home>/refs`` plus an LRU cache of local features."""

    def __init__(self, root: Path, max_side: int = 1024, feature_max_side: int = 480, cache_size: int = 2048):
        self.root = root
        self.max_side = max_side
        self.feature_max_side = feature_max_side
        self._features: _LRU[LocalFeatures] = _LRU(cache_size)
        # Verifying one candidate asks for up to 8 feature sets (orientations, sizes, kinds).
        self._images: _LRU[LoadedImage] = _LRU(16)

    def save(self, sha256: str, image: LoadedImage) -> str:
        """Store a downscaled copy (PNG when it has transparency, else JPEG); returns its relative path."""
        keep_alpha = image.alpha is not None and int(image.alpha.min()) < 250
        ext = "png" if keep_alpha else "jpg"
        rel = f"refs/{sha256[:2]}/{sha256}.{ext}"
        path = self.root.parent / rel
        if path.exists():
            return rel
        if keep_alpha:
            pil = Image.fromarray(np.dstack([image.rgb, image.alpha]), "RGBA")
        else:
            pil = Image.fromarray(image.rgb, "RGB")
        if max(pil.size) > self.max_side:
            pil.thumbnail((self.max_side, self.max_side), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        if keep_alpha:
            pil.save(buf, "PNG", optimize=False)
        else:
            pil.save(buf, "JPEG", quality=92)
        atomic_write_bytes(path, buf.getvalue())
        return rel

    def path(self, rel: str) -> Path:
        """Absolute path of a stored copy."""
        return self.root.parent / rel

    def beside(self, rel: str, suffix: str) -> Path:
        """A file kept beside a stored copy: its name's stem (the sha256) plus ``suffix``."""
        return self.path(rel).with_name(Path(rel).stem + suffix)

    def load(self, rel: str) -> LoadedImage:
        """Decode a stored copy (alpha kept)."""
        return load_image_full(self.path(rel))

    def _decoded(self, rel: str) -> LoadedImage:
        """A stored copy, decoded once for the several feature sets asked of it in a row."""
        img = self._images.get(rel)
        if img is None:
            img = self.load(rel)
            self._images.put(rel, img)
        return img

    def features(
        self,
        rel: str,
        *,
        method: str = "orb",
        nfeatures: int = 1500,
        max_side: int | None = None,
        mirror: bool = False,
    ) -> LocalFeatures:
        """Local features of a stored reference (or of its mirror image): from memory, disk, or extracted."""
        side = max_side or self.feature_max_side
        key = (rel, side, method, nfeatures, mirror)
        hit = self._features.get(key)
        if hit is not None:
            return hit
        cache = self.beside(
            rel, f".{method}-{side}-{nfeatures}{'-m' if mirror else ''}.{FEATURES_VERSION}.kp"
        )
        feats, rewrite = None, True
        for path in (cache, cache.with_suffix(".npz")):  # the record, else an earlier version's .npz
            with suppress(OSError, ValueError):  # missing or damaged: the next, or extracted again
                feats = features_from_bytes(path.read_bytes(), lambda: self._feature_image(rel, side, mirror))
                rewrite = path != cache
                break
        if feats is None:
            rgb, alpha = self._oriented(rel, mirror)
            feats = extract(rgb, max_side=side, alpha=alpha, method=method, nfeatures=nfeatures)
        if rewrite:
            with suppress(OSError):  # a read-only home still screens, from memory
                atomic_write_bytes(cache, features_to_bytes(feats))
        self._features.put(key, feats)
        return feats

    def _oriented(self, rel: str, mirror: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """The stored copy's pixels and alpha, mirrored if asked."""
        img = self._decoded(rel)
        if not mirror:
            return img.rgb, img.alpha
        return mirrored(img.rgb), None if img.alpha is None else mirrored(img.alpha)

    def _feature_image(self, rel: str, side: int, mirror: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """The feature image and mask that :func:`extract` computed for features read from disk."""
        rgb, alpha = self._oriented(rel, mirror)
        gray, _, mask = feature_image(rgb, side, alpha)
        return gray, mask
