"""Reference copies and their keypoints kept on disk: the same features as a fresh extraction."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from authcheck.app import Authcheck
from authcheck.refstore import ReferenceStore
from vision.imageio import LoadedImage
from vision.local_features import extract
from vision.views import mirrored


def _photo_with_alpha() -> LoadedImage:
    from skimage import data

    rgb = np.ascontiguousarray(data.coffee()[:, :560])
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:, :60] = 0  # a transparent strip: the features carry a mask
    return LoadedImage(rgb=rgb, alpha=alpha, original_size=(560, 400), format="PNG")


@pytest.fixture()
def stored(tmp_path: Path) -> tuple[Path, str, LoadedImage]:
    root = tmp_path / "refs"
    image = _photo_with_alpha()
    rel = ReferenceStore(root).save(hashlib.sha256(b"x").hexdigest(), image)
    return root, rel, image


@pytest.mark.parametrize("mirror", [False, True])
def test_features_read_back_from_disk_equal_a_fresh_extraction(
    stored: tuple[Path, str, LoadedImage], mirror: bool
) -> None:
    root, rel, _ = stored
    first = ReferenceStore(root).features(rel, nfeatures=700, mirror=mirror)
    files = list((root.parent / rel).parent.glob("*.npz"))
    assert len(files) == 1  # written beside the stored copy
    again = ReferenceStore(root).features(rel, nfeatures=700, mirror=mirror)  # a new process: from disk
    assert again._gray is None  # the image is not decoded until asked for
    img = ReferenceStore(root).load(rel)
    rgb, alpha = (mirrored(img.rgb), mirrored(img.alpha)) if mirror else (img.rgb, img.alpha)
    fresh = extract(rgb, max_side=480, alpha=alpha, nfeatures=700)
    for f in (first, again):
        assert np.array_equal(f.points, fresh.points) and np.array_equal(f.descriptors, fresh.descriptors)
        assert f.scale == fresh.scale and f.size == fresh.size
        assert np.array_equal(f.gray, fresh.gray)
        assert f.mask is not None and fresh.mask is not None and np.array_equal(f.mask, fresh.mask)


def test_a_damaged_features_file_is_extracted_again(stored: tuple[Path, str, LoadedImage]) -> None:
    root, rel, _ = stored
    good = ReferenceStore(root).features(rel, nfeatures=700)
    (cache,) = (root.parent / rel).parent.glob("*.npz")
    cache.write_bytes(b"PK\x03\x04 not a zip")
    again = ReferenceStore(root).features(rel, nfeatures=700)
    assert np.array_equal(again.descriptors, good.descriptors) and again._gray is not None
    assert ReferenceStore(root).features(rel, nfeatures=700)._gray is None  # rewritten, readable


def test_registration_prepares_keypoints_when_asked(tmp_path: Path, photos: dict[str, Path]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.json").write_text('{"prepare_keypoints": true}')
    app = Authcheck(home)
    try:
        app.add_brand("acme")
        report = app.register([photos["astronaut"]], "acme")
        (ref,) = app.catalogue.get_references(report.registered).values()
        names = sorted(p.name for p in (app.home / ref.stored_path).parent.glob("*.npz"))
        assert len(names) == 2 and any("-m." in n for n in names)  # as is and mirrored
    finally:
        app.close()
