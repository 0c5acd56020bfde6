"""Benchmark of the logo stage alone: recall, precision, false positives and time per image.

Registers the benchmark's logos (``scripts/make_benchmark.py`` output) into a temporary home
through the real :class:`authcheck.app.Authcheck` API, then runs only ``app.logos.detect``
on the logo queries and the clean queries, and prints:

* logo recall: logo queries where the right logo was found (and where its box also overlaps
  the truth, IoU >= 0.3), and those with the right verdict for their seller;
* logo precision: right-logo matches / all logo matches (wrong logos on logo queries and any
  logo on clean queries are false);
* false-positive rate per ``clean_kind`` (incl. ``unregistered_logo``) and overall, and with
  ``--copies`` on the copy queries too (catalogue shots: any logo found there is false);
* milliseconds per image (detect only; decoding excluded): wall clock, and CPU time of all
  threads (``cpu_ms_mean``, steadier than wall clock on a shared machine).

Example:
    python scripts/bench_logos.py --data /tmp/bench-dev
    python scripts/bench_logos.py --data /tmp/bench-dev --set logo_min_ncc=0.5 --dump /tmp/logos.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from authcheck.app import Authcheck
from authcheck.config import Settings
from vision.imageio import load_image_full
from vision.views import box_iou


def _settings(pairs: list[str]) -> Settings:
    settings = Settings()
    for pair in pairs:
        key, _, value = pair.partition("=")
        current = getattr(settings, key)  # unknown keys fail loudly
        setattr(settings, key, type(current)(value) if not isinstance(current, bool) else value == "true")
    return settings


def register_logos(app: Authcheck, data: Path, manifest: dict) -> dict[str, int]:
    """Brands with their sellers, and every logo reference; returns logo file -> reference id."""
    for brand in manifest["brands"]:
        app.add_brand(brand["name"], brand.get("authorised_sellers", []))
    ids = {}
    for ref in manifest["references"]:
        if ref["kind"] == "logo":
            report = app.register([data / ref["file"]], ref["brand"], kind="logo")
            if report.registered:
                ids[ref["file"]] = report.registered[0]
    return ids


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data", type=Path, default=Path("/tmp/bench-dev"), help="benchmark folder (manifest.json)"
    )
    ap.add_argument("--limit", type=int, default=0, help="at most this many queries of each kind (0: all)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    ap.add_argument(
        "--copies",
        action="store_true",
        help="also run the copy queries (catalogue shots, often with shapes of their own): any logo found "
        "on them is false, counted in the precision and as copy_fp",
    )
    ap.add_argument("--dump", type=Path, help="write one JSON line per query")
    ap.add_argument("--json", type=Path, help="write the summary as JSON")
    args = ap.parse_args(argv)

    manifest = json.loads((args.data / "manifest.json").read_text())
    settings = _settings(args.set)
    with tempfile.TemporaryDirectory(prefix="bench-logos-") as home:
        app = Authcheck(home, settings=settings)
        t0 = time.perf_counter()
        ids = register_logos(app, args.data, manifest)
        app.logos.refresh()
        t_build = time.perf_counter() - t0
        authorised = app.catalogue.authorised_map()
        kinds = ("logo", "clean", "copy") if args.copies else ("logo", "clean")
        queries = [q for q in manifest["queries"] if q["type"] in kinds]
        if args.limit:
            per: Counter = Counter()
            kept = []
            for q in queries:
                key = q["type"] if q["type"] != "clean" else q["clean_kind"]
                if per[key] < args.limit:
                    per[key] += 1
                    kept.append(q)
            queries = kept
        rows = []
        times = []
        cpu = []
        for q in queries:
            img = load_image_full(args.data / q["file"], max_side=app.settings.decode_max_side)
            scale = img.original_size[0] / img.rgb.shape[1]
            t, c = time.perf_counter(), time.process_time()
            matches = app.logos.detect(img.rgb, q.get("seller"), authorised, scale)
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            truth = ids.get(q["ref"]) if q["type"] == "logo" else None
            rows.append(
                {
                    "file": q["file"],
                    "type": q["type"],
                    "kind": q.get("clean_kind") or q["type"],
                    "truth": truth,
                    "box": q.get("box"),
                    "authorised": bool(q.get("authorised")),
                    "ms": round(times[-1] * 1e3, 1),
                    "paste": q.get("logo_paste"),
                    "matches": [
                        {
                            "id": m.reference_id,
                            "verdict": m.verdict,
                            "score": round(m.score, 3),
                            "ncc": round(m.ncc or 0, 3),
                            "signal": m.signal,
                            "inliers": m.inliers,
                            "box": m.box,
                        }
                        for m in matches
                    ],
                }
            )
        app.close()

    logo_rows = [r for r in rows if r["type"] == "logo"]
    found = [r for r in logo_rows if any(m["id"] == r["truth"] for m in r["matches"])]
    placed = [
        r
        for r in logo_rows
        if any(m["id"] == r["truth"] and box_iou(m["box"], r["box"]) >= 0.3 for m in r["matches"])
    ]
    right_verdict = [
        r
        for r in found
        if any(
            m["id"] == r["truth"]
            and m["verdict"] == ("logo_authorised" if r["authorised"] else "logo_misuse")
            for m in r["matches"]
        )
    ]
    true_m = sum(1 for r in logo_rows for m in r["matches"] if m["id"] == r["truth"])
    all_m = sum(len(r["matches"]) for r in rows)
    fp_by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        if r["type"] == "clean":
            fp_by_kind[r["kind"]][0] += bool(r["matches"])
            fp_by_kind[r["kind"]][1] += 1
    copy_rows = [r for r in rows if r["type"] == "copy"]
    clean_fp = sum(v[0] for v in fp_by_kind.values())
    clean_n = sum(v[1] for v in fp_by_kind.values())
    ms = sorted(t * 1e3 for t in times)
    summary = {
        "data": str(args.data),
        "logos": len(ids),
        "build_s": round(t_build, 2),
        "logo_queries": len(logo_rows),
        "logo_recall": round(len(found) / max(1, len(logo_rows)), 4),
        "logo_recall_placed": round(len(placed) / max(1, len(logo_rows)), 4),
        "logo_right_verdict": round(len(right_verdict) / max(1, len(logo_rows)), 4),
        "logo_precision": round(true_m / all_m, 4) if all_m else 1.0,
        "wrong_logo_on_logo_queries": sum(
            1 for r in logo_rows for m in r["matches"] if m["id"] != r["truth"]
        ),
        "clean_fp_rate": round(clean_fp / max(1, clean_n), 4),
        "clean_fp_by_kind": {k: f"{v[0]}/{v[1]}" for k, v in sorted(fp_by_kind.items())},
        "copy_fp": f"{sum(bool(r['matches']) for r in copy_rows)}/{len(copy_rows)}" if copy_rows else None,
        "ms_mean": round(statistics.fmean(ms), 1) if ms else 0.0,
        "ms_p50": round(ms[len(ms) // 2], 1) if ms else 0.0,
        "ms_p95": round(ms[int(len(ms) * 0.95)], 1) if ms else 0.0,
        "cpu_ms_mean": round(statistics.fmean(cpu) * 1e3, 1) if cpu else 0.0,  # all threads' CPU time
        "settings": {k: v for k, v in settings.to_dict().items() if k.startswith("logo")},
    }
    print(json.dumps(summary, indent=2))
    if args.dump:
        args.dump.write_text("".join(json.dumps(r) + "\n" for r in rows))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
