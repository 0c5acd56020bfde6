#!/usr/bin/env python
"""Benchmark the vector index kinds at catalogue scale: memory, build time, latency, recall.

The base is N synthetic 512-d descriptors shaped like real SSCD ones (mean direction,
principal components and their variances fitted to real descriptors, grouped in
families of near-duplicates: product lines shot alike) plus the real catalogue
descriptors. Queries are real: SSCD descriptors of the benchmark's copy listings (crops,
recompression, overlays, ... of the catalogue shots), so recall@1 is measured against
exact search on real descriptors. Each index kind is built and measured in its own
process (RSS is that process's, with the base read in chunks, never mapped).

    python scripts/bench_index.py --n 1000000                  # all kinds, 1M references
    python scripts/bench_index.py --n 100000 --kinds flat,ivf_sq8 --screen 0

Real descriptors come from ``--bench`` (a folder made by scripts/make_benchmark.py,
default /tmp/bench-dev) or, without one, from scikit-image / scikit-learn sample images
with augmentations. ``--screen K`` also measures bulk screening (copy detection) of K
benchmark listings, in images/s, against the benchmark's catalogue.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KINDS = ("flat", "ivf_sq8", "ivf_fs", "ivf_pq", "hnsw_sq8")
CHUNK = 100_000
DIM = 512


# -- real descriptors ---------------------------------------------------------------------
def _bench_pairs(bench: Path) -> tuple[list[Path], list[Path], list[int]]:
    """Catalogue shots and copy listings (with the index of their source) of a benchmark folder."""
    manifest = json.loads((bench / "manifest.json").read_text())
    refs = [r for r in manifest["references"] if r["kind"] == "catalogue"]
    pos = {r["file"]: i for i, r in enumerate(refs)}
    copies = [q for q in manifest["queries"] if q["type"] == "copy" and q["ref"] in pos]
    return (
        [bench / r["file"] for r in refs],
        [bench / q["file"] for q in copies],
        [pos[q["ref"]] for q in copies],
    )


def _sample_images() -> list[np.ndarray]:
    from skimage import data

    out = []
    for name in (
        "astronaut",
        "coffee",
        "chelsea",
        "rocket",
        "camera",
        "coins",
        "immunohistochemistry",
        "hubble_deep_field",
        "motorcycle_left",
        "retina",
        "skin",
        "cat",
        "page",
        "logo",
    ):
        try:
            img = getattr(data, name)()
        except Exception:  # noqa: BLE001 - data sets differ between scikit-image versions
            continue
        img = img if img.ndim == 3 else np.stack([img] * 3, axis=2)
        out.append(np.ascontiguousarray(img[..., :3]))
    return out


def _augment(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from PIL import Image, ImageEnhance

    h, w = rgb.shape[:2]
    keep = rng.uniform(0.6, 0.9)
    ch, cw = int(h * keep), int(w * keep)
    y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    pil = Image.fromarray(rgb[y : y + ch, x : x + cw]).resize((max(32, cw * 2 // 3), max(32, ch * 2 // 3)))
    pil = ImageEnhance.Color(pil).enhance(rng.uniform(0.6, 1.4))
    buf = io.BytesIO()
    pil.save(buf, "JPEG", quality=int(rng.integers(30, 75)))
    return np.asarray(Image.open(buf).convert("RGB"))


def real_descriptors(bench: Path | None, cache: Path) -> dict[str, np.ndarray]:
    """SSCD descriptors of real catalogue shots ('refs') and of copies of them ('copies', 'source')."""
    if cache.exists():
        return dict(np.load(cache))
    from vision.descriptor import Descriptor
    from vision.imageio import load_image

    desc = Descriptor.from_name()
    if bench is not None and (bench / "manifest.json").exists():
        ref_files, copy_files, source = _bench_pairs(bench)
        refs = desc.embed([load_image(p, max_side=640) for p in ref_files])
        copies = np.concatenate(
            [
                desc.embed([load_image(p, max_side=640) for p in copy_files[s : s + 64]])
                for s in range(0, len(copy_files), 64)
            ]
        )
        source_idx = np.array(source)
    else:
        rng = np.random.default_rng(0)
        imgs = _sample_images()
        refs = desc.embed(imgs)
        copies = desc.embed([_augment(im, rng) for im in imgs for _ in range(3)])
        source_idx = np.repeat(np.arange(len(imgs)), 3)
    out = {"refs": refs, "copies": copies, "source": source_idx}
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **out)
    return out


# -- synthetic base -----------------------------------------------------------------------
class Synthetic:
    """Unit vectors with the real descriptors' mean and principal variances, in families."""

    def __init__(self, real: np.ndarray, n: int, family: int = 50, seed: int = 0) -> None:
        self.mu = real.mean(axis=0)
        _, s, vt = np.linalg.svd(real - self.mu, full_matrices=False)
        self.scales = (s / np.sqrt(len(real))).astype(np.float32)
        self.vt = vt.astype(np.float32)
        self.resid = float(self.scales[-1]) * 0.5  # isotropic floor for the dimensions the fit cannot see
        rng = np.random.default_rng(seed)
        self.centres = self._draw(rng, max(1, n // family))
        self.seed = seed

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        z = rng.standard_normal((n, len(self.scales)), dtype=np.float32) * self.scales
        return self.mu + z @ self.vt + rng.standard_normal((n, DIM), dtype=np.float32) * self.resid

    def chunk(self, index: int, n: int) -> np.ndarray:
        """Chunk ``index`` of the base (deterministic)."""
        rng = np.random.default_rng(self.seed + 1 + index)
        x = 0.5 * self.centres[rng.integers(0, len(self.centres), n)] + 0.85 * self._draw(rng, n)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def write_base(path: Path, real: dict[str, np.ndarray], n: int) -> None:
    """Synthetic rows 0..n-1 then the real catalogue shots, float32, as a raw file read in chunks."""
    gen = Synthetic(np.concatenate([real["refs"], real["copies"]]), n)
    with open(path, "wb") as fh:
        for i, start in enumerate(range(0, n, CHUNK)):
            fh.write(gen.chunk(i, min(CHUNK, n - start)).tobytes())
        fh.write(real["refs"].astype(np.float32).tobytes())


def base_chunks(path: Path, start: int = 0, stop: int | None = None):
    """(first row, rows) chunks of the base file, read (not mapped) so they leave RSS after use."""
    rows = path.stat().st_size // (4 * DIM)
    stop = rows if stop is None else min(stop, rows)
    with open(path, "rb") as fh:
        for first in range(start, stop, CHUNK):
            count = min(CHUNK, stop - first)
            fh.seek(first * 4 * DIM)
            yield first, np.frombuffer(fh.read(count * 4 * DIM), dtype=np.float32).reshape(count, DIM)


def exact_top(path: Path, queries: np.ndarray, k: int = 1) -> np.ndarray:
    """Exact top-``k`` row numbers of the base for each query (chunked brute force)."""
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.full((len(queries), k), -1, dtype=np.int64)
    for first, mat in base_chunks(path):
        sims = queries @ mat.T
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k] if mat.shape[0] > k else np.argsort(-sims, axis=1)
        s = np.take_along_axis(sims, part, axis=1)
        allv, alli = np.concatenate([best_s, s], axis=1), np.concatenate([best_i, part + first], axis=1)
        order = np.argsort(-allv, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(allv, order, axis=1), np.take_along_axis(alli, order, axis=1)
    return best_i


def noisy_queries(path: Path, n: int, seed: int = 1) -> np.ndarray:
    """Base rows turned to cosine 0.4-0.8: the queries the product tunes nprobe with."""
    from index.build import copy_like

    rows = path.stat().st_size // (4 * DIM)
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(rows, n, replace=False))
    with open(path, "rb") as fh:
        vecs = []
        for r in picks:
            fh.seek(int(r) * 4 * DIM)
            vecs.append(np.frombuffer(fh.read(4 * DIM), dtype=np.float32))
    return copy_like(np.stack(vecs), rng)


# -- one index kind (run in its own process) ----------------------------------------------
def _rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process, MiB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


class _Hnsw:
    """FAISS HNSW on 8-bit codes, for comparison (no removal, so not a product backend)."""

    kind = "hnsw_sq8"

    def __init__(self, dim: int) -> None:
        import faiss

        self.index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, 32, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = 40
        self.ef = 64

    def train(self, x: np.ndarray) -> None:
        self.index.train(x)

    def add(self, ids: np.ndarray, x: np.ndarray) -> None:
        self.index.add(x)  # ids are row numbers here

    def search(self, q: np.ndarray, k: int):
        import faiss

        return self.index.search(q, k, params=faiss.SearchParametersHNSW(efSearch=max(self.ef, k)))

    def __len__(self) -> int:
        return int(self.index.ntotal)


def _build(kind: str, path: Path, rows: int, train_sample: int, fs_pq_m: int = 0):
    from index.choose import IndexOptions, plan_index
    from index.faiss_ann import FlatIndex, IvfIndex

    if kind == "hnsw_sq8":
        index = _Hnsw(DIM)
    elif kind == "flat":
        index = FlatIndex(DIM)
    else:
        plan = plan_index(rows, DIM, IndexOptions(fs_pq_m=fs_pq_m), kind=kind)
        index = IvfIndex.create(DIM, plan, train_sample)
    t0 = time.perf_counter()
    if hasattr(index, "train"):
        rng = np.random.default_rng(3)
        keep = np.zeros(rows, dtype=bool)
        keep[rng.choice(rows, min(train_sample, rows), replace=False)] = True
        sample = [mat[keep[first : first + len(mat)]] for first, mat in base_chunks(path)]
        index.train(np.concatenate(sample))
        del sample
    t1 = time.perf_counter()
    for first, mat in base_chunks(path):
        index.add(np.arange(first, first + len(mat), dtype=np.int64), mat)
    t2 = time.perf_counter()
    return index, t1 - t0, t2 - t1


def _knob(index, value: int | None = None) -> int:
    """Get (and set) the speed/recall knob: nprobe for IVF, efSearch for HNSW."""
    attr = "ef" if index.kind == "hnsw_sq8" else "nprobe"
    if value is not None and hasattr(index, attr):
        setattr(index, attr, value)
    return getattr(index, attr, 0)


def _latency(index, queries: np.ndarray, k: int) -> tuple[float, float]:
    from index.build import latency_ms  # the product's own measurement

    return latency_ms(index, queries, k)


def _fs_grid(index, data: dict, args: argparse.Namespace) -> list[dict]:
    """ivf_fs: recall@1 and single-query latency (k=20) for each (nprobe, k_factor) pair."""
    rows = []
    default_kf = index.k_factor
    exact_ok = data["copies_truth"] == data["copies_source"]
    for nprobe in (64, 128, 256, 512, 1024):
        for kf in (4, 8, 16, 32):
            index.nprobe, index.k_factor = nprobe, kf
            _, found = index.search(data["copies"], 5)
            _, nfound = index.search(data["noisy"], 1)
            p50, p95 = _latency(index, data["copies"][: min(100, args.latency_queries)], k=20)
            rows.append(
                {
                    "nprobe": nprobe,
                    "k_factor": kf,
                    "real_recall_at_1": round(float(np.mean(found[:, 0] == data["copies_truth"])), 4),
                    "copies_kept": round(
                        float(np.mean(found[exact_ok, 0] == data["copies_source"][exact_ok])), 4
                    ),
                    "noisy_recall_at_1": round(float(np.mean(nfound[:, 0] == data["noisy_truth"])), 4),
                    "search_ms_p50": round(p50, 2),
                    "search_ms_p95": round(p95, 2),
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    index.k_factor = default_kf
    return rows


def worker(args: argparse.Namespace) -> dict:
    """Build and measure one kind; returns its row of the table."""
    import faiss

    data = dict(np.load(args.work / "queries.npz"))
    rows = args.work.joinpath("base.f32").stat().st_size // (4 * DIM)
    rss0, _ = _rss_mb()
    import index.faiss_ann  # noqa: F401 - sets the product's search threads on import; override below

    faiss.omp_set_num_threads(os.cpu_count() or 1)  # build on every core
    index, train_s, add_s = _build(args.worker, args.work / "base.f32", rows, args.train_sample, args.fs_pq_m)
    faiss.omp_set_num_threads(args.threads)  # search as the product does
    rss_built, _ = _rss_mb()
    out: dict = {"kind": args.worker, "n": rows, "train_s": round(train_s, 1), "add_s": round(add_s, 1)}
    # tune like the product does: smallest knob reaching the target on noisy catalogue queries
    tuned = None
    if args.worker != "flat":
        grid = (
            (16, 32, 64, 128, 256, 512)
            if args.worker == "hnsw_sq8"
            else (8, 16, 32, 64, 128, 256, 512, 1024, 2048)
        )
        sweep = {}
        for value in grid:
            _knob(index, value)
            _, found = index.search(data["noisy"], 1)
            _, real_found = index.search(data["copies"], 5)
            exact_ok = data["copies_truth"] == data["copies_source"]
            sweep[value] = {
                "noisy_recall_at_1": float(np.mean(found[:, 0] == data["noisy_truth"])),
                "real_recall_at_1": float(np.mean(real_found[:, 0] == data["copies_truth"])),
                "copies_kept": float(np.mean(real_found[exact_ok, 0] == data["copies_source"][exact_ok])),
            }
            if tuned is None and sweep[value]["noisy_recall_at_1"] >= args.target_recall:
                tuned = value
            if sweep[value]["real_recall_at_1"] >= 0.995 and tuned is not None:
                break
        tuned = tuned or grid[-1]
        out["sweep"] = sweep
        if args.worker == "ivf_fs":  # the re-rank depth matters too: recall and latency per pair
            out["grid"] = _fs_grid(index, data, args)
        _knob(index, tuned)
    _, found = index.search(data["copies"], 5)
    out["knob"] = tuned
    out["recall_at_1_real"] = round(float(np.mean(found[:, 0] == data["copies_truth"])), 4)
    out["source_in_top5_real"] = round(
        float(np.mean((found == data["copies_source"][:, None]).any(axis=1))), 4
    )
    exact_ok = data["copies_truth"] == data["copies_source"]  # copies exact search ranks first
    out["copies_kept"] = round(float(np.mean(found[exact_ok, 0] == data["copies_source"][exact_ok])), 4)
    _, nfound = index.search(data["noisy"], 1)
    out["recall_at_1_noisy"] = round(float(np.mean(nfound[:, 0] == data["noisy_truth"])), 4)
    p50, p95 = _latency(index, data["copies"][: args.latency_queries], k=20)
    out["search_ms_p50"], out["search_ms_p95"] = round(p50, 2), round(p95, 2)
    rss, peak = _rss_mb()
    out["rss_mb"], out["peak_rss_mb"], out["index_rss_mb"] = round(rss), round(peak), round(rss_built - rss0)
    return out


# -- screening throughput -----------------------------------------------------------------
def screening_rate(bench: Path, count: int) -> dict:
    """Register the benchmark's catalogue shots in a fresh home and bulk-screen ``count`` listings."""
    from authcheck.app import Authcheck

    manifest = json.loads((bench / "manifest.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        app = Authcheck(Path(tmp) / "home")
        refs = [r for r in manifest["references"] if r["kind"] == "catalogue"]
        for brand in sorted({r["brand"] for r in refs}):
            app.add_brand(brand)
        t0 = time.perf_counter()
        registered = 0
        for brand in sorted({r["brand"] for r in refs}):
            files = [bench / r["file"] for r in refs if r["brand"] == brand]
            registered += len(app.register(files, brand).registered)
        reg_s = time.perf_counter() - t0
        queries = [bench / q["file"] for q in manifest["queries"]][:count]
        app.descriptor  # noqa: B018 - load the model outside the timing
        t0 = time.perf_counter()
        n = sum(1 for _ in app.screen([(p.name, p) for p in queries], record=False))
        screen_s = time.perf_counter() - t0
        app.close()
    return {
        "registered": registered,
        "register_img_s": round(registered / reg_s, 1),
        "screened": n,
        "screen_img_s": round(n / screen_s, 1),
    }


# -- the product path: a real home, `authcheck index rebuild`, a serving process -------------
_SERVE = """
import json, sys, time
import numpy as np
from authcheck.app import Authcheck
from scripts.bench_index import _rss_mb
app = Authcheck(sys.argv[1])
t0 = time.perf_counter(); index = app.catalogue_space.index; load_s = time.perf_counter() - t0
data = np.load(sys.argv[2]); q = data["copies"]
top = [h[0][0] if h else -1 for h in app.catalogue_space.search(q, 1)]  # reference id = base row + 1
recall = float(np.mean(np.array(top) == data["copies_truth"] + 1))
times = []
for v in q[:300]:
    t = time.perf_counter(); app.catalogue_space.search(v[None, :], 5); times.append(time.perf_counter() - t)
brand = app.catalogue.brand_reference_ids("small")
t = time.perf_counter(); hits = app.catalogue_space.search(q[:50], 5, brand); scoped = (time.perf_counter() - t) / 50
ok = all(h[0] in set(brand.tolist()) for row in hits for h in row)
rss, peak = _rss_mb()
print(json.dumps({"kind": index.kind, "load_s": round(load_s, 1), "recall_at_1_real": round(recall, 4), "search_ms_p50": round(float(np.percentile(times, 50)) * 1e3, 2),
                  "search_ms_p95": round(float(np.percentile(times, 95)) * 1e3, 2), "brand_scoped_ms": round(scoped * 1e3, 2),
                  "brand_scoped_ok": ok, "serving_rss_mb": round(rss), "serving_peak_mb": round(peak)}))
"""


def product_path(base: Path, work: Path, home: Path) -> dict:
    """Put the base into a real catalogue, time `authcheck index rebuild` (peak RSS), then serve from it."""
    from index.catalogue import Catalogue, NewReference
    from vision.models import DEFAULT_MODEL

    space = f"catalogue:{DEFAULT_MODEL}"
    cat = Catalogue(home / "catalogue.sqlite")
    cat.set_meta("model", DEFAULT_MODEL)
    cat.add_brand("big")
    cat.add_brand("small")
    t0 = time.perf_counter()
    for first, mat in base_chunks(base):
        for s in range(0, len(mat), 10_000):
            part = mat[s : s + 10_000]
            brand = lambda i: "small" if i % 1000 == 0 else "big"  # noqa: E731 - a 0.1% brand
            cat.add_references(
                NewReference(
                    brand(first + s + i),
                    "catalogue",
                    f"syn{first + s + i}",
                    f"{first + s + i:064x}",
                    DEFAULT_MODEL,
                    1,
                    1,
                    "refs/none.jpg",
                    {space: v[None, :]},
                )
                for i, v in enumerate(part)
            )
    insert_s = time.perf_counter() - t0
    cat.close()
    cmd = [
        "/usr/bin/time",
        "-f",
        "%M",
        sys.executable,
        "-m",
        "authcheck.cli",
        "--home",
        str(home),
        "index",
        "rebuild",
        "--json",
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    rebuild_s = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-3:]}
    state = json.loads(proc.stdout[proc.stdout.index("{") :])
    peak_kb = int(proc.stderr.strip().splitlines()[-1])
    serve = subprocess.run(
        [sys.executable, "-c", _SERVE, str(home), str(work / "queries.npz")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    out = {
        "insert_s": round(insert_s),
        "rebuild_s": round(rebuild_s),
        "rebuild_peak_rss_mb": round(peak_kb / 1024),
        "infos": {
            k: state["infos"].get(k) for k in ("kind", "count", "nlist", "nprobe", "trained_on", "measured")
        },
        "index_file_mb": round(state["index_file_bytes"] / 2**20),
    }
    out["serving"] = (
        json.loads(serve.stdout.strip().splitlines()[-1]) if serve.returncode == 0 else serve.stderr[-500:]
    )
    return out


# -- driver -------------------------------------------------------------------------------
def _table(rows: list[dict]) -> str:
    head = (
        "kind",
        "n",
        "knob",
        "build s",
        "RSS MB",
        "index MB",
        "p50 ms",
        "p95 ms",
        "R@1 real",
        "kept",
        "R@1 noisy",
        "src@5",
    )
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['kind']} | error: {r['error']}")
            continue
        lines.append(
            " | ".join(
                str(v)
                for v in (
                    r["kind"],
                    r["n"],
                    r["knob"] or "-",
                    round(r["train_s"] + r["add_s"], 1),
                    r["rss_mb"],
                    r["index_rss_mb"],
                    r["search_ms_p50"],
                    r["search_ms_p95"],
                    r["recall_at_1_real"],
                    r["copies_kept"],
                    r["recall_at_1_noisy"],
                    r["source_in_top5_real"],
                )
            )
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="synthetic references (default 1M)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma list of {', '.join(KINDS)}")
    parser.add_argument(
        "--bench", type=Path, default=Path("/tmp/bench-dev"), help="benchmark folder (real images)"
    )
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "authcheck-bench-index")
    parser.add_argument(
        "--threads", type=int, default=1, help="FAISS search threads (the product searches on 1)"
    )
    parser.add_argument("--train-sample", type=int, default=200_000)
    parser.add_argument("--target-recall", type=float, default=0.99)
    parser.add_argument(
        "--fs-pq-m", type=int, default=0, help="ivf_fs: 4-bit sub-quantisers (0: the product default, dim/2)"
    )
    parser.add_argument("--noisy-queries", type=int, default=500)
    parser.add_argument("--latency-queries", type=int, default=300)
    parser.add_argument(
        "--screen", type=int, default=300, help="listings to bulk-screen for images/s (0: skip)"
    )
    parser.add_argument(
        "--product", action="store_true", help="also: real home + `authcheck index rebuild` + serving"
    )
    parser.add_argument("--out", type=Path, help="write all results as JSON here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return 0

    args.work.mkdir(parents=True, exist_ok=True)
    bench = args.bench if (args.bench / "manifest.json").exists() else None
    real = real_descriptors(bench, args.work / f"real-{'bench' if bench else 'skimage'}.npz")
    print(
        f"real descriptors: {len(real['refs'])} catalogue shots, {len(real['copies'])} copies "
        f"({'benchmark ' + str(bench) if bench else 'scikit-image samples'})",
        file=sys.stderr,
    )
    base = args.work / "base.f32"
    t0 = time.perf_counter()
    write_base(base, real, args.n)
    rows = args.n + len(real["refs"])
    noisy = noisy_queries(base, args.noisy_queries)
    copies = real["copies"].astype(np.float32)
    truth = exact_top(base, np.concatenate([copies, noisy]))[:, 0]
    np.savez(
        args.work / "queries.npz",
        copies=copies,
        copies_truth=truth[: len(copies)],
        copies_source=real["source"] + args.n,
        noisy=noisy,
        noisy_truth=truth[len(copies) :],
    )
    found_source = float(np.mean(truth[: len(copies)] == real["source"] + args.n))
    print(
        f"base: {rows} vectors in {time.perf_counter() - t0:.0f}s; exact search finds the copied shot "
        f"first for {found_source:.3f} of copies",
        file=sys.stderr,
    )

    results = []
    for kind in [k for k in args.kinds.split(",") if k]:
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            kind,
            "--work",
            str(args.work),
            "--threads",
            str(args.threads),
            "--train-sample",
            str(args.train_sample),
            "--target-recall",
            str(args.target_recall),
            "--latency-queries",
            str(args.latency_queries),
            "--fs-pq-m",
            str(args.fs_pq_m),
        ]
        t0 = time.perf_counter()
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
        )
        sys.stderr.write(proc.stderr[-4000:])
        if proc.returncode != 0:
            results.append({"kind": kind, "error": proc.stderr.strip().splitlines()[-1:]})
        else:
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"{kind}: done in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    report: dict = {
        "n": rows,
        "real_copies": len(copies),
        "exact_finds_source": found_source,
        "kinds": results,
    }
    print(_table(results))
    for r in results:
        for value, m in (r.get("sweep") or {}).items():
            print(
                f"  {r['kind']} knob {value}: recall@1 real {m['real_recall_at_1']:.3f}, "
                f"kept {m['copies_kept']:.3f}, noisy {m['noisy_recall_at_1']:.3f}",
                file=sys.stderr,
            )
    if args.screen and bench is not None:
        report["screening"] = screening_rate(bench, args.screen)
        s = report["screening"]
        print(
            f"\nbulk screening (copy detection, {s['registered']} references): {s['screen_img_s']} img/s "
            f"over {s['screened']} listings; registration {s['register_img_s']} img/s"
        )
    if args.product:
        with tempfile.TemporaryDirectory(dir=args.work) as tmp:
            report["product"] = product_path(base, args.work, Path(tmp) / "home")
        print("\nproduct path (real home, `authcheck index rebuild`, serving process):")
        print(json.dumps(report["product"], indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    base.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
