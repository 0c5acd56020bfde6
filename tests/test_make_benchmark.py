"""Tests for scripts/make_benchmark.py (the DISC21-style benchmark data builder).

The build tests need the registry-installed sources (``scripts/install_bench_sources.sh``):
Debian wallpapers and tuxpaint stamps, npm simple-icons, and the Python ``bench`` extra.
Without them they are skipped with the reason; the helper tests always run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
sys.path.insert(0, str(SCRIPTS))

COPY_EDIT_KINDS = {
    "crop",
    "resize",
    "jpeg",
    "hflip",
    "rotate",
    "colour",
    "blur",
    "text",
    "emoji",
    "pad",
    "screenshot",
    "paste",
}


def _missing_sources() -> list[str]:
    missing = [
        m
        for m in ("numpy", "PIL", "cv2", "cairosvg", "augly", "skimage")
        if importlib.util.find_spec(m) is None
    ]
    if not Path("/usr/share/tuxpaint/stamps").is_dir():
        missing.append("tuxpaint-stamps-default")
    if not (Path("/usr/share/wallpapers").is_dir() or Path("/usr/share/backgrounds/mate").is_dir()):
        missing.append("Debian wallpapers")
    npm = Path(os.environ.get("AUTHCHECK_BENCH_NPM", Path.home() / ".cache" / "authcheck-bench" / "npm"))
    if not (npm / "node_modules" / "simple-icons" / "icons").is_dir():
        missing.append(f"npm simple-icons in {npm}")
    return missing


MISSING = _missing_sources()
needs_sources = pytest.mark.skipif(
    bool(MISSING),
    reason="benchmark sources not installed (run scripts/install_bench_sources.sh): " + ", ".join(MISSING),
)


def _build(out: Path, split: str, seed: int) -> dict:
    cmd = [
        sys.executable,
        str(SCRIPTS / "make_benchmark.py"),
        "--out",
        str(out),
        "--split",
        split,
        "--seed",
        str(seed),
        "--scale",
        "small",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "manifest.json").read_text())


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict]]:
    """A small dev build and a small test build (different seeds, as in real use)."""
    out = {}
    for split, seed in (("dev", 1), ("test", 2)):
        d = tmp_path_factory.mktemp(f"bench-{split}")
        out[split] = (d, _build(d, split, seed))
    return out


# ------------------------------------------------------------------ helpers (no sources needed)


def test_assign_splits_is_balanced_and_seed_free() -> None:
    from benchdata.common import assign_splits

    groups = {"a": [f"g{i}" for i in range(11)], "b": ["x", "y"]}
    first = assign_splits(groups)
    assert first == assign_splits(groups)  # fixed salt: same answer every time
    counts = Counter(first[g] for g in groups["a"])
    assert abs(counts["dev"] - counts["test"]) <= 1
    assert {first["x"], first["y"]} == {"dev", "test"}


def test_stamp_object_key_collapses_variants() -> None:
    from benchdata.sources import stamp_object_key

    assert stamp_object_key("apple_red") == stamp_object_key("apple_fuji") == "apple"
    assert stamp_object_key("measuring_tape_mirror") == stamp_object_key("measuring_tape")
    assert stamp_object_key("stoplight_01_red") == "stoplight"
    assert stamp_object_key("t_shirt") == "shirt"


def test_parse_dep5_and_licence_match(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchdata import sources

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "copyright").write_text(
        "Format: x\n\nFiles: *\nCopyright: 2020 A\nLicense: GPL-2+\n\n"
        "Files: 16.04/pic_by_B.jpg\n       other/*.png\nCopyright: 2018 B\nLicense: CC-BY-4.0\n"
    )
    monkeypatch.setattr(sources, "DOC_DIR", tmp_path)
    assert sources.licence_for("pkg", "/usr/share/backgrounds/pic_by_B.jpg").startswith("CC-BY-4.0")
    assert sources.licence_for("pkg", "/usr/share/x/other/a.png").startswith("CC-BY-4.0")
    assert sources.licence_for("pkg", "/usr/share/x/c.jpg").startswith("GPL-2+")


def test_edits_record_their_parameters() -> None:
    np = pytest.importorskip("numpy")
    pytest.importorskip("cv2")
    from benchdata.common import rng_for
    from benchdata.edits import COPY_EDIT_KINDS as KINDS
    from benchdata.edits import EDIT_FUNCS, EditContext, _max_inscribed
    from PIL import Image

    assert set(KINDS) == COPY_EDIT_KINDS
    w, h = _max_inscribed(800, 600, 20)
    assert 0 < w < 800 and 0 < h < 600
    img = Image.fromarray((np.arange(300 * 400 * 3) % 251).astype("uint8").reshape(300, 400, 3))
    ctx = EditContext.create(lambda rng, side: (Image.new("RGB", (side, side * 3 // 4), "grey"), "bg"))
    for i, kind in enumerate(KINDS):
        out, params = EDIT_FUNCS[kind](img, rng_for("t", i), ctx)
        assert params["op"] == kind
        assert out.mode == "RGB" and min(out.size) > 0
        json.dumps(params)  # manifest-serialisable


# ------------------------------------------------------------------ full small builds


@needs_sources
@pytest.mark.slow
def test_manifest_is_consistent(builds: dict[str, tuple[Path, dict]]) -> None:
    from PIL import Image

    for split, (root, m) in builds.items():
        assert m["split"] == split
        refs = {r["file"]: r for r in m["references"]}
        kinds = Counter(r["kind"] for r in refs.values())
        assert kinds["catalogue"] > 0 and kinds["logo"] > 0
        brands = {b["name"]: b for b in m["brands"]}
        assert 1 <= len(brands) <= 12
        for r in refs.values():
            assert (root / r["file"]).is_file(), r["file"]
            assert r["brand"] in brands and r["licence"] and r["source"]
        owned = Counter(r["brand"] for r in refs.values() if r["kind"] == "logo")
        assert all(1 <= n <= 4 for n in owned.values())

        types = Counter(q["type"] for q in m["queries"])
        assert types["copy"] > 0 and types["logo"] > 0 and types["clean"] > 0
        clean_kinds = Counter(q["clean_kind"] for q in m["queries"] if q["type"] == "clean")
        assert set(clean_kinds) == {"unseen", "same_subject", "unregistered_logo"}
        assert len({q["file"] for q in m["queries"]}) == len(m["queries"])

        for q in m["queries"]:
            path = root / q["file"]
            assert path.is_file(), q["file"]
            with Image.open(path) as im:
                assert im.format == "JPEG" and list(im.size) == q["size"]
                assert max(im.size) <= 1000
            assert q["seller"]
            if q["type"] == "copy":
                assert refs[q["ref"]]["kind"] == "catalogue"
                assert q["brand"] == refs[q["ref"]]["brand"]
                assert 1 <= len(q["edits"]) <= 3
                assert q["edits"] and q["primary_edit"] in {e["op"] for e in q["edits"]}
                assert q["clean_kind"] is None and q["box"] is None
            elif q["type"] == "logo":
                assert refs[q["ref"]]["kind"] == "logo"
                assert q["brand"] == refs[q["ref"]]["brand"]
                authorised = q["seller"] in brands[q["brand"]]["authorised_sellers"]
                assert authorised == q["authorised"]
            else:
                assert q["ref"] is None and q["brand"] is None
                if q["clean_kind"] == "same_subject":
                    assert refs[q["related_ref"]]["kind"] == "catalogue"
                    assert q["same_subject_relation"] in {
                        "same_object",
                        "same_category",
                        "other_region",
                        "stereo_pair",
                    }
            if q["type"] == "logo" or q["clean_kind"] == "unregistered_logo":
                x0, y0, x1, y1 = q["box"]
                assert 0 <= x0 < x1 <= q["size"][0] and 0 <= y0 < y1 <= q["size"][1]
            else:
                assert q["box"] is None
        primaries = Counter(q["primary_edit"] for q in m["queries"] if q["type"] == "copy")
        assert set(primaries) == COPY_EDIT_KINDS
        assert (root / "LICENSES.md").read_text().startswith("# Licences")


@needs_sources
@pytest.mark.slow
def test_dev_and_test_use_disjoint_sources(builds: dict[str, tuple[Path, dict]]) -> None:
    def used(m: dict) -> set[str]:
        keys = {r["source"].split("#")[0] for r in m["references"]}
        keys |= {s for q in m["queries"] for s in q["sources"]}
        return keys

    dev, test = used(builds["dev"][1]), used(builds["test"][1])
    assert dev and test
    assert not dev & test, sorted(dev & test)[:10]
    # and no picture file is shared either (variants of one picture are one group)
    files = [
        {r.get("source_file") for r in m["references"] if r.get("source_file")} for _, m in builds.values()
    ]
    assert not files[0] & files[1]


@needs_sources
@pytest.mark.slow
def test_unregistered_logos_are_not_registered(builds: dict[str, tuple[Path, dict]]) -> None:
    for _, m in builds.values():
        registered = {r["slug"] for r in m["references"] if r["kind"] == "logo"}
        unregistered = {q["logo_slug"] for q in m["queries"] if q["clean_kind"] == "unregistered_logo"}
        assert unregistered and not registered & unregistered
