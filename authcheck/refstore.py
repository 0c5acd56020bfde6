"""Stored copies of reference images (for evidence and verification) and their cached features."""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
from PIL import Image

from index.vector_index import atomic_write_bytes
from vision.imageio import LoadedImage, load_image_full
from vision.local_features import LocalFeatures, extract
from vision.views import mirrored

V = TypeVar("V")


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
        """Local features of a stored reference (or of its mirror image), cached."""
        side = max_side or self.feature_max_side
        key = (rel, side, method, nfeatures, mirror)
        hit = self._features.get(key)
        if hit is not None:
            return hit
        img = self._decoded(rel)
        rgb, alpha = img.rgb, img.alpha
        if mirror:
            rgb = mirrored(rgb)
            alpha = None if alpha is None else mirrored(alpha)
        feats = extract(rgb, max_side=side, alpha=alpha, method=method, nfeatures=nfeatures)
        self._features.put(key, feats)
        return feats
