"""The same end-to-end story on every index backend: FAISS flat, FAISS IVF-SQ8 and Milvus (Lite).

register -> screen -> brand-scoped screen -> remove -> screen, then a new process gives the
same answers from what is on disk. Milvus runs for real on Milvus Lite (the ``milvus``
extra: pymilvus + milvus-lite); without it that case is skipped with the reason.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from authcheck.app import Authcheck


def _milvus_available() -> str | None:
    try:
        import milvus_lite  # noqa: F401
        import pymilvus  # noqa: F401
    except ImportError as exc:
        return f"milvus extra not installed ({exc})"
    return None


BACKENDS = [
    "flat",
    "ivf_sq8",
    pytest.param(
        "milvus", marks=pytest.mark.skipif(bool(_milvus_available()), reason=str(_milvus_available()))
    ),
]


def _copy_of(src: Path, dst: Path) -> Path:
    """A cropped, shrunk, recompressed copy of ``src`` (a copied catalogue shot)."""
    img = np.asarray(Image.open(src).convert("RGB"))
    h, w = img.shape[:2]
    crop = img[h // 12 : h - h // 10, w // 10 : w - w // 12]
    Image.fromarray(crop).resize((crop.shape[1] * 2 // 3, crop.shape[0] * 2 // 3)).save(
        dst, "JPEG", quality=70
    )
    return dst


def _screen_cli(home: Path, *args: str) -> list[dict]:
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "authcheck.cli",
            "--home",
            str(home),
            "screen",
            "--json",
            "--no-record",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


def _best(result) -> tuple[str, int | None, str | None]:
    m = result.matches[0] if result.matches and result.verdict != "clean" else None
    return result.verdict, (m.reference_id if m else None), (m.brand if m else None)


@pytest.mark.parametrize("backend", BACKENDS)
def test_register_screen_remove_and_restart(
    backend: str, home: Path, photos: dict[str, Path], tmp_path: Path
):
    (home / "config.json").write_text(json.dumps({"index_backend": backend}))
    copies = {n: _copy_of(photos[n], tmp_path / f"{n}-copy.jpg") for n in ("coffee", "rocket", "chelsea")}
    app = Authcheck(home)
    try:
        app.add_brand("acme")
        app.add_brand("zeta")
        acme = app.register([photos["astronaut"], photos["coffee"], photos["rocket"]], "acme")
        zeta = app.register([photos["chelsea"]], "zeta")
        assert len(acme.registered) == 3 and len(zeta.registered) == 1
        assert app.catalogue_space.index.kind == ("flat" if backend == "flat" else backend)
        coffee_id, rocket_id, chelsea_id = acme.registered[1], acme.registered[2], zeta.registered[0]

        assert _best(app.screen_one("c", copies["coffee"])) == ("copy", coffee_id, "acme")
        assert _best(app.screen_one("k", copies["chelsea"])) == ("copy", chelsea_id, "zeta")
        # brand-scoped: zeta screens only against its own references
        assert _best(app.screen_one("c", copies["coffee"], brand="zeta"))[0] == "clean"
        scoped = app.screen_one("k", copies["chelsea"], brand="zeta")
        assert _best(scoped) == ("copy", chelsea_id, "zeta")
        assert {m.brand for m in scoped.matches} == {"zeta"}

        assert [r.id for r in app.remove([coffee_id])] == [coffee_id]
        after = app.screen_one("c", copies["coffee"])
        assert after.verdict == "clean" and coffee_id not in {m.reference_id for m in after.matches}
        assert set((app.catalogue_space.index.ids() // 64).tolist()) == {
            acme.registered[0],
            rocket_id,
            chelsea_id,
        }
        in_process = [_best(app.screen_one(n, copies[n])) for n in ("coffee", "rocket", "chelsea")]
    finally:
        app.catalogue_space.close()  # releases Milvus Lite's file lock for the next process
        app.close()

    rows = _screen_cli(home, *(str(copies[n]) for n in ("coffee", "rocket", "chelsea")))
    fresh = [
        (r["verdict"], r["matches"][0]["reference_id"] if r["verdict"] != "clean" else None) for r in rows
    ]
    assert fresh == [(v, rid) for v, rid, _ in in_process]
    assert fresh[1] == ("copy", rocket_id)
    scoped_rows = _screen_cli(home, "--brand", "zeta", str(copies["rocket"]), str(copies["chelsea"]))
    assert [r["verdict"] for r in scoped_rows] == ["clean", "copy"]
    assert scoped_rows[1]["matches"][0]["reference_id"] == chelsea_id
    infos = next((home / "indexes").glob("*.json"))
    assert json.loads(infos.read_text())["kind"] == backend


def test_index_cli_info_and_rebuild_with_backend_switch(home: Path, photos: dict[str, Path]) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "authcheck.cli", "--home", str(home), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300)

    assert cli("brand", "add", "acme").returncode == 0
    assert cli("register", "--brand", "acme", *(str(p) for p in photos.values())).returncode == 0
    info = json.loads(cli("index", "info", "--json").stdout)
    assert info["backend"] == "auto" and info["current"] and info["advice"] is None
    assert info["infos"]["kind"] == "flat" and info["infos"]["count"] == len(photos)

    res = cli("index", "rebuild", "--backend", "ivf_sq8", "--json")
    assert res.returncode == 0, res.stderr
    rebuilt = json.loads(res.stdout)
    assert rebuilt["backend"] == "ivf_sq8" and rebuilt["current"]
    infos = rebuilt["infos"]
    assert infos["kind"] == "ivf_sq8" and infos["count"] == len(photos) and infos["nprobe"] >= 1
    assert infos["measured"]["recall_at_1"] >= 0.9 and infos["measured"]["search_ms_p50"] > 0
    assert json.loads((home / "config.json").read_text())["index_backend"] == "ivf_sq8"
    text = cli("index", "info").stdout
    assert "ivf_sq8" in text and "recall@1" in text and "advice      none" in text
    assert cli("index", "rebuild", "--target-recall", "2").returncode == 2
