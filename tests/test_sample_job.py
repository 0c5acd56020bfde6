"""The bundled sample data gives the verdicts the README promises (copies and clean photos)."""

from __future__ import annotations

from pathlib import Path

import pytest

from authcheck.app import Authcheck

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture(scope="module")
def sample_app(tmp_path_factory: pytest.TempPathFactory) -> Authcheck:
    app = Authcheck(tmp_path_factory.mktemp("sample-home"))
    app.add_brand("northwind", sellers=["northwind-official"], wordmarks=["NORTHWIND"])
    report = app.register([SAMPLES / "catalogue"], "northwind", "catalogue")
    assert len(report.registered) == 4 and not report.failed
    yield app
    app.close()


@pytest.mark.parametrize(
    ("listing", "verdict", "source"),
    [
        ("copy_cropped_with_caption.jpg", "copy", "astronaut.jpg"),
        ("copy_mirrored_screenshot.jpg", "copy", "coffee.jpg"),
        ("copy_pasted_on_background.jpg", "copy", "rocket.jpg"),
        ("clean_unrelated.jpg", "clean", None),
        # the other view of a stereo pair aligns with the registered one up to parallax
        ("clean_other_view_of_motorcycle.jpg", "clean", None),
        ("wordmark_misspelt.jpg", "clean", None),  # only OCR sees the brand's name
    ],
)
def test_sample_listing_verdicts(
    sample_app: Authcheck, listing: str, verdict: str, source: str | None
) -> None:
    result = sample_app.screen_one(listing, SAMPLES / "listings" / listing, record=False)
    assert result.verdict == verdict
    if source is not None:
        assert Path(result.matches[0].source).name == source and result.matches[0].box is not None


def test_sample_wordmark_listing_is_found_with_ocr(sample_app: Authcheck) -> None:
    path = SAMPLES / "listings" / "wordmark_misspelt.jpg"
    result = sample_app.screen_one("wordmark_misspelt.jpg", path, record=False, ocr=True, seller="seller-42")
    assert result.verdict == "logo_misuse"
    top = result.matches[0]
    assert (top.kind, top.brand, top.source) == ("wordmark", "northwind", "NORTHWIND")
    official = sample_app.screen_one(
        "wordmark_misspelt.jpg", path, record=False, ocr=True, seller="northwind-official"
    )
    assert official.verdict == "logo_authorised"
