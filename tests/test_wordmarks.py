"""Wordmarks: the matching rules, and OCR through the app, the CLI and the reviewer UI (real rapidocr)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from authcheck.api import create_app
from authcheck.api.testing import jpeg_bytes, sample_image, serve_in_thread
from authcheck.app import Authcheck
from authcheck.cli import main as cli_main
from authcheck.keys import create_key
from authcheck.wordmarks import find_wordmarks, normalise
from vision.text_reading import OCRUnavailableError, TextLine, TextReader

MARKS = {
    "nike": ["Nike"],
    "adidas": ["adidas"],
    "libre": ["LibreOffice Base"],
    "wxt": ["WXT"],
    "getx": ["GetX"],
}


def _hits(text: str, marks: dict = MARKS) -> list[tuple[str, str]]:
    return [(h.brand, h.text) for h in find_wordmarks([TextLine(text, 0.95, (0, 0, 10, 10))], marks)]


def test_normalise_unifies_case_accents_and_lookalikes() -> None:
    assert normalise("NÏKE") == normalise("nike") == normalise("N1KE") == normalise("n!ke")
    assert normalise("Libre-Office  Base") == normalise("libreofficebase")


@pytest.mark.parametrize(
    ("text", "brand"),
    [
        ("NIKEE running shoes", "nike"),  # a letter too many
        ("Adidos original", "adidas"),  # one substitution in a 6-letter mark
        ("N1KE", "nike"),  # look-alike digit
        ("Libre Office Base edition", "libre"),  # several words, split differently
        ("LibreOfice Baze", "libre"),  # two edits in a long mark
        ("wxt", "wxt"),  # short marks: exact
    ],
)
def test_near_misspellings_are_caught(text: str, brand: str) -> None:
    assert [b for b, _ in _hits(text)] == [brand]


@pytest.mark.parametrize(
    "text", ["nice shoes", "bike", "Mike", "WXY", "Adobe", "DM for price", "-50% today", "Buy 2 get 1 free"]
)
def test_ordinary_words_are_not_brands(text: str) -> None:
    assert _hits(text) == []


def test_low_confidence_lines_do_not_count() -> None:
    lines = [TextLine("Nike", 0.3, (0, 0, 1, 1))]
    assert find_wordmarks(lines, MARKS) == []


def _listing_with_text(text: str) -> np.ndarray:
    photo = Image.fromarray(sample_image("coffee"))  # 600 x 400
    draw = ImageDraw.Draw(photo)
    draw.rectangle([20, 20, 580, 120], fill=(255, 255, 255))
    draw.text((40, 35), text, fill=(10, 10, 10), font=ImageFont.load_default(size=64))
    return np.asarray(photo)


@pytest.fixture(scope="module")
def ocr_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("ocr-home")
    app = Authcheck(home)
    try:
        app.add_brand("valtrexa", ["shop-ok"], ["Valtrexa"])
        app.add_brand("other", [], ["Quorvin"])
    finally:
        app.close()
    return home


def test_screening_with_ocr_reports_the_wordmark_and_respects_authorised_sellers(
    ocr_home: Path, tmp_path: Path
) -> None:
    listing = tmp_path / "listing.jpg"
    listing.write_bytes(jpeg_bytes(_listing_with_text("VALTREXXA sale")))
    app = Authcheck(ocr_home)
    try:
        plain = app.screen_one("listing.jpg", listing, record=False)
        assert plain.verdict == "clean" and not [m for m in plain.matches if m.kind == "wordmark"]
        found = app.screen_one("listing.jpg", listing, record=False, ocr=True, seller="shop-x")
        assert found.verdict == "logo_misuse"
        (m,) = [m for m in found.matches if m.kind == "wordmark"]
        assert (m.brand, m.source, m.signal, m.reference_id) == ("valtrexa", "Valtrexa", "ocr", None)
        assert m.text is not None and normalise(m.text).startswith("valtrex")
        x0, y0, x1, y1 = m.box or [0, 0, 0, 0]
        assert 20 <= x0 < 200 and 10 <= y0 < 60 and 150 < x1 <= 600 and y1 <= 130  # the line's place
        ok = app.screen_one("listing.jpg", listing, record=False, ocr=True, seller="shop-ok")
        assert ok.verdict == "logo_authorised"
        scoped = app.screen_one("listing.jpg", listing, record=False, ocr=True, brand="other")
        assert scoped.verdict == "clean"  # screening for another brand only
    finally:
        app.close()


def test_cli_ocr_flag_and_reviewer_case_page_show_the_wordmark(
    ocr_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = tmp_path / "quorvin.jpg"
    listing.write_bytes(jpeg_bytes(_listing_with_text("QUORVIN outlet")))
    assert cli_main(["--home", str(ocr_home), "screen", str(listing), "--json", "--ocr"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["verdict"] == "logo_misuse" and row["matches"][0]["kind"] == "wordmark"
    assert row["matches"][0]["reference_id"] is None and row["matches"][0]["source"] == "Quorvin"
    sid = row["screening_id"]

    core = Authcheck(ocr_home)
    try:
        reviewer = create_key(core.catalogue, "marketplace", label="ocr-reviewer")[1]
    finally:
        core.close()
    with (
        serve_in_thread(create_app(ocr_home)) as url,
        httpx.Client(base_url=url, follow_redirects=True) as web,
    ):
        web.post("/ui/login", data={"key": reviewer, "next": "/ui/"})
        page = web.get(f"/ui/cases/{sid}").text
        assert 'Wordmark "Quorvin"' in page and f"/ui/cases/{sid}/evidence/match-0.png" in page
        png = web.get(f"/ui/cases/{sid}/evidence/match-0.png")
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert web.get(f"/ui/cases/{sid}/evidence/match-9.png").status_code == 404
        export = web.get(f"/ui/cases/{sid}/export.html")
        assert export.status_code == 200 and 'Wordmark "Quorvin"' in export.text
        # the upload path: OCR on request only
        files = {"image": ("quorvin.jpg", listing.read_bytes(), "image/jpeg")}
        api = {"Authorization": f"Bearer {reviewer}"}
        plain = web.post("/v1/screen", files=files, data={"record": "false"}, headers=api).json()
        assert plain["verdict"] == "clean"
        read = web.post(
            "/v1/screen", files=files, data={"record": "false", "ocr": "true"}, headers=api
        ).json()
        assert read["verdict"] == "logo_misuse" and read["matches"][0]["text"]


def test_without_the_ocr_package_screening_with_ocr_fails_clearly(
    ocr_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "rapidocr", None)  # as if it were not installed
    with pytest.raises(OCRUnavailableError, match=r"authcheck\[ocr\]"):
        TextReader()
    listing = tmp_path / "l.jpg"
    listing.write_bytes(jpeg_bytes(_listing_with_text("Valtrexa")))
    assert cli_main(["--home", str(ocr_home), "screen", str(listing), "--ocr", "--no-record"]) == 2
    assert "authcheck[ocr]" in capsys.readouterr().err
