"""Logo proposals from keypoints: logo keypoints, the FAISS voting index, placements, and the app path."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from authcheck.app import Authcheck
from authcheck.config import Settings
from index.logo_keypoint_index import IVF_FROM, SAME_POINT, LogoKeypointIndex
from vision import logo_keypoints as lk
from vision.logo_features import logo_shape
from vision.logo_keypoints import logo_keypoints, placement_from_matches
from vision.views import box_iou

BRAND = "inkwell"


def _badge(size: int = 360, seed: int = 1) -> Image.Image:
    """A badge logo (RGBA): a light plate with detailed, asymmetric marks on it."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    ink = (30, 40, 90, 255)
    d.rounded_rectangle(
        [6, 6, size - 6, size - 6], radius=40, fill=(235, 225, 200, 255), outline=ink, width=6
    )
    for _ in range(10):
        cx, cy = rng.integers(60, size - 60, 2)
        n = int(rng.integers(3, 7))
        r = rng.uniform(12, 40, n * 2)
        pts = [(cx + r[i] * np.cos(np.pi * i / n), cy + r[i] * np.sin(np.pi * i / n)) for i in range(2 * n)]
        d.polygon(pts, fill=ink if rng.random() < 0.5 else (170, 40, 30, 255))
    return img


def _paste(photo: np.ndarray, logo: Image.Image, width_frac: float, angle: float, at: tuple[int, int]):
    """``logo`` scaled to ``width_frac`` of the photo, rotated, composited at ``at``; returns image and box."""
    h, w = photo.shape[:2]
    lw = round(width_frac * w)
    rgba = np.asarray(logo.resize((lw, lw), Image.Resampling.LANCZOS), np.float32)
    centre = (lw / 2, lw / 2)
    rot = cv2.getRotationMatrix2D(centre, angle, 1.0)
    rgba = cv2.warpAffine(rgba, rot, (lw, lw))
    x, y = at
    out = photo.astype(np.float32).copy()
    a = rgba[..., 3:] / 255.0
    out[y : y + lw, x : x + lw] = out[y : y + lw, x : x + lw] * (1 - a) + rgba[..., :3] * a
    ys, xs = np.nonzero(rgba[..., 3] > 90)
    return np.clip(out, 0, 255).astype(np.uint8), [
        x + xs.min(),
        y + ys.min(),
        x + xs.max() + 1,
        y + ys.max() + 1,
    ]


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The badge logo file and a listing showing it (25% wide, rotated 8 degrees)."""
    from skimage import data

    tmp = tmp_path_factory.mktemp("kp-logo")
    logo = _badge()
    logo_path = tmp / "inkwell.png"
    logo.save(logo_path)
    photo = cv2.resize(data.astronaut(), (1000, 750), interpolation=cv2.INTER_AREA)  # searched at 800 px
    listing, box = _paste(photo, logo, 0.25, 8.0, (580, 380))
    listing_path = tmp / "listing.jpg"
    Image.fromarray(listing).save(listing_path, quality=92)
    return {"logo": logo_path, "listing": listing_path, "box": box}


def _app(home: Path, drawn: dict, **overrides) -> Authcheck:
    # contour checks no placement can pass: what is found was found by keypoints alone
    settings = {"logo_min_coverage": 1.01, "logo_keypoint_coverage": 1.01, **overrides}
    app = Authcheck(home, settings=Settings(**settings))
    app.add_brand(BRAND)
    app.authorise(BRAND, ["inkwell-store"])
    app.register([drawn["logo"]], brand=BRAND, kind="logo")
    return app


@pytest.mark.parametrize("side", [800, 0], ids=["own-keypoints", "copy-check-keypoints"])
def test_keypoints_alone_place_a_logo_and_policy_still_applies(home: Path, drawn: dict, side: int) -> None:
    app = _app(home, drawn, logo_keypoint_side=side)
    try:
        found = [
            m
            for m in app.screen_one("l.jpg", drawn["listing"], seller="stranger").matches
            if m.kind == "logo"
        ]
        assert len(found) == 1
        m = found[0]
        assert m.signal == "keypoints" and m.verdict == "logo_misuse" and m.brand == BRAND
        assert m.inliers >= app.settings.logo_keypoint_sure
        assert 0.5 <= m.score < 1.0
        assert box_iou(m.box, drawn["box"]) >= 0.6
        # evidence: the agreeing keypoint matches, logo px beside original listing px
        assert len(m.pairs) > 0
        box = drawn["box"]
        for (rx, ry), (lx, ly) in m.pairs:
            assert 0 <= rx <= 360 and 0 <= ry <= 360
            assert box[0] - 10 <= lx <= box[2] + 10 and box[1] - 10 <= ly <= box[3] + 10
        ok = app.screen_one("l.jpg", drawn["listing"], seller="inkwell-store", record=False)
        assert [x.verdict for x in ok.matches if x.kind == "logo"] == ["logo_authorised"]
    finally:
        app.close()


@pytest.mark.parametrize(
    "overrides",
    [{"logo_keypoints": False}, {"logo_keypoint_sure": 100_000}],
    ids=["without-keypoint-proposals", "too-few-agreeing-keypoints-to-stand-alone"],
)
def test_the_logo_is_not_placed_when_keypoints_may_not_decide(
    home: Path, drawn: dict, overrides: dict
) -> None:
    app = _app(home, drawn, **overrides)
    try:
        result = app.screen_one("l.jpg", drawn["listing"], seller="stranger", record=False)
        assert not [m for m in result.matches if m.kind == "logo"]
    finally:
        app.close()


def test_keypoint_proposals_respect_the_brand_filter(home: Path, drawn: dict, tmp_path: Path) -> None:
    app = _app(home, drawn)
    try:
        other = tmp_path / "other.png"
        _badge(seed=7).save(other)
        app.add_brand("other-brand")
        app.register([other], brand="other-brand", kind="logo")
        mine = app.screen_one("l.jpg", drawn["listing"], seller="stranger", record=False, brand=BRAND)
        assert [m.brand for m in mine.matches if m.kind == "logo"] == [BRAND]
        theirs = app.screen_one(
            "l.jpg", drawn["listing"], seller="stranger", record=False, brand="other-brand"
        )
        assert not [m for m in theirs.matches if m.kind == "logo"]
    finally:
        app.close()


def test_a_logo_change_rederives_only_the_changed_logos(home: Path, drawn: dict, tmp_path: Path) -> None:
    app = _app(home, drawn)
    try:
        app.logos.refresh()
        (first_key,) = app.logos._derived
        first = app.logos._derived[first_key]
        other = tmp_path / "other.png"
        _badge(seed=7).save(other)
        app.register([other], brand=BRAND, kind="logo")
        app.logos.refresh()
        assert len(app.logos) == 2 and len(app.logos._set.keypoints) > len(first.points)
        assert app.logos._derived[first_key] is first  # kept, not extracted again
        app.remove([first_key[0]])
        app.logos.refresh()
        assert first_key not in app.logos._derived and len(app.logos) == 1
        # the logo shown in the listing was the removed one: nothing is found any more
        result = app.screen_one("l.jpg", drawn["listing"], seller="stranger", record=False)
        assert not [m for m in result.matches if m.kind == "logo"]
    finally:
        app.close()


def test_a_keypoint_proposal_is_verified_with_less_of_its_contour(home: Path, drawn: dict) -> None:
    # neither the silhouette check alone (coverage 1.01) nor the keypoints alone may decide here:
    # only the keypoint proposal's own, lower coverage bar can let the logo through
    app = _app(home, drawn, logo_keypoint_sure=100_000, logo_keypoint_coverage=0.3)
    try:
        result = app.screen_one("l.jpg", drawn["listing"], seller="stranger", record=False)
        found = [m for m in result.matches if m.kind == "logo"]
        assert len(found) == 1 and found[0].signal == "keypoints"
        assert 0.3 <= found[0].score <= 1.0  # the contour coverage of the refined placement
        assert found[0].inliers >= app.settings.logo_keypoint_min_inliers
        assert box_iou(found[0].box, drawn["box"]) >= 0.6
    finally:
        app.close()


def test_logo_keypoints_are_in_the_canonical_frame() -> None:
    canvas = Image.new("RGBA", (600, 500), (0, 0, 0, 0))
    canvas.paste(_badge(240), (300, 40))  # ink well away from the image origin
    rgba = np.asarray(canvas)
    rgb, alpha = np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
    shape = logo_shape(rgb, alpha)
    assert shape is not None
    points, descriptors = logo_keypoints(rgb, alpha, shape)
    assert len(points) > 50 and descriptors.shape == (len(points), 32) and descriptors.dtype == np.uint8
    # back in logo pixels, keypoints sit on (or within a few px of) the badge
    source = shape.to_source(points)
    assert source[:, 0].min() > 300 - 8 and source[:, 0].max() < 540 + 8
    assert source[:, 1].min() > 40 - 8 and source[:, 1].max() < 280 + 8
    # an opaque logo gets one drawing (no background to swap), a transparent one two
    flat = np.where(alpha[..., None] > 0, rgb, 255).astype(np.uint8)
    opaque_shape = logo_shape(flat, None)
    assert opaque_shape is not None
    opaque_points, _ = logo_keypoints(flat, None, opaque_shape)
    assert 0 < len(opaque_points) < len(points)
    back = opaque_shape.to_source(opaque_points)
    assert back[:, 0].min() > 300 - 8 and back[:, 1].max() < 280 + 8


def test_placement_from_matches_recovers_a_similarity_despite_outliers() -> None:
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 200, (40, 2)).astype(np.float32)
    angle, scale, shift = np.deg2rad(10), 0.6, np.array([300.0, 120.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = (src @ rot.T + shift).astype(np.float32)
    dst[:12] = rng.uniform(0, 600, (12, 2))  # 30% wrong matches
    fit = placement_from_matches(src, dst, tolerance=2.0, min_inliers=6)
    assert fit is not None
    h, agree = fit
    assert agree[12:].all() and agree[:12].sum() <= 2
    np.testing.assert_allclose(h[:2, :2], rot, atol=1e-3)
    np.testing.assert_allclose(h[:2, 2], shift, atol=0.2)
    assert placement_from_matches(src[:5], dst[:5], min_inliers=6) is None


def _bits(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 256, (n, 32), dtype=np.uint8)


def _flip(d: np.ndarray, bits: int) -> np.ndarray:
    """``d`` with its first ``bits`` bits flipped."""
    out = np.unpackbits(d.copy())
    out[:bits] ^= 1
    return np.packbits(out)


def test_votes_skip_same_point_rivals_but_not_other_logos() -> None:
    rng = np.random.default_rng(1)
    a, b = _bits(rng, 1)[0], _bits(rng, 1)[0]
    stored = np.stack([a, _flip(a, 4), b, _flip(b, 6), *_bits(rng, 20)])  # b and its rival: 6 bits apart
    owner = np.array([0, 0, 0, 1] + [2] * 20)
    points = np.array([[10, 10], [10 + SAME_POINT / 2, 10], [80, 80], [5, 5]] + [[0, 0]] * 20, np.float32)
    index = LogoKeypointIndex(stored, owner, points)
    votes = index.votes(np.stack([_flip(a, 2), _flip(b, 3), _flip(a, 100)]), max_distance=64, ratio=0.8)
    # a: its rival is the same point of the same logo (another drawing): it votes for logo 0
    # b: a near-identical descriptor of logo 1 rivals it: no vote; the far query: no vote
    assert votes.listing.tolist() == [0] and votes.owner.tolist() == [0]
    np.testing.assert_allclose(votes.logo_points[0], [10, 10])


def test_large_logo_sets_use_an_inverted_file_with_the_same_votes_for_exact_matches() -> None:
    rng = np.random.default_rng(2)
    stored = _bits(rng, IVF_FROM + 500)
    owner = np.arange(len(stored)) // 200
    points = rng.uniform(0, 200, (len(stored), 2)).astype(np.float32)
    index = LogoKeypointIndex(stored, owner, points)
    assert "IVF" in type(index.index).__name__
    picks = rng.choice(len(stored), 50, replace=False)
    votes = index.votes(stored[picks], max_distance=64, ratio=0.8)
    assert votes.listing.tolist() == list(range(50))
    assert votes.owner.tolist() == owner[picks].tolist()


def test_a_wide_wordmark_drawn_small_still_gives_keypoints(monkeypatch: pytest.MonkeyPatch) -> None:
    # a 4.5:1 wordmark drawn 128 px long is 28 px tall: without room around it ORB's border skips it all
    alpha = np.zeros((100, 460), np.uint8)
    cv2.putText(alpha, "HCWL", (10, 85), cv2.FONT_HERSHEY_SIMPLEX, 3.0, 255, 10)
    rgb = np.zeros((100, 460, 3), np.uint8)
    rgb[:] = (20, 60, 160)
    shape = logo_shape(rgb, alpha)
    assert shape is not None
    monkeypatch.setattr(lk, "RENDER_SIDES", (128,))
    points, _ = logo_keypoints(rgb, alpha, shape)
    assert len(points) > 100
    source = shape.to_source(points)  # and they lie on the wordmark, not on the drawing's border
    assert source[:, 0].min() > -8 and source[:, 0].max() < 460 + 8
    assert source[:, 1].min() > -8 and source[:, 1].max() < 100 + 8
    monkeypatch.setattr(lk, "RENDER_BORDER", 0)  # the old 15% margin only
    assert len(logo_keypoints(rgb, alpha, shape)[0]) < 20
