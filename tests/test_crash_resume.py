"""Bulk registration survives kill -9: rerunning the same command finishes the job, with no
duplicates and no orphans between the SQLite catalogue, the index file and the stored copies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import faiss
import numpy as np
import pytest
from PIL import Image, ImageDraw

from index.catalogue import Catalogue

N_IMAGES = 192  # six batches of 32


def _images(folder: Path, n: int) -> list[Path]:
    """Distinct little product-like pictures: shapes in random colours on a plain background."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(11)
    out = []
    for i in range(n):
        img = Image.new("RGB", (96, 96), tuple(int(c) for c in rng.integers(150, 256, 3)))
        draw = ImageDraw.Draw(img)
        for _ in range(4):
            x0, y0 = (int(v) for v in rng.integers(0, 70, 2))
            box = (x0, y0, x0 + int(rng.integers(10, 26)), y0 + int(rng.integers(10, 26)))
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
        path = folder / f"item{i:04d}.jpg"
        img.save(path, "JPEG", quality=90)
        out.append(path)
    return out


def _cmd(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "authcheck.cli", "--home", str(home), *args]


def _count(db: Path) -> int:
    cat = Catalogue(db)
    try:
        return cat.count_references()
    finally:
        cat.close()


def _milvus_missing() -> str:
    try:
        import milvus_lite  # noqa: F401
        import pymilvus  # noqa: F401
    except ImportError as exc:
        return f"milvus extra not installed ({exc})"
    return ""


def _persisted_ids(home: Path, backend: str, path: Path) -> np.ndarray:
    """Vector ids in the index file (or, for Milvus, the collection it points to)."""
    if backend == "milvus":
        from index.backends import backend_options

        index = backend_options("milvus", home)["loader"](path)
        try:
            return index.ids()
        finally:
            index.close()
    index = faiss.read_index(str(path))
    if isinstance(index, faiss.IndexIDMap2 | faiss.IndexIDMap):
        return faiss.vector_to_array(index.id_map)
    from index.faiss_ann import load_faiss  # IVF: ids live in the inverted lists

    return load_faiss(path).ids()


@pytest.mark.parametrize(
    "backend",
    [
        "auto",
        pytest.param("milvus", marks=pytest.mark.skipif(bool(_milvus_missing()), reason=_milvus_missing())),
    ],
)
def test_kill_9_mid_registration_then_rerun(backend: str, home: Path, tmp_path: Path) -> None:
    (home / "config.json").write_text(json.dumps({"index_backend": backend}))
    folder = tmp_path / "catalogue"
    files = _images(folder, N_IMAGES)
    assert subprocess.run(_cmd(home, "brand", "add", "acme"), capture_output=True).returncode == 0
    register = _cmd(home, "register", "--brand", "acme", "--json", str(folder))

    proc = subprocess.Popen(register, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    db = home / "catalogue.sqlite"
    deadline = time.monotonic() + 240
    killed_at = -1
    while time.monotonic() < deadline and proc.poll() is None:
        if _count(db) >= 32:  # at least one batch committed, the run still going
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            killed_at = _count(db)
            break
        time.sleep(0.01)
    assert proc.returncode == -signal.SIGKILL, "the registration finished before it could be killed"
    assert 0 < killed_at < N_IMAGES

    rerun = subprocess.run(register, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["already_registered"] == killed_at
    assert summary["registered"] == N_IMAGES - killed_at

    cat = Catalogue(db)
    refs = cat.list_references(limit=10 * N_IMAGES)
    shas = [r.sha256 for r in refs]
    assert len(refs) == N_IMAGES and len(set(shas)) == N_IMAGES, "no duplicates"
    assert {r.source for r in refs} == {str(p) for p in files}
    assert all((home / r.stored_path).is_file() for r in refs), "every reference has its stored copy"

    # the index as persisted (read straight from disk, not repaired by loading it through the app)
    (infos_path,) = (home / "indexes").glob("*.json")
    infos = json.loads(infos_path.read_text())
    space = infos["space"]
    assert infos["generation"] == cat.generation(space) and infos["count"] == N_IMAGES
    index_ids = _persisted_ids(home, backend, infos_path.with_suffix(".faiss"))
    assert (
        sorted((index_ids // 64).tolist())
        == sorted(cat.vector_ids(space).tolist())
        == sorted(r.id for r in refs)
    )
    cat.close()


def test_same_file_many_times_in_one_bulk_run(home: Path, tmp_path: Path) -> None:
    """Copies of one file in a folder are hashed and stored concurrently: one reference, no error."""
    from authcheck.app import Authcheck

    (src,) = _images(tmp_path / "one", 1)
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(40):
        (folder / f"dup{i:02d}.jpg").write_bytes(src.read_bytes())
    app = Authcheck(home)
    try:
        app.add_brand("acme")
        report = app.register([folder], "acme", batch_size=8)
        assert len(report.registered) == 1 and len(report.duplicates) == 39 and not report.failed
        (ref,) = app.catalogue.list_references()
        assert (home / ref.stored_path).is_file()
        assert not list((home / "refs").rglob("*.tmp")), "no half-written stored copies"
    finally:
        app.close()
