"""Rebuilding the logo indexes beside the searches (the service) instead of in one of them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
import pytest

from authcheck.api.app import create_app
from authcheck.api.testing import seed_home, serve_in_thread
from authcheck.app import Authcheck
from authcheck.logo_detection import LogoDetector
from tests.test_logo_detection import BRAND, _logo_matches, _mark, listings  # noqa: F401 (fixture)

OTHER = "other-brand"


@pytest.fixture()
def other_logo(tmp_path: Path) -> Path:
    path = tmp_path / "other-mark.png"
    _mark("other").save(path)
    return path


def _found(app: Authcheck, listing: Path) -> list[str]:
    return [m.brand for m in _logo_matches(app.screen_one("l.jpg", listing, seller="stranger", record=False))]


class _HeldBuild:
    """Makes the detector's next builds wait until released; counts them."""

    def __init__(
        self, detector: LogoDetector, monkeypatch: pytest.MonkeyPatch, fail_first: bool = False
    ) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.calls = 0
        real = detector._build

        def held(gen: int):
            self.calls += 1
            self.started.set()
            assert self.release.wait(30), "never released"
            if fail_first and self.calls == 1:
                raise OSError("disk full")
            return real(gen)

        monkeypatch.setattr(detector, "_build", held)


def _join(detector: LogoDetector) -> None:
    thread = detector._rebuilder
    assert thread is not None
    thread.join(30)
    assert not thread.is_alive()


@contextmanager
def _searching_one_logo(home: Path, other_logo: Path, listing: Path, background: bool) -> Iterator[Authcheck]:
    """An app whose detector has built and searched a first set: another brand's logo only."""
    with closing(Authcheck(home)) as app:
        app.logos.background = background
        app.add_brand(BRAND)
        app.add_brand(OTHER)
        app.register([other_logo], OTHER, kind="logo")
        # the first set is built inside the search, background or not: there is nothing else to search
        assert _found(app, listing) == []
        assert app.logos.current and len(app.logos) == 1
        yield app


@pytest.fixture()
def held_rebuild(home: Path, listings, other_logo: Path, monkeypatch):  # noqa: F811
    """(app, held build, new logo's id): a background app rebuilding, held, after the brand's logo was registered."""
    with _searching_one_logo(home, other_logo, listings["misuse"], background=True) as app:
        held = _HeldBuild(app.logos, monkeypatch)
        (ref_id,) = app.register(
            [listings["logo"]], BRAND, kind="logo"
        ).registered  # starts the rebuild at once
        assert held.started.wait(30)
        yield app, held, ref_id
        held.release.set()


def test_the_previous_logos_are_searched_while_a_background_rebuild_runs(
    held_rebuild,
    listings,  # noqa: F811
) -> None:
    app, held, _ = held_rebuild
    assert app.logos.rebuilding and not app.logos.current
    # the search does not wait: it sees the previous set, which lacks the new logo
    assert _found(app, listings["misuse"]) == []
    assert len(app.logos) == 1
    held.release.set()
    _join(app.logos)
    assert app.logos.current and not app.logos.rebuilding and len(app.logos) == 2
    assert _found(app, listings["misuse"]) == [BRAND]
    assert held.calls == 1


def test_a_rebuilder_ending_after_its_set_is_in_place_is_not_reported_as_rebuilding(held_rebuild) -> None:
    app, held, _ = held_rebuild
    assert app.logos.state() == {"searched": 1, "current": False, "rebuilding": True}
    held.release.set()
    _join(app.logos)
    # the moment between the new set being put in place and its thread ending, held open
    done = threading.Event()
    app.logos._rebuilder = threading.Thread(target=done.wait, args=(30,), daemon=True)
    app.logos._rebuilder.start()
    try:
        assert app.logos.state() == {"searched": 2, "current": True, "rebuilding": False}
        assert not app.logos.rebuilding
    finally:
        done.set()


def test_without_background_the_next_search_waits_for_the_new_logos(
    home: Path,
    listings,  # noqa: F811
    other_logo: Path,
) -> None:
    with _searching_one_logo(home, other_logo, listings["misuse"], background=False) as app:
        app.register([listings["logo"]], BRAND, kind="logo")
        assert app.logos._rebuilder is None  # nothing started at registration
        assert _found(app, listings["misuse"]) == [BRAND]


def test_a_failed_background_rebuild_keeps_the_previous_logos_and_is_tried_again(
    home: Path,
    listings,  # noqa: F811
    other_logo: Path,
    monkeypatch,
    caplog,
) -> None:
    with _searching_one_logo(home, other_logo, listings["misuse"], background=True) as app:
        held = _HeldBuild(app.logos, monkeypatch, fail_first=True)
        held.release.set()
        app.register([listings["logo"]], BRAND, kind="logo")
        _join(app.logos)
        assert "rebuilding the logo indexes failed" in caplog.text
        assert not app.logos.current and len(app.logos) == 1  # still the previous set
        held.release.clear()
        assert _found(app, listings["misuse"]) == []  # this search starts the next try, and does not wait
        assert app.logos.rebuilding
        held.release.set()
        _join(app.logos)
        assert app.logos.current and held.calls == 2
        assert _found(app, listings["misuse"]) == [BRAND]


def test_stopping_lets_a_running_rebuild_finish_and_starts_no_more(held_rebuild) -> None:
    app, held, ref_id = held_rebuild
    thread = app.logos._rebuilder
    assert not app.logos.stop(timeout=0.05)  # still building
    app.remove([ref_id])  # a change during that build: not built after stopping
    held.release.set()
    assert app.logos.stop(timeout=30)
    # that build finished; none followed for the change made meanwhile
    assert held.calls == 1 and not app.logos.current
    app.logos.changed()
    assert app.logos._rebuilder is thread  # no thread started after stopping


def test_the_service_rebuilds_logos_beside_requests_and_health_says_when_they_are_current(
    tmp_path: Path,
    listings,  # noqa: F811
) -> None:
    home = tmp_path / "home"
    keys = seed_home(home, {BRAND: ["astronaut"]})
    auth = {"Authorization": f"Bearer {keys[f'brand:{BRAND}']}"}
    with serve_in_thread(create_app(home)) as url, httpx.Client(base_url=url, timeout=60) as client:
        health = client.get("/v1/health").json()
        assert health["logos"] == {"searched": 0, "current": True, "rebuilding": False}
        logo = ("mark.png", listings["logo"].read_bytes(), "image/png")
        assert (
            client.post(
                f"/v1/brands/{BRAND}/references", files={"image": logo}, data={"kind": "logo"}, headers=auth
            ).status_code
            == 201
        )
        deadline = time.monotonic() + 60
        while not (health := client.get("/v1/health").json())["logos"]["current"]:
            assert time.monotonic() < deadline, health
            time.sleep(0.1)
        assert health["logos"] == {"searched": 1, "current": True, "rebuilding": False}
        market = {"Authorization": f"Bearer {keys['marketplace']}"}
        listing = ("misuse.jpg", listings["misuse"].read_bytes(), "image/jpeg")
        body = client.post(
            "/v1/screen", files={"image": listing}, data={"seller": "stranger"}, headers=market
        ).json()
        assert body["verdict"] == "logo_misuse", body
