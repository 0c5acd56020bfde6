"""The HTTP service against a real uvicorn server on a loopback port, over a real home."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image

from authcheck.api import ApiConfig, create_app
from authcheck.api.testing import free_port, jpeg_bytes, sample_image, seed_home, serve_in_thread
from authcheck.api.uploads import UploadLimits
from authcheck.app import Authcheck
from authcheck.cli import main as cli_main

LIMITS = UploadLimits(max_bytes=3 * 1024 * 1024, max_pixels=20_000_000, max_files=4)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api-home")


@pytest.fixture(scope="module")
def keys(home: Path) -> dict[str, str]:
    return seed_home(home, {"acme": ["astronaut", "coffee"], "globex": ["chelsea"]})


@pytest.fixture(scope="module")
def client(home: Path, keys: dict[str, str]):
    app = create_app(home, config=ApiConfig(uploads=LIMITS))
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def copy_of_astronaut() -> bytes:
    """A cropped, recompressed copy of a registered catalogue shot."""
    return jpeg_bytes(sample_image("astronaut")[40:420, 50:470], quality=80)


def clean_image() -> bytes:
    return jpeg_bytes(sample_image("rocket"))


def screen(client: httpx.Client, key: str, files, **data) -> httpx.Response:
    if isinstance(files, tuple):
        files = {"image": files}
    return client.post("/v1/screen", files=files, data=data, headers=auth(key))


# -- authentication -----------------------------------------------------------------------
def test_health_needs_no_key_and_reports_the_catalogue(client: httpx.Client) -> None:
    body = client.get("/v1/health").json()
    assert body["status"] == "ok" and body["model"] == "sscd_distilled" and body["references"] >= 3


def test_keys_are_accepted_as_bearer_or_x_api_key(client: httpx.Client, keys: dict[str, str]) -> None:
    assert client.get("/v1/me", headers=auth(keys["marketplace"])).json()["role"] == "marketplace"
    me = client.get("/v1/me", headers={"X-API-Key": keys["brand:acme"]}).json()
    assert me == {"key_id": me["key_id"], "role": "brand", "brand": "acme", "label": "acme-bot"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer ack_wrong"}, {"X-API-Key": "nonsense"}])
def test_missing_or_wrong_key_is_401_with_json(client: httpx.Client, headers: dict) -> None:
    r = client.get("/v1/queue", headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "key" in r.json()["error"]


def test_roles_are_enforced(client: httpx.Client, keys: dict[str, str]) -> None:
    assert screen(client, keys["brand:acme"], ("a.jpg", clean_image(), "image/jpeg")).status_code == 403
    assert client.get("/v1/queue", headers=auth(keys["brand:acme"])).status_code == 403
    assert client.get("/v1/keys", headers=auth(keys["marketplace"])).status_code == 403
    r = client.post("/v1/brands", json={"name": "initech"}, headers=auth(keys["marketplace"]))
    assert r.status_code == 403 and "admin" in r.json()["error"]


def test_admin_creates_lists_and_revokes_keys(client: httpx.Client, keys: dict[str, str]) -> None:
    admin = auth(keys["admin"])
    made = client.post("/v1/keys", json={"role": "marketplace", "label": "bob"}, headers=admin)
    assert made.status_code == 201
    secret, key_id = made.json()["key"], made.json()["id"]
    assert client.get("/v1/me", headers=auth(secret)).json()["label"] == "bob"
    listed = client.get("/v1/keys", headers=admin)
    assert secret not in listed.text and secret[:12] in listed.text  # prefix only
    assert client.delete(f"/v1/keys/{key_id}", headers=admin).status_code == 204
    assert client.get("/v1/me", headers=auth(secret)).status_code == 401
    assert client.delete(f"/v1/keys/{key_id}", headers=admin).status_code == 404
    bad = client.post("/v1/keys", json={"role": "brand"}, headers=admin)
    assert bad.status_code == 400 and "brand" in bad.json()["error"]


# -- screening ----------------------------------------------------------------------------
def test_screening_a_copy_returns_the_cli_verdict_json_and_queues_it(
    client: httpx.Client, keys: dict[str, str], home: Path
) -> None:
    data = copy_of_astronaut()
    r = screen(
        client, keys["marketplace"], ("listing.jpg", data, "image/jpeg"), seller_id="s-1", listing_id="L-1"
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["verdict"] == "copy" and body["seller"] == "s-1"
    assert body["matches"][0]["source"] == "astronaut.jpg" and body["matches"][0]["brand"] == "acme"
    # Same shape and verdict as the CLI / library path.
    core = Authcheck(home)
    try:
        direct = core.screen_one("listing.jpg", data, seller="s-1", record=False).to_dict()
    finally:
        core.close()
    assert set(body) == set(direct) | {"screening_id"}
    assert [m["reference_id"] for m in body["matches"]] == [m["reference_id"] for m in direct["matches"]]
    queue = client.get("/v1/queue", headers=auth(keys["marketplace"])).json()["screenings"]
    assert queue[0]["id"] == body["screening_id"] and queue[0]["listing_id"] == "L-1"
    assert "pairs" not in queue[0]["result"]["matches"][0]  # evidence only on request


def test_screening_a_clean_image_is_not_queued(client: httpx.Client, keys: dict[str, str]) -> None:
    r = screen(client, keys["marketplace"], ("rocket.jpg", clean_image(), "image/jpeg"))
    assert r.status_code == 200 and r.json()["verdict"] == "clean"
    assert "screening_id" not in r.json()


def test_several_images_give_per_item_results_and_errors(client: httpx.Client, keys: dict[str, str]) -> None:
    files = [
        ("image", ("front.jpg", clean_image(), "image/jpeg")),
        ("image", ("notes.txt", b"just text", "text/plain")),
        ("image", ("back.jpg", copy_of_astronaut(), "image/jpeg")),
        ("image", ("cut.jpg", copy_of_astronaut()[:3000], "image/jpeg")),
    ]
    r = screen(client, keys["marketplace"], files, listing_id="L-2", record="false")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["verdict"] == "copy" and body["listing_id"] == "L-2"
    results = body["results"]
    assert [x.get("verdict") for x in results] == ["clean", None, "copy", None]
    assert results[1]["status"] == 415 and "only images" in results[1]["error"]
    assert "truncated" in results[3]["error"]


def _png_claiming(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("1", (width, height)).save(buf, "PNG")  # compresses to almost nothing
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "payload", "ctype", "status", "words"),
    [
        ("empty.jpg", b"", "image/jpeg", 400, "empty"),
        ("notes.txt", b"hello", "text/plain", 415, "only images"),
        ("fake.jpg", b"\xff\xd8\xff\xe0 not really a jpeg", "image/jpeg", 415, "not an image"),
        ("cut.jpg", None, "image/jpeg", 422, "truncated"),
        ("huge.png", "pixels", "image/png", 413, "pixel limit"),
        ("big.bmp", "bytes", "image/bmp", 413, "byte limit"),
    ],
)
def test_bad_single_uploads_are_4xx_with_a_clear_message(
    client: httpx.Client, keys: dict[str, str], name: str, payload, ctype: str, status: int, words: str
) -> None:
    if payload is None:
        payload = copy_of_astronaut()[:2500]
    elif payload == "pixels":
        payload = _png_claiming(6000, 4000)  # 24 MP > 20 MP
    elif payload == "bytes":
        buf = io.BytesIO()
        Image.new("RGB", (1100, 1000)).save(buf, "BMP")  # ~3.3 MB > 3 MB
        payload = buf.getvalue()
    r = screen(client, keys["marketplace"], (name, payload, ctype))
    assert r.status_code == status, r.text
    assert words in r.json()["error"]


def test_request_shape_errors_are_json(client: httpx.Client, keys: dict[str, str]) -> None:
    r = client.post("/v1/screen", data={"seller_id": "s"}, headers=auth(keys["marketplace"]))
    assert r.status_code == 422 and r.json()["error"].startswith("invalid request")
    five = [("image", (f"{i}.jpg", clean_image(), "image/jpeg")) for i in range(5)]
    r = screen(client, keys["marketplace"], five)
    assert r.status_code == 413 and "at most 4" in r.json()["error"]
    r = client.post(
        "/v1/screen",
        content=b"x" * (LIMITS.max_request_bytes + 10),
        headers={**auth(keys["marketplace"]), "Content-Type": "multipart/form-data; boundary=zz"},
    )
    assert r.status_code == 413 and "limit" in r.json()["error"]
    r = client.post("/v1/screen", content=b"--zz\r\nbroken", headers={"Content-Type": "multipart/form-data"})
    assert r.status_code in (400, 401, 422)
    assert client.get("/v1/screenings/999999", headers=auth(keys["marketplace"])).json() == {
        "error": "no screening 999999"
    }


def test_screening_scoped_to_an_unknown_brand_is_404(client: httpx.Client, keys: dict[str, str]) -> None:
    r = screen(client, keys["marketplace"], ("a.jpg", clean_image(), "image/jpeg"), brand="nobody")
    assert r.status_code == 404


# -- references through the API, and changes from other processes --------------------------
def test_brand_registers_screens_match_and_removal_takes_effect(
    client: httpx.Client, keys: dict[str, str]
) -> None:
    brand = auth(keys["brand:globex"])
    cat = sample_image("immunohistochemistry")
    r = client.post(
        "/v1/brands/globex/references", files={"image": ("ihc.jpg", jpeg_bytes(cat))}, headers=brand
    )
    assert r.status_code == 201, r.text
    ref_id = r.json()["reference_ids"][0]
    again = client.post(
        "/v1/brands/globex/references", files={"image": ("ihc.jpg", jpeg_bytes(cat))}, headers=brand
    )
    assert again.status_code == 200 and again.json()["already_registered"] == 1
    copy = jpeg_bytes(cat[20:280, 30:400], quality=75)
    hit = screen(client, keys["marketplace"], ("c.jpg", copy, "image/jpeg"), record="false").json()
    assert hit["verdict"] == "copy" and hit["matches"][0]["reference_id"] == ref_id
    got = client.get(f"/v1/brands/globex/references/{ref_id}/image", headers=brand)
    assert got.status_code == 200 and got.content[:2] == b"\xff\xd8"
    assert client.delete(f"/v1/brands/globex/references/{ref_id}", headers=brand).status_code == 200
    after = screen(client, keys["marketplace"], ("c.jpg", copy, "image/jpeg"), record="false").json()
    assert all(m["reference_id"] != ref_id for m in after["matches"])
    assert client.get(f"/v1/brands/globex/references/{ref_id}", headers=brand).status_code == 404


def test_register_refuses_bad_files_clearly(client: httpx.Client, keys: dict[str, str]) -> None:
    brand = auth(keys["brand:acme"])
    r = client.post(
        "/v1/brands/acme/references", files={"image": ("x.txt", b"text", "text/plain")}, headers=brand
    )
    assert r.status_code == 415 and "only images" in r.json()["error"]
    r = client.post(
        "/v1/brands/acme/references", files={"image": ("c.jpg", copy_of_astronaut()[:2000])}, headers=brand
    )
    assert r.status_code == 422 and r.json()["error"].startswith("nothing registered")
    r = client.post(
        "/v1/brands/acme/references", files={"image": ("a.jpg", b"")}, data={"kind": "x"}, headers=brand
    )
    assert r.status_code == 422


def test_references_registered_by_another_process_are_picked_up(
    client: httpx.Client, keys: dict[str, str], home: Path
) -> None:
    moon = sample_image("moon")  # grey, 512x512
    copy = jpeg_bytes(moon[30:470, 40:500], quality=80)
    before = screen(client, keys["marketplace"], ("m.jpg", copy, "image/jpeg"), record="false").json()
    assert before["verdict"] == "clean"
    other = Authcheck(home)  # another writer with its own index, as `authcheck register` would be
    try:
        report = other.register([], "acme", sources=[("moon.jpg", jpeg_bytes(moon))])
    finally:
        other.close()
    after = screen(client, keys["marketplace"], ("m.jpg", copy, "image/jpeg"), record="false").json()
    assert after["verdict"] == "copy" and after["matches"][0]["reference_id"] == report.registered[0]


def test_screening_is_not_blocked_by_a_held_write_lock(
    client: httpx.Client, keys: dict[str, str], home: Path
) -> None:
    """Registration holds the cross-process write lock; screening must go on meanwhile."""
    holder = Authcheck(home)
    try:
        with ThreadPoolExecutor(2) as pool, holder.write_lock():
            reg = pool.submit(
                client.post,
                "/v1/brands/acme/references",
                files={"image": ("camera.jpg", jpeg_bytes(sample_image("camera")))},
                headers=auth(keys["brand:acme"]),
            )
            start = time.perf_counter()
            r = screen(client, keys["marketplace"], ("r.jpg", clean_image(), "image/jpeg"), record="false")
            assert r.status_code == 200 and time.perf_counter() - start < 20
            assert not reg.done()  # the registration is still waiting for the lock
        assert reg.result(timeout=60).status_code == 201
    finally:
        holder.close()


def test_concurrent_screens_all_succeed(client: httpx.Client, keys: dict[str, str]) -> None:
    payloads = [copy_of_astronaut(), clean_image()] * 3
    with ThreadPoolExecutor(6) as pool:
        results = list(
            pool.map(
                lambda d: screen(client, keys["marketplace"], ("x.jpg", d, "image/jpeg"), record="false"),
                payloads,
            )
        )
    assert [r.status_code for r in results] == [200] * 6
    assert [r.json()["verdict"] for r in results] == ["copy", "clean"] * 3


# -- review -------------------------------------------------------------------------------
def _flag(client: httpx.Client, keys: dict[str, str], seller: str | None = "s-9") -> int:
    data = {"seller_id": seller} if seller else {}
    r = screen(client, keys["marketplace"], ("l.jpg", copy_of_astronaut(), "image/jpeg"), **data)
    return r.json()["screening_id"]


def test_decisions_are_recorded_with_reviewer_and_note_and_leave_the_queue(
    client: httpx.Client, keys: dict[str, str]
) -> None:
    mkt = auth(keys["marketplace"])
    sid = _flag(client, keys)
    r = client.post(
        f"/v1/screenings/{sid}/decision", json={"decision": "dismiss", "note": "own photo"}, headers=mkt
    )
    assert r.status_code == 200 and r.json()["status"] == "dismissed"
    case = client.get(f"/v1/screenings/{sid}", headers=mkt).json()
    assert (
        case["reviews"][0]["reviewer"].startswith("test-reviewer")
        and case["reviews"][0]["note"] == "own photo"
    )
    assert (
        case["audit"][0]["action"] == "review.dismiss" and case["audit"][0]["detail"]["note"] == "own photo"
    )
    assert sid not in [s["id"] for s in client.get("/v1/queue", headers=mkt).json()["screenings"]]
    assert sid in [
        s["id"] for s in client.get("/v1/screenings?status=dismissed", headers=mkt).json()["screenings"]
    ]
    assert (
        client.post("/v1/screenings/999999/decision", json={"decision": "confirm"}, headers=mkt).status_code
        == 404
    )
    bad = client.post(f"/v1/screenings/{sid}/decision", json={"decision": "maybe"}, headers=mkt)
    assert bad.status_code == 422


def test_authorising_the_seller_adds_it_to_the_brand(client: httpx.Client, keys: dict[str, str]) -> None:
    mkt = auth(keys["marketplace"])
    sid = _flag(client, keys, seller="reseller-7")
    r = client.post(f"/v1/screenings/{sid}/decision", json={"decision": "authorise"}, headers=mkt)
    assert r.status_code == 200 and r.json()["status"] == "authorised"
    sellers = client.get("/v1/brands/acme/sellers", headers=auth(keys["brand:acme"])).json()
    assert "reseller-7" in sellers["authorised_sellers"]
    no_seller = _flag(client, keys, seller=None)
    r = client.post(f"/v1/screenings/{no_seller}/decision", json={"decision": "authorise"}, headers=mkt)
    assert r.status_code == 409 and "seller" in r.json()["error"]
    r = client.post(
        f"/v1/screenings/{sid}/decision", json={"decision": "authorise", "brands": ["globex"]}, headers=mkt
    )
    assert r.status_code == 409 and "globex" in r.json()["error"]


def test_evidence_png_and_self_contained_export(client: httpx.Client, keys: dict[str, str]) -> None:
    mkt = auth(keys["marketplace"])
    sid = _flag(client, keys)
    png = client.get(f"/v1/screenings/{sid}/evidence.png", headers=mkt)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(png.content))
    assert image.width > image.height > 300  # listing and reference side by side
    assert (
        client.get(f"/v1/screenings/{sid}/evidence.png?reference_id=424242", headers=mkt).status_code == 404
    )
    export = client.get(f"/v1/screenings/{sid}/export.html", headers=mkt)
    assert export.status_code == 200
    assert f"authcheck-case-{sid}.html" in export.headers["content-disposition"]
    html = export.text
    assert html.count("data:image/png;base64,") >= 1 and "data:image/jpeg;base64," in html
    assert not re.search(r"""(src|href)=["'](?!data:)""", html), "the export must not fetch anything"
    assert "astronaut.jpg" in html and "case.export" not in html  # exported before its own audit record
    case = client.get(f"/v1/screenings/{sid}", headers=mkt).json()
    assert case["audit"][0]["action"] == "case.export"


def test_brand_crud_and_validation(client: httpx.Client, keys: dict[str, str]) -> None:
    admin = auth(keys["admin"])
    r = client.post("/v1/brands", json={"name": "initech", "authorised_sellers": ["shop-1"]}, headers=admin)
    assert r.status_code == 201 and r.json()["authorised_sellers"] == ["shop-1"]
    r = client.post("/v1/brands", json={"name": "  "}, headers=admin)
    assert r.status_code == 422 and "name" in r.json()["error"]
    r = client.post("/v1/brands/initech/wordmarks", json={"wordmarks": ["INITECH"]}, headers=admin)
    assert r.json()["wordmarks"] == ["INITECH"]
    assert client.delete("/v1/brands/initech/wordmarks/INITECH", headers=admin).json()["wordmarks"] == []
    assert (
        client.delete("/v1/brands/initech/sellers/shop-1", headers=admin).json()["authorised_sellers"] == []
    )
    assert client.delete("/v1/brands/initech/sellers/shop-1", headers=admin).status_code == 404
    assert client.get("/v1/brands/nobody", headers=admin).status_code == 404
    names = [b["name"] for b in client.get("/v1/brands", headers=auth(keys["marketplace"])).json()["brands"]]
    assert {"acme", "globex", "initech"} <= set(names)


def test_openapi_docs_are_served(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/screen" in spec["paths"] and "/v1/brands/{brand}/references" in spec["paths"]
    assert set(spec["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
    assert not any(p.startswith("/ui") for p in spec["paths"])
    assert client.get("/docs").status_code == 200


# -- CLI ----------------------------------------------------------------------------------
def test_keys_cli_creates_lists_and_revokes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = str(tmp_path / "h")
    assert cli_main(["--home", home, "brand", "add", "acme"]) == 0
    assert cli_main(["--home", home, "keys", "create", "--role", "brand", "--brand", "acme", "--json"]) == 0
    made = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert made["key"].startswith("ack_") and made["brand"] == "acme"
    assert cli_main(["--home", home, "keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert made["key"] not in listing and made["key"][:12] in listing and "live" in listing
    assert cli_main(["--home", home, "keys", "revoke", str(made["id"])]) == 0
    assert cli_main(["--home", home, "keys", "revoke", str(made["id"])]) == 2
    assert cli_main(["--home", home, "keys", "create", "--role", "brand"]) == 2
    assert cli_main(["--home", home, "keys", "create", "--role", "brand", "--brand", "nobody"]) == 2
    assert "unknown brand" in capsys.readouterr().err


def test_serve_command_with_two_workers(tmp_path: Path, keys: dict[str, str], home: Path) -> None:
    """`authcheck serve --workers 2` answers from both worker processes over the same home."""
    port = free_port()
    env = {**os.environ, "AUTHCHECK_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "authcheck.cli",
        "--home",
        str(home),
        "serve",
        "--port",
        str(port),
        "--workers",
        "2",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        with httpx.Client(base_url=url, timeout=60) as c:
            verdicts = {
                screen(
                    c, keys["marketplace"], ("a.jpg", copy_of_astronaut(), "image/jpeg"), record="false"
                ).json()["verdict"]
                for _ in range(4)
            }
        assert verdicts == {"copy"}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# -- web UI without a browser ---------------------------------------------------------------
def test_ui_escapes_listing_data_and_needs_a_reviewer_session(
    client: httpx.Client, keys: dict[str, str]
) -> None:
    evil = "<script>alert(1)</script>"
    r = screen(client, keys["marketplace"], ("x.jpg", copy_of_astronaut(), "image/jpeg"), seller_id=evil)
    sid = r.json()["screening_id"]
    assert client.get(f"/ui/cases/{sid}", follow_redirects=False).status_code == 303  # to the login form
    assert client.get(f"/ui/cases/{sid}/evidence/1.png").status_code == 401
    with httpx.Client(base_url=str(client.base_url), timeout=60, follow_redirects=True) as browser:
        login = browser.post("/ui/login", data={"key": keys["marketplace"], "next": "https://evil.example/"})
        assert login.url.path == "/ui/"  # off-site "next" targets are ignored
        for page in ("/ui/", f"/ui/cases/{sid}"):
            html = browser.get(page).text
            assert evil not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        form = browser.post(f"/ui/cases/{sid}/decision", data={"decision": "confirm", "note": evil})
        assert form.status_code == 200 and "&lt;script&gt;" in form.text and evil not in form.text
        export = browser.get(f"/ui/cases/{sid}/export.html")
        assert export.status_code == 200 and evil not in export.text
        browser.post("/ui/logout")
        assert browser.get("/ui/", follow_redirects=False).status_code == 303
