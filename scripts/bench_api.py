"""Load test of the HTTP service: concurrent clients posting single-image screens for a bounded time.

What it does
  1. Builds a home with ``--references`` references (default 10,000), quickly:
     - ``--real`` of them (default 300) are real images, registered through ``Authcheck.register``
       so they get real SSCD descriptors and stored copies: crops of the CC0 photos bundled with
       scikit-image (``skimage.data``), at several positions and scales;
     - the rest are synthetic: random unit vectors inserted straight through
       ``Catalogue.add_references`` (model name and vector space taken from the home, so the
       catalogue accepts them), all pointing at one placeholder stored copy. Random directions
       in 512-d lie far from any real listing (cosine around 0 +- 0.05), so they make the index
       10k strong without ever reaching verification.
     A home that already holds enough references is reused as is (``--home``).
  2. Starts ``authcheck serve`` in a subprocess on a free loopback port (``--workers``), or
     targets a running server (``--url`` with ``--key``), and creates a marketplace key.
  3. Runs ``--clients`` threads (default 8) for ``--seconds`` (default 60), each with its own
     keep-alive connection, posting one listing image per request: copies (crops, rescales,
     recompression of registered real images) and clean images (photos never registered),
     mixed by ``--copy-share``.
  4. Prints requests/s, latency p50/p95/p99/max, errors and verdicts; ``--json`` writes them.

Example (the issue's target: 10k references, p50 <= 50 ms, 0 errors at 8 clients for 60 s):
    python scripts/bench_api.py --home /tmp/bench-home --references 10000 --clients 8 --seconds 60
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np

from authcheck.api.testing import free_port, jpeg_bytes, sample_image
from authcheck.app import Authcheck
from authcheck.keys import create_key
from index.catalogue import NewReference

# CC0 photos in skimage.data; the held-out ones are never registered and serve as clean listings.
REGISTERED = [
    "astronaut",
    "coffee",
    "chelsea",
    "hubble_deep_field",
    "immunohistochemistry",
    "camera",
    "moon",
    "brick",
]
HELD_OUT = ["rocket", "colorwheel", "clock", "coins", "grass", "page"]
BRANDS = [f"brand-{i:02d}" for i in range(20)]


def _crop(img: np.ndarray, rng: random.Random, keep: tuple[float, float], out_side: int) -> np.ndarray:
    """A random crop keeping ``keep`` of each side, resized so its long side is ``out_side``."""
    from PIL import Image

    h, w = img.shape[:2]
    fy, fx = rng.uniform(*keep), rng.uniform(*keep)
    ch, cw = max(16, int(h * fy)), max(16, int(w * fx))
    y, x = rng.randint(0, h - ch), rng.randint(0, w - cw)
    crop = Image.fromarray(img[y : y + ch, x : x + cw])
    scale = out_side / max(crop.size)
    return np.asarray(crop.resize((max(8, round(crop.width * scale)), max(8, round(crop.height * scale)))))


def build_home(home: Path, total: int, real: int, seed: int = 0) -> dict:
    """Fill ``home`` up to ``total`` references (``real`` real ones); returns what was done."""
    rng = random.Random(seed)
    core = Authcheck(home)
    try:
        have = core.catalogue.count_references()
        if have >= total:
            return {"reused": True, "references": have}
        start = time.perf_counter()
        for brand in BRANDS:
            core.add_brand(brand, actor="bench")
        photos = {name: sample_image(name) for name in REGISTERED}
        sources = []
        for i in range(real):
            name = REGISTERED[i % len(REGISTERED)]
            sources.append(
                (f"real/{name}-{i:04d}.jpg", jpeg_bytes(_crop(photos[name], rng, (0.45, 0.8), 480)))
            )
        per_brand: dict[str, list] = {}
        for i, item in enumerate(sources):
            per_brand.setdefault(BRANDS[i % len(BRANDS)], []).append(item)
        registered = 0
        for brand, items in per_brand.items():
            registered += len(core.register([], brand, sources=items, actor="bench").registered)
        t_real = time.perf_counter() - start

        start = time.perf_counter()
        placeholder = "refs/synthetic/placeholder.jpg"
        (home / placeholder).parent.mkdir(parents=True, exist_ok=True)
        (home / placeholder).write_bytes(jpeg_bytes(np.full((64, 64, 3), 128, np.uint8)))
        space, model, dim = core.catalogue_space.name, core.card.name, core.card.dim
        n_synth = max(0, total - core.catalogue.count_references())
        vecs = np.random.default_rng(seed).standard_normal((n_synth, dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        for chunk in range(0, n_synth, 2000):
            batch = [
                NewReference(
                    brand=BRANDS[i % len(BRANDS)],
                    kind="catalogue",
                    source=f"synthetic/{i:06d}.jpg",
                    sha256=hashlib.sha256(f"synthetic-{seed}-{i}".encode()).hexdigest(),
                    model=model,
                    width=512,
                    height=512,
                    stored_path=placeholder,
                    vectors={space: vecs[i][None, :]},
                )
                for i in range(chunk, min(chunk + 2000, n_synth))
            ]
            core.catalogue.add_references(batch)
        core.refresh()  # rebuild the index from the catalogue now, not at server start
        core.flush()
        t_synth = time.perf_counter() - start
        return {
            "reused": False,
            "references": core.catalogue.count_references(),
            "real_registered": registered,
            "real_seconds": round(t_real, 1),
            "synthetic": n_synth,
            "synthetic_seconds": round(t_synth, 1),
        }
    finally:
        core.close()


def query_pool(n: int, copy_share: float, seed: int = 1) -> list[tuple[str, bytes, str]]:
    """(name, JPEG bytes, expected) listings: copies of registered photos and clean held-out photos."""
    rng = random.Random(seed)
    pool = []
    for i in range(n):
        if rng.random() < copy_share:
            name = REGISTERED[i % len(REGISTERED)]
            img = _crop(sample_image(name), rng, (0.6, 0.95), rng.choice([320, 480, 640]))
            pool.append((f"copy-{name}-{i}.jpg", jpeg_bytes(img, quality=rng.choice([70, 85])), "copy"))
        else:
            name = HELD_OUT[i % len(HELD_OUT)]
            img = _crop(sample_image(name), rng, (0.7, 1.0), rng.choice([320, 480, 640]))
            pool.append((f"clean-{name}-{i}.jpg", jpeg_bytes(img, quality=85), "clean"))
    return pool


def multipart(name: str, data: bytes, fields: dict[str, str]) -> tuple[bytes, str]:
    """A multipart/form-data body with one image and some text fields."""
    boundary = uuid.uuid4().hex
    parts = []
    for key, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _server_timing(header: str) -> dict[str, float]:
    """``{"pipeline": ms, "wait": ms}`` from a Server-Timing header."""
    out = {}
    for part in header.split(","):
        name, _, dur = part.strip().partition(";dur=")
        if dur:
            out[name] = float(dur)
    return out


def wait_healthy(host: str, port: int, proc: subprocess.Popen | None, timeout: float = 180.0) -> None:
    """Block until GET /v1/health answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}")
        try:
            conn = http.client.HTTPConnection(host, port, timeout=2)
            conn.request("GET", "/v1/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise TimeoutError("server did not become healthy")


def run_load(host: str, port: int, key: str, pool, clients: int, seconds: float, record: bool) -> dict:
    """``clients`` threads posting screens until ``seconds`` have passed."""
    bodies = [
        (multipart(n, d, {"seller_id": "bench-seller", "record": str(record).lower()}), exp)
        for n, d, exp in pool
    ]
    latencies: list[float] = []
    pipeline: list[float] = []  # server-side screening time per request, ms
    waits: list[float] = []  # server-side wait for a screening slot, ms
    errors: Counter = Counter()
    verdicts: Counter = Counter()
    wrong = Counter()
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client(idx: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        i = idx
        while time.perf_counter() < stop_at:
            (body, ctype), expected = bodies[i % len(bodies)]
            i += clients
            t0 = time.perf_counter()
            try:
                conn.request(
                    "POST", "/v1/screen", body=body, headers={"Content-Type": ctype, "X-API-Key": key}
                )
                resp = conn.getresponse()
                payload = resp.read()
                dt = time.perf_counter() - t0
                timing = _server_timing(resp.getheader("Server-Timing") or "")
                with lock:
                    if resp.status != 200:
                        errors[f"HTTP {resp.status}: {payload[:120]!r}"] += 1
                        continue
                    latencies.append(dt)
                    pipeline.append(timing.get("pipeline", float("nan")))
                    waits.append(timing.get("wait", float("nan")))
                    verdict = json.loads(payload).get("verdict")
                    verdicts[verdict] += 1
                    if verdict != expected:
                        wrong[f"{expected}->{verdict}"] += 1
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    errors[type(exc).__name__] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=60)
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    lat = sorted(latencies)

    def pct(p: float) -> float:
        return round(1e3 * lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else float("nan")

    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(lat),
        "requests_per_s": round(len(lat) / elapsed, 2),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": round(1e3 * lat[-1], 1) if lat else None,
        "mean_ms": round(1e3 * statistics.fmean(lat), 1) if lat else None,
        "server_pipeline_p50_ms": round(statistics.median(pipeline), 1) if pipeline else None,
        "server_wait_p50_ms": round(statistics.median(waits), 1) if waits else None,
        "http_overhead_p50_ms": round(
            statistics.median(1e3 * t - p - w for t, p, w in zip(latencies, pipeline, waits, strict=True)), 1
        )
        if latencies
        else None,
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "verdicts": dict(verdicts),
        "unexpected_verdicts": dict(wrong),
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, default=Path("bench-out/api-home"), help="home to build or reuse")
    ap.add_argument("--references", type=int, default=10_000)
    ap.add_argument("--real", type=int, default=300, help="how many references are real images")
    ap.add_argument("--url", help="target a running server (http://host:port) instead of starting one")
    ap.add_argument("--key", help="marketplace or admin key for --url")
    ap.add_argument("--workers", type=int, default=1, help="server worker processes (when starting one)")
    ap.add_argument("--threads", type=int, help="onnxruntime threads per worker (AUTHCHECK_THREADS)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds of load before measuring")
    ap.add_argument("--pool", type=int, default=64, help="distinct listing images")
    ap.add_argument("--copy-share", type=float, default=0.5)
    ap.add_argument("--record", action="store_true", help="queue flagged results (writes listing copies)")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args(argv)

    report: dict = {"argv": sys.argv[1:]}
    proc = None
    if args.url:
        if not args.key:
            ap.error("--url needs --key")
        target = args.url.removeprefix("http://").rstrip("/")
        host, _, port_s = target.partition(":")
        port, key = int(port_s or 80), args.key
    else:
        args.home.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        report["home"] = build_home(args.home.resolve(), args.references, args.real)
        report["home"]["build_seconds"] = round(time.perf_counter() - t0, 1)
        print(f"home {args.home}: {json.dumps(report['home'])}", flush=True)
        core = Authcheck(args.home)
        try:
            key = create_key(core.catalogue, "marketplace", label="bench")[1]
        finally:
            core.close()
        host, port = "127.0.0.1", free_port()
        env = dict(os.environ)
        if args.threads:
            env["AUTHCHECK_THREADS"] = str(args.threads)
        cmd = [sys.executable, "-m", "authcheck.cli", "--home", str(args.home), "serve", "--port", str(port)]
        proc = subprocess.Popen([*cmd, "--workers", str(args.workers)], env=env)
    try:
        wait_healthy(host, port, proc)
        pool = query_pool(args.pool, args.copy_share)
        if args.warmup > 0:
            run_load(host, port, key, pool, args.clients, args.warmup, args.record)
        print(f"load: {args.clients} clients for {args.seconds:.0f}s ...", flush=True)
        report["load"] = run_load(host, port, key, pool, args.clients, args.seconds, args.record)
        report["server"] = {"workers": args.workers, "threads": args.threads, "cpus": os.cpu_count()}
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    load = report["load"]
    print(
        f"{load['requests']} requests in {load['seconds']}s: {load['requests_per_s']} req/s, "
        f"p50 {load['p50_ms']} ms, p95 {load['p95_ms']} ms, p99 {load['p99_ms']} ms, "
        f"max {load['max_ms']} ms, errors {load['errors']} {load['error_kinds'] or ''}"
    )
    print(
        f"server side (p50): screening pipeline {load['server_pipeline_p50_ms']} ms, waiting for a slot "
        f"{load['server_wait_p50_ms']} ms; HTTP + upload overhead {load['http_overhead_p50_ms']} ms"
    )
    print(f"verdicts {load['verdicts']}, unexpected {load['unexpected_verdicts']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 1 if load["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
