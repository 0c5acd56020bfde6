"""Logos registered as SVG files: drawn once, stored with their transparency, found in listings."""

from __future__ import annotations

import sys
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from authcheck.api.uploads import UploadError, UploadLimits, check_image_bytes
from authcheck.app import Authcheck
from tests.test_logo_detection import BRAND, SELLER, _logo_matches, _paste, _save
from vision.imageio import ImageLoadError, load_image_full
from vision.svg import SVG_SIDE, draw_svg, looks_like_svg

pytest.importorskip("cairosvg")

# a ring, a tall bar and a wedge: an asymmetric one-colour mark, as brands ship them
LOGO_SVG = b"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Acme brand mark -->
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 320 240">
  <path fill="#c81e28" fill-rule="evenodd"
        d="M20,110 a90,90 0 1,0 180,0 a90,90 0 1,0 -180,0 Z M65,110 a45,45 0 1,0 90,0 a45,45 0 1,0 -90,0 Z"/>
  <rect x="230" y="20" width="40" height="200" fill="#c81e28"/>
  <polygon points="40,235 200,205 200,235" fill="#c81e28"/>
</svg>
"""


def test_svg_documents_are_recognised_by_their_content() -> None:
    assert looks_like_svg(LOGO_SVG)
    assert looks_like_svg(b'\xef\xbb\xbf<svg xmlns="http://www.w3.org/2000/svg"/>')
    assert not looks_like_svg(b"\x89PNG\r\n\x1a\n")
    assert not looks_like_svg(b"<html><svg></svg></html>")


def test_an_svg_is_drawn_at_a_fixed_size_with_its_transparency() -> None:
    img = load_image_full(LOGO_SVG, name="acme.svg")
    assert img.format == "SVG" and img.original_size == (SVG_SIDE, SVG_SIDE * 3 // 4)
    assert img.rgb.shape == (SVG_SIDE * 3 // 4, SVG_SIDE, 3) and img.alpha is not None
    assert img.alpha[0, 0] == 0 and tuple(img.rgb[0, 0]) == (255, 255, 255)  # transparent, over white
    bar = img.rgb[400, 250 * SVG_SIDE // 320]
    assert img.alpha[400, 250 * SVG_SIDE // 320] == 255 and tuple(bar) == (0xC8, 0x1E, 0x28)
    small = load_image_full(LOGO_SVG, name="acme.svg", max_side=320)
    assert small.rgb.shape == (240, 320, 3) and small.original_size == (SVG_SIDE, SVG_SIDE * 3 // 4)


@pytest.mark.parametrize(
    ("svg", "reason"),
    [
        (
            b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="4"',
            "not a drawable SVG",
        ),
        (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"></svg>', "empty"),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg" width="2" height="400"><rect width="2" height="400"/></svg>',
            "proportions",
        ),
        # an external file is not read: the drawing stays empty
        (
            b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            b'viewBox="0 0 10 10"><image width="10" height="10" xlink:href="file:///etc/hostname"/></svg>',
            "empty",
        ),
    ],
)
def test_bad_svgs_get_a_clear_error(svg: bytes, reason: str) -> None:
    with pytest.raises(ImageLoadError, match=reason):
        load_image_full(svg, name="bad.svg")


def test_without_cairosvg_an_svg_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "cairosvg", None)  # import fails
    with pytest.raises(ImageLoadError, match=r"authcheck\[svg\]"):
        load_image_full(LOGO_SVG, name="acme.svg")


def test_the_api_accepts_svg_uploads() -> None:
    assert check_image_bytes("acme.svg", LOGO_SVG, UploadLimits(), "image/svg+xml") == "svg"
    with pytest.raises(UploadError):
        check_image_bytes("page.html", b"<html>hi</html>", UploadLimits(), "text/html")


def test_a_logo_registered_as_svg_is_found_in_a_listing(home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "brand-kit"
    folder.mkdir()
    (folder / "acme.svg").write_bytes(LOGO_SVG)
    (folder / "broken.svg").write_bytes(b"<svg><rect")
    drawn = draw_svg(LOGO_SVG, side=320)
    listing, box = _paste(data.coffee(), drawn, 0.12, 8.0, (250, 250, 240), 0.85, (400, 60))
    listing_path = _save(tmp_path, "listing.jpg", listing)
    with closing(Authcheck(home)) as app:
        app.add_brand(BRAND, [SELLER])
        report = app.register([folder], BRAND, kind="logo")  # the folder's .svg files are picked up
        assert len(report.registered) == 1
        assert [name for name, _ in report.failed] == [str(folder / "broken.svg")]
        (ref,) = app.catalogue.list_references(kind="logo")
        assert ref.stored_path.endswith(".png") and ref.width == SVG_SIDE  # transparency kept
        stored = Image.open(app.refs.path(ref.stored_path))
        assert stored.mode == "RGBA" and np.asarray(stored.getchannel("A"))[0, 0] == 0

        result = app.screen_one("listing.jpg", listing_path, seller="stranger", record=False)
        (match,) = _logo_matches(result)
        assert result.verdict == "logo_misuse" and match.reference_id == ref.id
        x0, y0, x1, y1 = match.box
        assert x0 < (box[0] + box[2]) / 2 < x1 and y0 < (box[1] + box[3]) / 2 < y1
        authorised = app.screen_one("listing.jpg", listing_path, seller=SELLER, record=False)
        assert authorised.verdict == "logo_authorised"
