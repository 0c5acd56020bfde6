"""Brand isolation: a brand key reaches its own brand's references, sellers and wordmarks, nothing else.

Every brand-scoped endpoint is tried with another brand's key (403, and nothing of the
other brand in the body), with the owner's path but another brand's reference (404),
and with roles that do not manage brands.
"""

from __future__ import annotations

import httpx
import pytest

from authcheck.api import create_app
from authcheck.api.testing import jpeg_bytes, sample_image, seed_home, serve_in_thread
from index.catalogue import Catalogue


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("isolation-home")
    keys = seed_home(home, {"acme": ["astronaut"], "globex": ["chelsea", "coffee"]})
    catalogue = Catalogue(home / "catalogue.sqlite")
    catalogue.set_sellers("globex", ["globex-shop"], authorised=True)
    catalogue.set_wordmarks("globex", ["GLOBEX"], present=True)
    refs = {b: [r.id for r in catalogue.list_references(brand=b)] for b in ("acme", "globex")}
    secrets = [r.sha256 for r in catalogue.list_references(brand="globex")] + ["chelsea.jpg", "coffee.jpg"]
    catalogue.close()
    with serve_in_thread(create_app(home)) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield {"client": client, "keys": keys, "refs": refs, "globex_secrets": secrets}


def _headers(world: dict, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world['keys'][who]}"}


def _image() -> dict:
    return {"image": ("new.jpg", jpeg_bytes(sample_image("rocket")), "image/jpeg")}


# (method, path, json body, multipart files); {ref} is one of globex's references.
BRAND_ENDPOINTS = [
    ("GET", "/v1/brands/{brand}", None, None),
    ("GET", "/v1/brands/{brand}/sellers", None, None),
    ("POST", "/v1/brands/{brand}/sellers", {"sellers": ["intruder"]}, None),
    ("DELETE", "/v1/brands/{brand}/sellers/globex-shop", None, None),
    ("GET", "/v1/brands/{brand}/wordmarks", None, None),
    ("POST", "/v1/brands/{brand}/wordmarks", {"wordmarks": ["FAKE"]}, None),
    ("DELETE", "/v1/brands/{brand}/wordmarks/GLOBEX", None, None),
    ("GET", "/v1/brands/{brand}/references", None, None),
    ("POST", "/v1/brands/{brand}/references", None, "image"),
    ("GET", "/v1/brands/{brand}/references/{ref}", None, None),
    ("GET", "/v1/brands/{brand}/references/{ref}/image", None, None),
    ("DELETE", "/v1/brands/{brand}/references/{ref}", None, None),
]


def _call(world: dict, who: str, method: str, path: str, body, files, brand: str, ref: int) -> httpx.Response:
    url = path.format(brand=brand, ref=ref)
    kwargs: dict = {"headers": _headers(world, who)}
    if body is not None:
        kwargs["json"] = body
    if files is not None:
        kwargs["files"] = _image()
    return world["client"].request(method, url, **kwargs)


def _assert_nothing_leaks(world: dict, response: httpx.Response) -> None:
    for secret in world["globex_secrets"]:
        assert secret not in response.text, f"{response.request.url} leaked {secret!r}"


@pytest.mark.parametrize(("method", "path", "body", "files"), BRAND_ENDPOINTS)
def test_another_brands_key_is_refused_and_learns_nothing(world: dict, method, path, body, files) -> None:
    ref = world["refs"]["globex"][0]
    r = _call(world, "brand:acme", method, path, body, files, "globex", ref)
    assert r.status_code == 403, r.text
    assert "acme" in r.json()["error"]  # "this key manages brand 'acme' only"
    _assert_nothing_leaks(world, r)


@pytest.mark.parametrize(("method", "path", "body", "files"), BRAND_ENDPOINTS)
def test_unknown_brands_look_the_same_as_other_brands_to_a_brand_key(
    world: dict, method, path, body, files
) -> None:
    r = _call(world, "brand:acme", method, path, body, files, "no-such-brand", 1)
    assert r.status_code == 403


@pytest.mark.parametrize(("method", "path", "body", "files"), BRAND_ENDPOINTS)
def test_marketplace_keys_do_not_manage_brands(world: dict, method, path, body, files) -> None:
    r = _call(world, "marketplace", method, path, body, files, "globex", world["refs"]["globex"][0])
    assert r.status_code == 403


@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("GET", "/image"), ("DELETE", "")])
def test_another_brands_reference_under_ones_own_path_is_404(world: dict, method: str, suffix: str) -> None:
    for ref in world["refs"]["globex"]:
        r = world["client"].request(
            method, f"/v1/brands/acme/references/{ref}{suffix}", headers=_headers(world, "brand:acme")
        )
        assert r.status_code == 404
        _assert_nothing_leaks(world, r)
    # ...and globex's references are all still there.
    listed = (
        world["client"].get("/v1/brands/globex/references", headers=_headers(world, "brand:globex")).json()
    )
    assert sorted(r["id"] for r in listed["references"]) == sorted(world["refs"]["globex"])


def test_brand_lists_show_only_ones_own_brand(world: dict) -> None:
    r = world["client"].get("/v1/brands", headers=_headers(world, "brand:acme"))
    assert [b["name"] for b in r.json()["brands"]] == ["acme"]
    _assert_nothing_leaks(world, r)
    own = world["client"].get("/v1/brands/acme/references", headers=_headers(world, "brand:acme")).json()
    assert {r["brand"] for r in own["references"]} == {"acme"}
    _assert_nothing_leaks(
        world, world["client"].get("/v1/brands/acme/references", headers=_headers(world, "brand:acme"))
    )


def test_owner_and_admin_can_use_the_same_endpoints(world: dict) -> None:
    ref = world["refs"]["globex"][0]
    for who in ("brand:globex", "admin"):
        for method, path, body, files in BRAND_ENDPOINTS:
            if method != "GET":
                continue
            r = _call(world, who, method, path, body, files, "globex", ref)
            assert r.status_code == 200, (who, path, r.text)
    r = _call(world, "admin", "GET", "/v1/brands/{brand}", None, None, "no-such-brand", 0)
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/queue"),
        ("GET", "/v1/screenings"),
        ("GET", "/v1/screenings/1"),
        ("GET", "/v1/screenings/1/evidence.png"),
        ("GET", "/v1/screenings/1/export.html"),
        ("POST", "/v1/screenings/1/decision"),
        ("GET", "/v1/keys"),
        ("POST", "/v1/keys"),
        ("POST", "/v1/brands"),
    ],
)
def test_brand_keys_cannot_read_screenings_or_administer(world: dict, method: str, path: str) -> None:
    r = world["client"].request(method, path, headers=_headers(world, "brand:acme"))
    assert r.status_code == 403


def test_brand_keys_cannot_screen_or_log_into_the_review_ui(world: dict) -> None:
    client = world["client"]
    r = client.post("/v1/screen", files=_image(), headers=_headers(world, "brand:acme"))
    assert r.status_code == 403
    r = client.post("/ui/login", data={"key": world["keys"]["brand:acme"]}, follow_redirects=False)
    assert r.status_code == 403 and "set-cookie" not in r.headers


def test_a_brand_key_cannot_create_keys_for_itself_or_others(world: dict) -> None:
    r = world["client"].post(
        "/v1/keys", json={"role": "brand", "brand": "globex"}, headers=_headers(world, "brand:acme")
    )
    assert r.status_code == 403
