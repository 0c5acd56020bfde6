"""Shared fixtures: small real photos (from scikit-image's CC0 data) and a fresh authcheck home."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _skimage(name: str) -> np.ndarray:
    from skimage import data

    img = getattr(data, name)()
    if isinstance(img, tuple):  # stereo_motorcycle returns (left, right, disparity)
        img = img[0]
    return img


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A few distinct CC0 photos saved as JPEG: name -> path."""
    root = tmp_path_factory.mktemp("photos")
    out = {}
    for name in ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field"):
        path = root / f"{name}.jpg"
        Image.fromarray(_skimage(name)).save(path, "JPEG", quality=92)
        out[name] = path
    return out


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    """An empty authcheck home directory."""
    path = tmp_path / "home"
    path.mkdir()
    return path
