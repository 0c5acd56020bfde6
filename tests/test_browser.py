"""The reviewer web UI in real headless Chromium: log in, queue, case, evidence image, decision, audit."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import httpx
import pytest

from authcheck.api import create_app
from authcheck.api.testing import jpeg_bytes, sample_image, seed_home, serve_in_thread

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="playwright is not installed (pip install playwright)",
    ),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("browser-home")
    keys = seed_home(home, {"acme": ["astronaut"], "globex": ["coffee"]})
    with serve_in_thread(create_app(home)) as url:
        headers = {"Authorization": f"Bearer {keys['marketplace']}"}
        flagged = []
        for listing, name, crop in (
            ("L-100", "astronaut", (slice(30, 450), slice(40, 480))),
            ("L-200", "coffee", None),
        ):
            img = sample_image(name)
            data = jpeg_bytes(img[crop] if crop else img[20:380, 30:560], quality=80)
            r = httpx.post(
                f"{url}/v1/screen",
                files={"image": (f"{listing}.jpg", data, "image/jpeg")},
                data={"seller_id": "seller-42", "listing_id": listing},
                headers=headers,
                timeout=60,
            )
            assert r.json()["verdict"] == "copy", r.text
            flagged.append(r.json()["screening_id"])
        yield {"url": url, "keys": keys, "flagged": flagged}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def test_reviewer_works_a_case_from_queue_to_audit_log(site: dict, browser, tmp_path: Path) -> None:
    page = browser.new_page()
    page.set_default_timeout(30_000)
    url = site["url"]

    # Not logged in: the queue sends us to the login form; a wrong key is refused.
    page.goto(f"{url}/ui/")
    assert "/ui/login" in page.url
    page.fill("#key", "ack_not-a-real-key")
    page.click("button[type=submit]")
    assert "not valid" in page.inner_text("[role=alert]")
    page.fill("#key", site["keys"]["marketplace"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/ui/")
    cookie = next(c for c in page.context.cookies() if c["name"] == "authcheck_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert site["keys"]["marketplace"] not in cookie["value"]

    # The queue: newest first, filterable by brand.
    ids = [int(t) for t in page.locator("#queue a.case-link").all_inner_texts()]
    assert ids[:2] == sorted(site["flagged"], reverse=True)
    page.select_option("select[name=brand]", "acme")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**brand=acme**")
    ids = [int(t) for t in page.locator("#queue a.case-link").all_inner_texts()]
    assert ids == [site["flagged"][0]]

    # The case: evidence image rendered server-side and actually loaded.
    page.click("#queue a.case-link")
    page.wait_for_url(f"**/ui/cases/{site['flagged'][0]}")
    evidence = page.locator("img.evidence-img").first
    evidence.wait_for()
    page.wait_for_function(
        "() => { const i = document.querySelector('img.evidence-img'); return i && i.complete; }"
    )
    assert evidence.evaluate("img => img.naturalWidth") > 300
    assert "astronaut.jpg" in page.inner_text("table.matches")

    # A decision is recorded and shows in the audit log, and the case leaves the open queue.
    page.fill("#note", "identical catalogue shot, cropped")
    page.click("button[value=confirm]")
    page.wait_for_selector("#audit-log td:has-text('review.confirm')")
    audit = page.inner_text("#audit-log")
    assert "identical catalogue shot, cropped" in audit and "test-reviewer" in audit
    assert page.inner_text("#status") == "confirmed"

    # The evidence file downloads as one self-contained HTML document.
    with page.expect_download() as info:
        page.click("#export")
    saved = tmp_path / "case.html"
    info.value.save_as(saved)
    html = saved.read_text()
    assert "data:image/png;base64," in html and "identical catalogue shot, cropped" in html

    page.goto(f"{url}/ui/")
    ids = [int(t) for t in page.locator("#queue a.case-link").all_inner_texts()]
    assert site["flagged"][0] not in ids and site["flagged"][1] in ids
    page.close()


def test_cross_site_posts_and_stale_sessions_are_refused(site: dict) -> None:
    url = site["url"]
    # A forged form post from another origin is refused even with a valid session.
    with httpx.Client(base_url=url, follow_redirects=False) as client:
        r = client.post("/ui/login", data={"key": site["keys"]["marketplace"]})
        assert r.status_code == 303
        r = client.post(
            f"/ui/cases/{site['flagged'][1]}/decision",
            data={"decision": "dismiss"},
            headers={"Origin": "https://evil.example"},
        )
        assert r.status_code == 403
        assert client.get(f"/ui/cases/{site['flagged'][1]}/listing").status_code == 200
    # A forged or tampered session cookie is no session.
    forged = {"authcheck_session": "0" * 64 + ".9999999999." + "f" * 64}
    with httpx.Client(base_url=url, follow_redirects=False, cookies=forged) as client:
        assert client.get("/ui/").status_code == 303  # back to the login form
        assert client.get(f"/ui/cases/{site['flagged'][1]}/listing").status_code == 401
