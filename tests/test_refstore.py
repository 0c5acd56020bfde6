"""Reference copies and their keypoints kept on disk: the same features as a fresh extraction."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest

from authcheck.app import Authcheck
from authcheck.refstore import ReferenceStore
from vision.feature_files import features_from_bytes, features_to_bytes
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
    files = list((root.parent / rel).parent.glob("*.kp"))
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
    (cache,) = (root.parent / rel).parent.glob("*.kp")
    for damage in (cache.read_bytes()[:-5], cache.read_bytes()[:20], b"PK\x03\x04 not a zip"):
        cache.write_bytes(damage)
        again = ReferenceStore(root).features(rel, nfeatures=700)
        assert np.array_equal(again.descriptors, good.descriptors) and again._gray is not None
        assert ReferenceStore(root).features(rel, nfeatures=700)._gray is None  # rewritten, readable


def test_keypoints_saved_as_npz_by_earlier_versions_are_read_and_rewritten(
    stored: tuple[Path, str, LoadedImage],
) -> None:
    root, rel, _ = stored
    good = ReferenceStore(root).features(rel, nfeatures=700, mirror=True)
    (cache,) = (root.parent / rel).parent.glob("*.kp")
    buf = io.BytesIO()  # the format written before the .kp records
    w, h = good.size
    np.savez(
        buf,
        points=good.points,
        descriptors=good.descriptors,
        scale=np.float64(good.scale),
        size=np.asarray([w, h]),
    )
    cache.with_suffix(".npz").write_bytes(buf.getvalue())
    cache.unlink()
    old = ReferenceStore(root).features(rel, nfeatures=700, mirror=True)
    assert old._gray is None  # read from the .npz, not extracted again
    assert np.array_equal(old.points, good.points) and np.array_equal(old.descriptors, good.descriptors)
    assert old.scale == good.scale and old.size == good.size
    assert cache.exists()  # and kept as a record from now on


@pytest.mark.parametrize("method", ["orb", "sift"])
def test_feature_records_round_trip_both_kinds_and_no_features(method: str) -> None:
    from skimage import data

    for image in (np.ascontiguousarray(data.astronaut()), np.full((64, 64, 3), 128, np.uint8)):
        feats = extract(image, nfeatures=300, method=method)
        back = features_from_bytes(features_to_bytes(feats), lambda f=feats: (f.gray, None))
        assert back.descriptors.dtype == feats.descriptors.dtype
        assert np.array_equal(back.points, feats.points) and np.array_equal(
            back.descriptors, feats.descriptors
        )
        assert back.scale == feats.scale and back.size == feats.size
        assert back.points.flags.writeable


def test_registration_prepares_keypoints_when_asked(tmp_path: Path, photos: dict[str, Path]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.json").write_text('{"prepare_keypoints": true}')
    app = Authcheck(home)
    try:
        app.add_brand("acme")
        report = app.register([photos["astronaut"]], "acme")
        (ref,) = app.catalogue.get_references(report.registered).values()
        names = sorted(p.name for p in (app.home / ref.stored_path).parent.glob("*.kp"))
        assert len(names) == 2 and any("-m." in n for n in names)  # as is and mirrored
    finally:
        app.close()
