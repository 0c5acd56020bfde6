"""Stored copies of reference images (for evidence and verification) and their cached features."""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image

from index.vector_index import atomic_write_bytes
from vision.imageio import LoadedImage, load_image_full
from vision.local_features import LocalFeatures, extract
from vision.views import mirrored


class ReferenceStore:
    """Content-addressed copies under ``<home>/refs`` plus an LRU cache of local features."""

    def __init__(self, root: Path, max_side: int = 1024, feature_max_side: int = 480, cache_size: int = 2048):
        self.root = root
        self.max_side = max_side
        self.feature_max_side = feature_max_side
        self._cache: OrderedDict[tuple, LocalFeatures] = OrderedDict()
        self._cache_size = cache_size
        # Verifying one candidate asks for up to 8 feature sets (orientations, sizes, kinds).
        self._images: OrderedDict[str, LoadedImage] = OrderedDict()
        self._images_size = 16
        self._lock = threading.Lock()

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
        with self._lock:
            hit = self._images.get(rel)
            if hit is not None:
                self._images.move_to_end(rel)
                return hit
        img = self.load(rel)
        with self._lock:
            self._images[rel] = img
            while len(self._images) > self._images_size:
                self._images.popitem(last=False)
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
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        img = self._decoded(rel)
        rgb, alpha = img.rgb, img.alpha
        if mirror:
            rgb = mirrored(rgb)
            alpha = None if alpha is None else mirrored(alpha)
        feats = extract(rgb, max_side=side, alpha=alpha, method=method, nfeatures=nfeatures)
        with self._lock:
            self._cache[key] = feats
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return feats
