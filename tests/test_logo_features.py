"""Logo shapes, coarse templates, the template index and placement verification, piece by piece."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from index.logo_index import LogoTemplateIndex
from vision.logo_features import (
    CANON_SIDE,
    INNER,
    VERIFY_SIDE,
    VERIFY_STRETCH,
    WINDOW,
    coarse_templates,
    contour_points,
    logo_shape,
    orientation_field,
    outline_fit,
    verify_length,
    verify_placement,
)
from vision.logo_scan import best_nearby, rect_ncc, rect_ncc_at, scan_levels


def _logo_alpha(w: int = 300, h: int = 200) -> np.ndarray:
    a = np.zeros((h, w), np.uint8)
    cv2.circle(a, (70, 100), 60, 255, -1)
    cv2.circle(a, (70, 100), 25, 0, -1)
    cv2.rectangle(a, (150, 30), (180, 170), 255, -1)
    cv2.fillConvexPoly(a, np.array([[200, 170], [280, 170], [280, 40]], np.int32), 255)
    return a


def test_shape_maps_canonical_points_back_to_logo_pixels() -> None:
    alpha = np.zeros((260, 400), np.uint8)
    alpha[30:230, 50:350] = _logo_alpha()
    shape = logo_shape(np.zeros((260, 400, 3), np.uint8), alpha)
    assert shape is not None
    assert max(np.ptp(shape.ink_corners, axis=0)) == CANON_SIDE
    back = shape.to_source(shape.ink_corners)
    # the drawing's ink spans x 10..281, y 30..171; it was placed at (50, 30)
    assert np.allclose(back[0], [50 + 10, 30 + 30], atol=2)
    assert np.allclose(back[2], [50 + 281, 30 + 171], atol=2)


def test_opaque_logo_silhouette_comes_from_contrast_with_the_border() -> None:
    alpha = _logo_alpha()
    rgb = np.where(alpha[..., None] > 0, np.uint8([10, 20, 200]), np.uint8(255))
    shape = logo_shape(rgb, None)
    assert shape is not None and shape.mask.max() > 0.9
    assert logo_shape(np.full((50, 50, 3), 255, np.uint8), None) is None  # no ink


def test_templates_are_unit_fields_and_the_mirrored_index_finds_them_in_either_sign() -> None:
    shape = logo_shape(np.zeros((200, 300, 3), np.uint8), _logo_alpha())
    tm = coarse_templates(shape)
    assert len(tm.vectors) == len(tm.rotations) == 5
    assert np.allclose(np.linalg.norm(tm.vectors, axis=1), 1.0, atol=1e-5)
    support = np.array([r[2] * r[3] for r in tm.rects], np.float64)
    queries = np.vstack([tm.vectors[2], -tm.vectors[2]])
    index = LogoTemplateIndex(tm.vectors, support, dims=8, mirrored=True)
    hits = index.search(index.project(queries), k=1, min_score=0.0)
    assert list(hits.templates) == [2, 2] and list(hits.signs) == [1, -1]
    plain = LogoTemplateIndex(tm.vectors, support, dims=8)
    hits = plain.search(plain.project(queries), k=1, min_score=0.0)
    assert list(hits.windows) == [0] and list(hits.templates) == [2]  # the negated window finds nothing


def test_exhaustive_hits_agree_with_the_faiss_search_and_keep_every_score() -> None:
    shape = logo_shape(np.zeros((200, 300, 3), np.uint8), _logo_alpha())
    tm = coarse_templates(shape)
    support = np.array([r[2] * r[3] for r in tm.rects], np.float64)
    rng = np.random.default_rng(0)
    queries = np.vstack([tm.vectors, rng.normal(size=(20, tm.vectors.shape[1])).astype(np.float32) * 0.05])
    for mirrored in (False, True):
        index = LogoTemplateIndex(tm.vectors, support, dims=8, mirrored=mirrored)
        proj = index.project(queries)
        slow = index.search(proj, k=2, min_score=0.3)
        fast = index.hits(proj, k=2, min_score=0.3)
        assert sorted(zip(slow.windows, slow.templates, slow.signs, strict=True)) == sorted(
            zip(fast.windows, fast.templates, fast.signs, strict=True)
        )
        assert np.allclose(sorted(slow.scores), sorted(fast.scores), atol=1e-4)
        assert fast.all_scores is not None and fast.all_scores.shape == (len(queries), len(tm.vectors))
        # every template finds itself best
        assert list(np.argmax(fast.all_scores[: len(tm.vectors)], axis=1)) == list(range(len(tm.vectors)))


def test_orientation_field_ignores_polarity_and_colour_but_not_direction() -> None:
    alpha = _logo_alpha().astype(np.float32) / 255.0
    dark = orientation_field(1.0 - alpha)
    # red on green: equal gray level, opposite-signed channel gradients
    red_green = np.stack([alpha * 0.8, (1 - alpha) * 0.8 * 0.299 / 0.587, np.zeros_like(alpha)], axis=2)
    gray = cv2.cvtColor(red_green, cv2.COLOR_RGB2GRAY)
    assert np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0)).max() < 0.01  # no gray-level contrast

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))

    assert corr(orientation_field(alpha), dark) > 0.99
    assert corr(orientation_field(alpha), orientation_field(red_green)) > 0.99
    # turned a quarter: every edge direction turns 90 degrees, its doubled angle 180
    turned = np.rot90(orientation_field(alpha), axes=(1, 2))
    assert corr(turned, orientation_field(np.ascontiguousarray(np.rot90(alpha)))) < -0.95


def test_scan_scores_the_logo_where_it_is_and_verification_accepts_only_the_true_place() -> None:
    rng = np.random.default_rng(0)
    shape = logo_shape(np.zeros((200, 300, 3), np.uint8), _logo_alpha())
    listing = cv2.GaussianBlur(rng.integers(60, 200, (480, 640), dtype=np.uint8), (0, 0), 3)
    # paste the logo 120 px long, dark, rotated 6 degrees, at (300, 200)
    s = 120 / CANON_SIDE
    truth = cv2.getRotationMatrix2D((0, 0), 6.0, s)
    truth[:, 2] = [300 - s * shape.pad, 200 - s * shape.pad]
    h3 = np.vstack([truth, [0, 0, 1]])
    warped = cv2.warpPerspective(shape.mask, h3, (640, 480))
    listing = (listing * (1 - 0.8 * warped) + 20 * 0.8 * warped).astype(np.uint8)

    tm = coarse_templates(shape)
    levels = scan_levels(listing)
    r = tm.rotations.index(6.0)
    best = 0.0
    for level in levels:
        n = len(level)
        win = np.arange(n)
        # the logo is darker than its surroundings; orientation fields do not care
        vals = rect_ncc(
            level, win, np.repeat(tm.vectors[r : r + 1], n, 0), np.repeat(np.array(tm.rects[r : r + 1]), n, 0)
        )
        x, y = level.position(int(np.argmax(vals)))
        if vals.max() > best:
            best, centre = float(vals.max()), ((x + WINDOW / 2) / level.scale, (y + WINDOW / 2) / level.scale)
    assert best > 0.7
    box_centre = cv2.perspectiveTransform(shape.ink_corners.reshape(-1, 1, 2), h3).reshape(-1, 2).mean(axis=0)
    assert np.hypot(*(np.array(centre) - box_centre)) < 15

    # a guess a few pixels and degrees off is refined onto the logo
    guess = cv2.getRotationMatrix2D((0, 0), 2.0, s * 1.05)
    guess[:, 2] = truth[:, 2] + [4, -3]
    placed = verify_placement(shape, listing, np.vstack([guess, [0, 0, 1]]), polarity=-1)
    colour = verify_placement(shape, cv2.cvtColor(listing, cv2.COLOR_GRAY2RGB), np.vstack([guess, [0, 0, 1]]))
    assert colour is not None and colour.edges > 0.7 and colour.ncc > 0.7  # polarity found from colour
    assert placed is not None and placed.edges > 0.7 and placed.ncc > 0.7
    corners = cv2.perspectiveTransform(shape.ink_corners.reshape(-1, 1, 2), h3).reshape(-1, 2)
    assert np.abs(np.array(placed.outline) - corners).max() < 4

    # the same logo guessed over an empty part of the listing does not verify
    elsewhere = np.vstack([truth, [0, 0, 1]]) @ np.array([[1, 0, -250], [0, 1, -150], [0, 0, 1]])
    far = verify_placement(shape, listing, elsewhere, polarity=-1)
    assert far is None or far.edges < 0.4


def test_contour_normals_point_into_the_logo() -> None:
    shape = logo_shape(np.zeros((200, 300, 3), np.uint8), _logo_alpha())
    assert shape is not None
    pts, nrm = contour_points(shape.mask)
    assert len(pts) > 50 and np.allclose(np.linalg.norm(nrm, axis=1), 1.0, atol=1e-4)
    # two px along the normal lies inside the silhouette, two px against it outside
    step_in = np.round(pts + 2 * nrm).astype(int)
    step_out = np.round(pts - 2 * nrm).astype(int)
    h, w = shape.mask.shape
    step_in = np.clip(step_in, 0, [w - 1, h - 1])
    step_out = np.clip(step_out, 0, [w - 1, h - 1])
    assert np.mean(shape.mask[step_in[:, 1], step_in[:, 0]] > 0.5) > 0.95
    assert np.mean(shape.mask[step_out[:, 1], step_out[:, 0]] < 0.5) > 0.95


def test_outline_fit_finds_the_whole_contour_only_where_the_logo_is() -> None:
    shape = logo_shape(np.zeros((200, 300, 3), np.uint8), _logo_alpha())
    assert shape is not None
    pts, nrm = contour_points(shape.mask)
    rng = np.random.default_rng(1)
    clutter = cv2.GaussianBlur(rng.integers(0, 255, (120, 160), dtype=np.uint8), (0, 0), 1.5).astype(
        np.float32
    )
    s = 60 / CANON_SIDE
    place = np.array([[s, 0, 20], [0, s, 10], [0, 0, 1]])
    sil = cv2.warpPerspective(shape.mask, place, (160, 120))
    pasted = 0.5 * clutter + 0.5 * (60 + 150 * sil)  # a bright logo, 50% opaque over clutter
    frame = np.zeros((120, 160), bool)
    frame[5:70, 15:100] = True
    coverage, explained = outline_fit(pts, nrm, pasted, place, frame)
    assert coverage > 0.9 and explained > 0.4
    # a darker logo (the wrong polarity for the contour's inward rise) does not fit
    dark, _ = outline_fit(pts, nrm, 0.5 * clutter + 0.5 * (210 - 150 * sil), place, frame)
    assert dark < 0.3
    # three pixels off, or over clutter alone, most of the contour misses
    off = np.array([[1, 0, 3], [0, 1, 0], [0, 0, 1]]) @ place
    assert outline_fit(pts, nrm, pasted, off, frame)[0] < 0.6
    alone, unexplained = outline_fit(pts, nrm, clutter, place, frame)
    assert alone < 0.6 and unexplained < explained


def test_coarse_refinement_converges_from_a_guess_a_tenth_of_its_scale_off() -> None:
    rng = np.random.default_rng(2)
    shape = logo_shape(np.zeros((200, 300, 3), np.uint8), _logo_alpha())
    assert shape is not None
    listing = cv2.GaussianBlur(rng.integers(60, 200, (360, 480), dtype=np.uint8), (0, 0), 2)
    s = 70 / CANON_SIDE
    truth = cv2.getRotationMatrix2D((0, 0), -4.0, s)
    truth[:, 2] = [200 - s * shape.pad, 150 - s * shape.pad]
    h3 = np.vstack([truth, [0, 0, 1]])
    warped = cv2.warpPerspective(shape.mask, h3, (480, 360))
    listing = (listing * (1 - 0.75 * warped) + 230 * 0.75 * warped).astype(np.uint8)
    rgb = cv2.cvtColor(listing, cv2.COLOR_GRAY2RGB)
    guess = cv2.getRotationMatrix2D((0, 0), 2.0, s * 1.12)
    guess[:, 2] = truth[:, 2] + [-6, 4]
    placed = verify_placement(shape, rgb, np.vstack([guess, [0, 0, 1]]), min_precoverage=0.3)
    assert (
        placed is not None and placed.coverage > 0.9 and placed.explained > 0.4 and placed.precoverage >= 0.3
    )
    corners = cv2.perspectiveTransform(shape.ink_corners.reshape(-1, 1, 2), h3).reshape(-1, 2)
    assert np.abs(np.array(placed.outline) - corners).max() < 3
    # over empty background the pre-check drops the guess before refining
    away = np.vstack([truth, [0, 0, 1]]) @ np.array([[1, 0, -900], [0, 1, -700], [0, 0, 1]])
    assert verify_placement(shape, rgb, away, min_precoverage=0.5) is None


def test_windows_between_grid_points_are_scored_and_the_best_nearby_one_found() -> None:
    rng = np.random.default_rng(1)
    shape = logo_shape(np.zeros((200, 300, 3), np.uint8), _logo_alpha())
    listing = cv2.GaussianBlur(rng.integers(60, 200, (300, 400), dtype=np.uint8), (0, 0), 3)
    s = 60 / CANON_SIDE
    place = np.array([[s, 0, 151 - s * shape.pad], [0, s, 97 - s * shape.pad], [0, 0, 1]])
    warped = cv2.warpPerspective(shape.mask, place, (400, 300))
    listing = (listing * (1 - warped) + 230 * warped).astype(np.uint8)
    # the level where a logo 60 px long is INNER px long
    level = min(scan_levels(listing, stride=3), key=lambda lv: abs(INNER / lv.scale - 60))
    tm = coarse_templates(shape)
    r = tm.rotations.index(0.0)
    tmpl, rect = tm.vectors[r : r + 1], np.array(tm.rects[r : r + 1])
    h, w = level.field.shape[1:]
    # every position of the level, grid or not: the best one is the logo's place
    ys, xs = np.mgrid[0 : h - WINDOW + 1, 0 : w - WINDOW + 1]
    xs, ys = xs.ravel(), ys.ravel()
    every = rect_ncc_at(level, xs, ys, np.repeat(tmpl, len(xs), 0), np.repeat(rect, len(xs), 0))
    top = int(np.argmax(every))
    assert every[top] > 0.7
    # on the grid the same function agrees with rect_ncc
    grid = rect_ncc(
        level, np.arange(len(level)), np.repeat(tmpl, len(level), 0), np.repeat(rect, len(level), 0)
    )
    gx, gy = level.position(np.arange(len(level)))
    on_grid = (gx[:, None] == xs[None]) & (gy[:, None] == ys[None])
    assert np.allclose(grid, every[np.argmax(on_grid, axis=1)], atol=1e-5)
    # one px off in x and y, the search within 1 px lands on the best place and its score
    score, bx, by = best_nearby(level, xs[top : top + 1] + 1, ys[top : top + 1] - 1, tmpl, rect, 1)
    assert (bx[0], by[0]) == (xs[top], ys[top])
    assert np.isclose(score[0], every[top], atol=1e-5)


def test_best_nearby_on_a_level_barely_a_window_wide() -> None:
    rng = np.random.default_rng(2)
    level = scan_levels(rng.integers(0, 255, (120, 300), dtype=np.uint8), min_frac=0.3, max_frac=0.4)[-1]
    assert level.field.shape[1] < WINDOW + 2  # no room to shift by 1 px vertically
    shape = logo_shape(np.zeros((200, 300, 3), np.uint8), _logo_alpha())
    tm = coarse_templates(shape)
    x, y = level.position(np.arange(len(level)))
    n = len(x)
    tmpl, rect = np.repeat(tm.vectors[:1], n, 0), np.repeat(np.array(tm.rects[:1]), n, 0)
    score, bx, by = best_nearby(level, x, y, tmpl, rect, 1)
    assert np.all(np.isfinite(score)) and np.all(by == y)


def _wordmark_alpha() -> np.ndarray:
    a = np.zeros((120, 420), np.uint8)
    cv2.putText(a, "HCWL", (10, 100), cv2.FONT_HERSHEY_SIMPLEX, 3.2, 255, 9)
    return a


def test_elongated_marks_are_verified_longer_and_placed_exactly() -> None:
    ring = np.zeros((200, 260), np.uint8)
    cv2.ellipse(ring, (130, 100), (110, 80), 0, 0, 360, 255, 20)  # aspect 1.4: not elongated
    square = logo_shape(np.zeros((200, 260, 3), np.uint8), ring)
    mark = logo_shape(np.zeros((120, 420, 3), np.uint8), _wordmark_alpha())
    assert square is not None and mark is not None
    assert verify_length(square) == VERIFY_SIDE
    ink_w, ink_h = np.ptp(mark.ink_corners, axis=0)
    assert verify_length(mark) == pytest.approx(VERIFY_SIDE * np.sqrt(ink_w / ink_h), rel=1e-6)
    assert VERIFY_SIDE < verify_length(mark) <= VERIFY_SIDE * VERIFY_STRETCH

    # a wordmark 90 px long (its letters ~20 px tall), dark on texture, 4 degrees: placed to the pixel
    rng = np.random.default_rng(1)
    listing = cv2.GaussianBlur(rng.integers(60, 200, (480, 640), dtype=np.uint8), (0, 0), 2)
    s = 90 / CANON_SIDE
    truth = np.vstack([cv2.getRotationMatrix2D((0, 0), 4.0, s), [0, 0, 1]])
    truth[:2, 2] = [300 - s * mark.pad, 200 - s * mark.pad]
    warped = cv2.warpPerspective(mark.mask, truth, (640, 480))
    listing = (listing * (1 - 0.85 * warped) + 20 * 0.85 * warped).astype(np.uint8)
    guess = np.vstack([cv2.getRotationMatrix2D((0, 0), 2.0, s * 1.04), [0, 0, 1]])
    guess[:2, 2] = truth[:2, 2] + [2, -2]
    placed = verify_placement(mark, cv2.cvtColor(listing, cv2.COLOR_GRAY2RGB), guess)
    assert placed is not None and placed.coverage > 0.9 and placed.edges > 0.8
    corners = cv2.perspectiveTransform(mark.ink_corners.reshape(-1, 1, 2), truth).reshape(-1, 2)
    assert np.abs(np.array(placed.outline) - corners).max() < 3
