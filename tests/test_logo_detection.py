"""Logo misuse end to end: register a drawn logo for a brand, screen listings that show it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from authcheck.app import Authcheck
from authcheck.config import Settings
from vision.views import box_iou

BRAND = "acme"
SELLER = "shop-1"


def _mark(kind: str, size: int = 320) -> Image.Image:
    """A one-colour RGBA logo on a transparent background."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    ink = (200, 30, 40, 255)
    s = size / 320
    if kind == "registered":  # ring with a notch, a bar and a triangle: an asymmetric mark
        d.ellipse([20 * s, 20 * s, 200 * s, 200 * s], fill=ink)
        d.ellipse([65 * s, 65 * s, 155 * s, 155 * s], fill=(0, 0, 0, 0))
        d.rectangle([100 * s, 10 * s, 130 * s, 70 * s], fill=(0, 0, 0, 0))
        d.rectangle([230 * s, 30 * s, 270 * s, 290 * s], fill=ink)
        d.polygon([(40 * s, 300 * s), (200 * s, 230 * s), (200 * s, 300 * s)], fill=ink)
    else:  # another brand's mark: a star and a bar
        pts = []
        for i in range(10):
            r = (150 if i % 2 == 0 else 60) * s
            a = np.pi / 2 + i * np.pi / 5
            pts.append((160 * s + r * np.cos(a), 160 * s - r * np.sin(a)))
        d.polygon(pts, fill=ink)
        d.rectangle([20 * s, 290 * s, 300 * s, 310 * s], fill=ink)
    return img


def _paste(photo: np.ndarray, logo: Image.Image, width_frac: float, angle: float, colour, opacity: float, at):
    """Paste ``logo`` recoloured, rotated and semi-transparent; returns the listing and the logo's box."""
    h, w = photo.shape[:2]
    lw = round(width_frac * w)
    alpha = np.asarray(logo.getchannel("A").resize((lw, lw), Image.Resampling.LANCZOS), np.float32) / 255
    pad = lw // 2
    alpha = cv2.copyMakeBorder(alpha, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    c = alpha.shape[0] / 2
    rot = cv2.getRotationMatrix2D((c, c), angle, 1.0)
    alpha = cv2.warpAffine(alpha, rot, alpha.shape[::-1]) * opacity
    x, y = at
    out = photo.astype(np.float32).copy()
    region = out[y : y + alpha.shape[0], x : x + alpha.shape[1]]
    a = alpha[: region.shape[0], : region.shape[1], None]
    region[:] = region * (1 - a) + np.array(colour, np.float32) * a
    ys, xs = np.nonzero(alpha > 0.35)
    box = [x + xs.min(), y + ys.min(), x + xs.max() + 1, y + ys.max() + 1]
    return np.clip(out, 0, 255).astype(np.uint8), box


def _save(tmp: Path, name: str, rgb: np.ndarray) -> Path:
    path = tmp / name
    Image.fromarray(rgb).save(path, "JPEG", quality=90)
    return path


@pytest.fixture(scope="module")
def listings(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The logo file, a listing showing it (small, rotated, recoloured, 70% opaque), one with another mark."""
    from skimage import data

    tmp = tmp_path_factory.mktemp("logo-listings")
    logo_path = tmp / "mark.png"
    _mark("registered").save(logo_path)
    photo = data.coffee()  # 400 x 600
    misuse, box = _paste(photo, _mark("registered"), 0.08, 10.0, (245, 245, 235), 0.7, (430, 40))
    other, _ = _paste(photo, _mark("other"), 0.12, -5.0, (20, 20, 20), 0.9, (60, 250))
    # red on a green plate of the same gray level: visible only in colour
    plate = photo.copy()
    plate[150:390, 300:580] = (40, 160, 40)
    isoluminant, iso_box = _paste(plate, _mark("registered"), 0.15, -6.0, (255, 46, 60), 1.0, (370, 190))
    return {
        "logo": logo_path,
        "misuse": _save(tmp, "misuse.jpg", misuse),
        "box": box,
        "other": _save(tmp, "other.jpg", other),
        "isoluminant": _save(tmp, "isoluminant.jpg", isoluminant),
        "iso_box": iso_box,
    }


@pytest.fixture()
def app(home: Path, listings: dict):
    app = Authcheck(home)
    app.add_brand(BRAND, [SELLER])
    app.add_brand("other-brand")
    yield app
    app.close()


def _logo_matches(result):
    return [m for m in result.matches if m.kind == "logo"]


def test_small_rotated_recoloured_logo_is_misuse_and_authorised_seller_is_not_flagged(app, listings) -> None:
    ref_id = app.register([listings["logo"]], BRAND, kind="logo").registered[0]

    result = app.screen_one("misuse.jpg", listings["misuse"], seller="stranger", record=False)
    assert result.verdict == "logo_misuse" and result.flagged
    (match,) = _logo_matches(result)
    assert match.reference_id == ref_id and match.brand == BRAND
    assert box_iou(match.box, listings["box"]) > 0.5
    # the score is the share of the logo's contour found in the listing, at least the acceptance floor
    assert app.settings.logo_min_coverage <= match.score <= 1.0
    assert len(match.outline) == 4 and match.pairs
    # evidence pairs: reference points inside the stored logo, listing points inside the box
    ref_pts = np.array([p[0] for p in match.pairs])
    assert ref_pts.min() >= -1 and ref_pts.max() <= 321
    lst = np.array([p[1] for p in match.pairs])
    x0, y0, x1, y1 = listings["box"]
    assert (lst[:, 0] > x0 - 5).all() and (lst[:, 0] < x1 + 5).all() and (lst[:, 1] > y0 - 5).all()

    ok = app.screen_one("misuse.jpg", listings["misuse"], seller=SELLER, record=False)
    assert ok.verdict == "logo_authorised" and not ok.flagged
    assert _logo_matches(ok)[0].reference_id == ref_id

    app.revoke(BRAND, [SELLER])
    again = app.screen_one("misuse.jpg", listings["misuse"], seller=SELLER, record=False)
    assert again.verdict == "logo_misuse"


def test_unregistered_logo_and_removed_logo_are_not_found(app, listings) -> None:
    ref_id = app.register([listings["logo"]], BRAND, kind="logo").registered[0]
    other = app.screen_one("other.jpg", listings["other"], seller="stranger", record=False)
    assert not _logo_matches(other) and other.verdict == "clean"

    app.remove([ref_id])
    gone = app.screen_one("misuse.jpg", listings["misuse"], seller="stranger", record=False)
    assert not _logo_matches(gone) and gone.verdict == "clean"


def test_brand_filter_limits_logo_search(app, listings) -> None:
    app.register([listings["logo"]], BRAND, kind="logo")
    assert (
        app.screen_one("misuse.jpg", listings["misuse"], record=False, brand=BRAND).verdict == "logo_misuse"
    )
    assert (
        app.screen_one("misuse.jpg", listings["misuse"], record=False, brand="other-brand").verdict == "clean"
    )


def test_logo_with_no_gray_level_contrast_is_found_by_its_colour(app, listings) -> None:
    ref_id = app.register([listings["logo"]], BRAND, kind="logo").registered[0]
    rgb = np.asarray(Image.open(listings["isoluminant"]).convert("RGB"))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    x0, y0, x1, y1 = listings["iso_box"]
    assert np.ptp(cv2.GaussianBlur(gray[y0:y1, x0:x1], (0, 0), 2)) < 25  # the logo barely shows in gray
    result = app.screen_one("iso.jpg", listings["isoluminant"], seller="stranger", record=False)
    (match,) = _logo_matches(result)
    assert match.reference_id == ref_id and result.verdict == "logo_misuse"
    assert box_iou(match.box, listings["iso_box"]) > 0.5


def test_a_placement_is_reported_only_when_its_contour_is_found(app, listings) -> None:
    app.register([listings["logo"]], BRAND, kind="logo")
    assert app.logos.settings is app.settings
    app.settings.logo_min_coverage = 1.01  # no contour can be found more than whole
    app.settings.logo_keypoints = False  # the template scan's proposals alone (keypoints have their own rule)
    try:
        strict = app.screen_one("misuse.jpg", listings["misuse"], seller="stranger", record=False)
    finally:
        app.settings.logo_min_coverage = Settings().logo_min_coverage
        app.settings.logo_keypoints = Settings().logo_keypoints
    assert not _logo_matches(strict)
    assert _logo_matches(app.screen_one("misuse.jpg", listings["misuse"], seller="stranger", record=False))


def test_a_contour_found_only_just_needs_the_whole_frame_to_correlate() -> None:
    from authcheck.logo_detection import LogoDetector
    from vision.logo_features import LogoPlacement

    settings = Settings(logo_min_coverage=0.88)  # a band below the sure coverage (off by default)
    detector = LogoDetector(None, None, settings)  # type: ignore[arg-type]  # the rule needs only settings

    def placement(coverage: float, ncc: float, edges: float) -> LogoPlacement:
        return LogoPlacement(ncc, 1.0, edges, np.eye(3), [[0, 0], [1, 0], [1, 1], [0, 1]], coverage, 0.6)

    sure, borderline = (
        settings.logo_sure_coverage + 0.02,
        (settings.logo_min_coverage + settings.logo_sure_coverage) / 2,
    )
    weak_ncc, good_ncc = settings.logo_borderline_ncc - 0.1, settings.logo_borderline_ncc + 0.05
    good_edges = settings.logo_borderline_edges + 0.05
    assert detector._accepts(placement(sure, weak_ncc, settings.logo_min_edges + 0.01))
    assert detector._accepts(placement(borderline, good_ncc, good_edges))
    assert not detector._accepts(placement(borderline, weak_ncc, good_edges))  # a look-alike outline
    assert not detector._accepts(placement(borderline, good_ncc, settings.logo_borderline_edges - 0.05))
    assert not detector._accepts(placement(settings.logo_min_coverage - 0.01, 0.95, 0.9))


def test_the_sample_logo_listing_is_misuse_and_authorised_for_the_brands_seller(app) -> None:
    samples = Path(__file__).resolve().parent.parent / "samples"
    app.add_brand("northwind", sellers=["northwind-official"])
    app.register([samples / "logos" / "northwind.png"], "northwind", kind="logo")
    listing = samples / "listings" / "logo_on_photo.jpg"
    stranger = app.screen_one("logo_on_photo.jpg", listing, seller="seller-42", record=False)
    (match,) = _logo_matches(stranger)
    assert stranger.verdict == "logo_misuse" and match.brand == "northwind"
    # scripts/make_sample_data.py pastes the mark with its top-left corner at (300, 40)
    assert 290 < match.box[0] < 340 and 30 < match.box[1] < 80
    owner = app.screen_one("logo_on_photo.jpg", listing, seller="northwind-official", record=False)
    assert owner.verdict == "logo_authorised"


def test_bulk_path_gives_the_lone_upload_answers(app, listings, tmp_path: Path) -> None:
    """Bulk screening runs a listing's stages on one thread; a lone upload runs them side by side.
    Both must reach the same verdicts, matches and boxes (here: a copied shot carrying a logo)."""
    from skimage import data

    shot = _save(tmp_path, "coffee.jpg", data.coffee())
    app.register([shot], BRAND)
    logo_id = app.register([listings["logo"]], BRAND, kind="logo").registered[0]
    names = ["misuse", "other", "isoluminant"]
    lone = [app.screen_one(n, listings[n], seller="stranger", record=False) for n in names]
    app._inflight = 1  # another listing in flight: every listing below takes the bulk path
    try:
        bulk = [app.screen_one(n, listings[n], seller="stranger", record=False) for n in names]
    finally:
        app._inflight = 0
    assert lone[0].verdict == "copy" and {m.kind for m in lone[0].matches} >= {"catalogue", "logo"}
    assert any(m.reference_id == logo_id for m in _logo_matches(lone[2]))
    for a, b in zip(lone, bulk, strict=True):
        assert a.verdict == b.verdict
        assert [(m.reference_id, m.verdict, m.signal) for m in a.matches] == [
            (m.reference_id, m.verdict, m.signal) for m in b.matches
        ]
        for ma, mb in zip(a.matches, b.matches, strict=True):
            assert ma.score == pytest.approx(mb.score, abs=1e-3)
            assert (ma.box is None) == (mb.box is None)
            if ma.box is not None:
                assert np.allclose(ma.box, mb.box, atol=1.0)


@pytest.mark.parametrize(("allowed", "cap"), [(None, 40), ({0, 2}, 40), (None, 2), ({0, 2, 3}, 1)])
def test_each_logo_gets_its_best_window_and_its_best_far_one(allowed, cap) -> None:
    from authcheck.logo_detection import LogoDetector, _LogoSet, _no_templates, _Templates
    from index.logo_keypoint_index import LogoKeypointIndex
    from vision.logo_features import WINDOW
    from vision.logo_scan import ScanLevel

    rng = np.random.default_rng(3)
    counts = [5, 5, 3, 5]  # templates per logo: a logo may lose rotations that leave no ink
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    t = len(owner)
    templates = _Templates(
        np.zeros((t, 8), np.float32), np.zeros((t, 4), np.int64), owner, np.zeros((t, 3, 3))
    )
    logos = _LogoSet(
        0,
        [],
        templates,
        _no_templates(),
        LogoKeypointIndex.empty(),
        starts,
    )
    stride, nx, ny = 3, 30, 20
    active = np.sort(rng.choice(nx * ny, 400, replace=False))
    level = ScanLevel(
        1.0,
        np.zeros((1, 1), np.float32),
        np.arange(nx) * stride,
        np.arange(ny) * stride,
        np.zeros((2, 1, 1), np.float32),
        np.zeros(nx * ny, np.float32),
        np.zeros((1, 1)),
        active,
        stride,
    )
    scores = rng.uniform(0.0, 0.7, (len(active), t)).astype(np.float32)
    slot = {int(w): i for i, w in enumerate(active)}
    for logo in range(len(counts)):
        # its best place in its last template; the next best 9 px off (the same place: passed over),
        # then one 12 px off (another place: the second window)
        gx, gy = 5 + 6 * logo, 5 + 3 * logo
        fit = 0.01 * logo  # the logos fit in order: 0 best
        for dx, value, template in ((0, 0.99 - fit, counts[logo] - 1), (3, 0.95 - fit, 0), (4, 0.9 - fit, 1)):
            w = (gy * nx) + gx + dx
            if w not in slot:
                active = np.sort(np.r_[active, w])
                scores = np.insert(scores, int(np.searchsorted(active, w)), rng.uniform(0, 0.7, t), axis=0)
                slot = {int(v): i for i, v in enumerate(active)}
            scores[slot[w], starts[logo] + template] = value
    level.active = active
    detector = LogoDetector(None, None, Settings(logo_own_best_logos=cap))  # type: ignore[arg-type]
    windows, rows = detector._per_logo_best(logos, level, scores, allowed)

    # the plain definition, logo by logo, for the ``cap`` logos fitting best (0 first)
    looked_at = sorted(allowed if allowed is not None else range(len(counts)))[:cap]
    x, y = level.position(active)
    want = []
    for logo in looked_at:
        cols = np.flatnonzero(owner == logo)
        best = scores[:, cols].max(axis=1)
        first = int(np.argmax(best))
        far = (np.abs(x - x[first]) > WINDOW // 2) | (np.abs(y - y[first]) > WINDOW // 2)
        second = int(np.argmax(np.where(far, best, -np.inf)))
        for w in (first, second):
            if best[w] >= Settings().logo_coarse_min * 0.8:
                want.append((active[w], cols[int(np.argmax(scores[w, cols]))], w == second))
    got = list(zip(windows.tolist(), rows.tolist(), strict=True))
    assert sorted(got) == sorted((int(w), int(r)) for w, r, _ in want)
    planted = [(slot[(5 + 3 * e) * nx + 5 + 6 * e + dx], e) for e in range(len(counts)) for dx in (0, 4)]
    assert sorted(got) == sorted(
        (int(active[w]), int(starts[e] + (counts[e] - 1 if w == planted[2 * e][0] else 1)))
        for w, e in planted
        if e in looked_at
    )


def test_where_a_logo_is_found_no_other_logo_is_verified(app, listings, tmp_path, monkeypatch) -> None:
    import authcheck.logo_detection as ld

    ref_id = app.register([listings["logo"]], BRAND, kind="logo").registered[0]
    # another brand's mark that is part of this one (its ring and bar): a candidate at the same place
    part = _mark("registered")
    ImageDraw.Draw(part).polygon([(30, 310), (210, 220), (210, 310)], fill=(0, 0, 0, 0))
    path = tmp_path / "part.png"
    part.save(path)
    app.register([path], "other-brand", kind="logo")
    calls: list[tuple[object, np.ndarray, object]] = []
    real = ld.verify_placement

    def spy(shape, image, guess, **kwargs):  # records every verification, and runs it
        placed = real(shape, image, guess, **kwargs)
        calls.append((shape, guess, placed))
        return placed

    monkeypatch.setattr(ld, "verify_placement", spy)
    result = app.screen_one("misuse.jpg", listings["misuse"], seller="stranger", record=False)
    (match,) = _logo_matches(result)
    assert match.reference_id == ref_id
    mine = next(e.shape for e in app.logos._set.entries if e.ref_id == ref_id)
    # the listing (600 px) is searched at its own size: placements are in its pixels, as the match's box
    found_at = next(
        i
        for i, (shape, _, placed) in enumerate(calls)
        if shape is mine and placed is not None and box_iou(placed.box, match.box) > 0.8
    )
    for shape, guess, _ in calls[found_at + 1 :]:
        if shape is mine:
            continue
        corners = cv2.perspectiveTransform(
            shape.ink_corners.reshape(-1, 1, 2), np.asarray(guess, np.float64)
        ).reshape(-1, 2)
        cx, cy = corners.mean(axis=0)
        x0, y0, x1, y1 = match.box
        assert not (x0 <= cx <= x1 and y0 <= cy <= y1)
