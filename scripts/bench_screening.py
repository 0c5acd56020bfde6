"""End-to-end screening benchmark on a set built by ``scripts/make_benchmark.py``.

Registers the set's brands, sellers, catalogue shots and logos into a fresh home through
the real application, screens every query (decode -> verdict, as the CLI does) and prints:
copy recall@1 / precision / µAP / recall at 99% precision, per-edit copy recall, logo
recall / precision, clean false-positive rate per kind of clean image, and images/s for
registering and screening. Optionally writes per-query rows (``--dump``) and PNG plots.

    python scripts/make_benchmark.py --out /tmp/bench-test --split test
    python scripts/bench_screening.py /tmp/bench-test --plots bench-out/
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from authcheck.app import Authcheck  # noqa: E402
from authcheck.results import ScreeningResult  # noqa: E402


def micro_ap(
    scores: list[float], correct: list[bool], n_positives: int
) -> tuple[float, np.ndarray, np.ndarray]:
    """DISC21-style µAP over (score, correct) predictions; returns (ap, precision, recall) curves."""
    if not scores or n_positives == 0:
        return 0.0, np.zeros(0), np.zeros(0)
    order = np.argsort(-np.asarray(scores), kind="stable")
    hits = np.asarray(correct, dtype=np.float64)[order]
    tp = np.cumsum(hits)
    precision = tp / np.arange(1, len(hits) + 1)
    recall = tp / n_positives
    ap = float(np.sum(precision * hits) / n_positives)
    return ap, precision, recall


def recall_at_precision(precision: np.ndarray, recall: np.ndarray, target: float) -> float:
    """Best recall reachable with precision >= target anywhere on the curve."""
    ok = precision >= target
    return float(recall[ok].max()) if ok.any() else 0.0


def _primary_edit(query: dict) -> str:
    """The first edit applied to a copy query (its kind), for per-edit recall."""
    if query.get("primary_edit"):
        return str(query["primary_edit"])
    edits = query.get("edits") or []
    if not edits:
        return "none"
    first = edits[0]
    return str(first.get("op", "?")) if isinstance(first, dict) else str(first).split(":")[0]


def _top_copy(result: ScreeningResult):
    cands = [m for m in result.matches if m.kind == "catalogue"]
    return max(cands, key=lambda m: m.score) if cands else None


def evaluate(manifest: dict, results: dict[str, ScreeningResult], ref_ids: dict[str, int]) -> dict:
    """All accuracy figures from screening results keyed by query file."""
    queries = manifest["queries"]
    copies = [q for q in queries if q["type"] == "copy"]
    logos = [q for q in queries if q["type"] == "logo"]
    cleans = [q for q in queries if q["type"] == "clean"]
    out: dict = {"counts": {"copy": len(copies), "logo": len(logos), "clean": len(cleans)}}

    # Copy detection: verdict-level recall/precision and score-level µAP on top-1 predictions.
    tp = fp = 0
    per_edit: dict[str, list[bool]] = defaultdict(list)
    scores, correct = [], []
    for q in queries:
        r = results[q["file"]]
        if r.error:
            continue
        truth = ref_ids.get(q["ref"]) if q["type"] == "copy" else None
        top = _top_copy(r)
        flagged = [m for m in r.matches if m.verdict == "copy"]
        if top is not None:
            scores.append(top.score)
            correct.append(truth is not None and top.reference_id == truth)
        if flagged:
            best = max(flagged, key=lambda m: m.score)
            if truth is not None and best.reference_id == truth:
                tp += 1
            else:
                fp += 1
        if q["type"] == "copy":
            hit = bool(flagged) and max(flagged, key=lambda m: m.score).reference_id == truth
            per_edit[_primary_edit(q)].append(hit)
    ap, prec, rec = micro_ap(scores, correct, len(copies))
    out["copy"] = {
        "recall_at_1": tp / len(copies) if copies else 0.0,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "micro_ap": ap,
        "recall_at_p99": recall_at_precision(prec, rec, 0.99),
        "per_edit_recall": {k: round(float(np.mean(v)), 3) for k, v in sorted(per_edit.items())},
    }

    # Logo detection: a logo query is found when its logo reference is matched with the right verdict.
    found = logo_fp = logo_tp_matches = 0
    for q in queries:
        r = results[q["file"]]
        if r.error:
            continue
        logo_matches = [m for m in r.matches if m.kind == "logo" and m.verdict != "candidate"]
        truth = ref_ids.get(q["ref"]) if q["type"] == "logo" else None
        for m in logo_matches:
            if truth is not None and m.reference_id == truth:
                logo_tp_matches += 1
            else:
                logo_fp += 1
        if q["type"] == "logo":
            authorised = q.get("seller") in manifest_sellers(manifest).get(q.get("brand"), set())
            want = "logo_authorised" if authorised else "logo_misuse"
            found += any(m.reference_id == truth and m.verdict == want for m in logo_matches)
    out["logo"] = {
        "recall": found / len(logos) if logos else 0.0,
        "precision": logo_tp_matches / (logo_tp_matches + logo_fp) if logo_tp_matches + logo_fp else 1.0,
    }

    # Clean images: any flag is a false positive.
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for q in cleans:
        r = results[q["file"]]
        by_kind[q.get("clean_kind") or "unseen"].append(not r.error and r.flagged)
    all_flags = [f for v in by_kind.values() for f in v]
    out["clean"] = {
        "false_positive_rate": float(np.mean(all_flags)) if all_flags else 0.0,
        "per_kind": {k: round(float(np.mean(v)), 4) for k, v in sorted(by_kind.items())},
    }
    out["errors"] = sum(1 for r in results.values() if r.error)
    out["_curve"] = (prec, rec)
    return out


def manifest_sellers(manifest: dict) -> dict[str, set[str]]:
    """Brand -> authorised sellers, from the manifest."""
    return {b["name"]: set(b.get("authorised_sellers", [])) for b in manifest["brands"]}


def plot(report: dict, out_dir: Path) -> list[Path]:
    """Precision-recall curve and per-edit recall as PNGs (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    prec, rec = report["_curve"]
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(rec, prec)
    ax.set_xlabel("copy recall")
    ax.set_ylabel("precision")
    ax.set_title(f"copy detection (µAP {report['copy']['micro_ap']:.3f})")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    pr_path = out_dir / "copy_pr.png"
    fig.tight_layout()
    fig.savefig(pr_path, dpi=120)
    plt.close(fig)
    edits = report["copy"]["per_edit_recall"]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.barh(list(edits), list(edits.values()))
    ax.set_xlim(0, 1)
    ax.set_xlabel("recall@1 (verdict copy, right reference)")
    ax.set_title("copy recall by first edit")
    fig.tight_layout()
    edit_path = out_dir / "copy_recall_by_edit.png"
    fig.savefig(edit_path, dpi=120)
    plt.close(fig)
    return [pr_path, edit_path]


def main() -> int:
    """Run the benchmark and print the report."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, help="folder with manifest.json (from make_benchmark.py)")
    ap.add_argument("--home", type=Path, help="authcheck home to use (default: a temporary one)")
    ap.add_argument("--model", help="descriptor model name")
    ap.add_argument("--limit", type=int, help="screen only the first N queries")
    ap.add_argument("--no-logos", action="store_true", help="do not register logos (copy detection only)")
    ap.add_argument("--ocr", action="store_true", help="also read text for the brands' wordmarks (slow)")
    ap.add_argument("--dump", type=Path, help="write per-query results as JSON Lines here")
    ap.add_argument("--plots", type=Path, help="write PR and per-edit PNGs into this folder")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    ap.add_argument(
        "--passes",
        type=int,
        default=1,
        help="screen the set this many times and time the last pass (2: reference keypoints are "
        "already cached, as in a long-running service; 1: includes their first extraction)",
    )
    args = ap.parse_args()

    manifest = json.loads((args.data / "manifest.json").read_text())
    tmp = None
    home = args.home
    if home is None:
        tmp = tempfile.TemporaryDirectory(prefix="authcheck-bench-")
        home = Path(tmp.name)
    app = Authcheck(home, model=args.model)
    for b in manifest["brands"]:
        app.add_brand(b["name"], b.get("authorised_sellers", []), b.get("wordmarks", []))

    refs_by_brand_kind: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in manifest["references"]:
        if args.no_logos and r["kind"] == "logo":
            continue
        refs_by_brand_kind[(r["brand"], r["kind"])].append(r["file"])
    ref_ids: dict[str, int] = {}
    n_reg, t_reg = 0, 0.0
    for (brand, kind), files in refs_by_brand_kind.items():
        report = app.register([args.data / f for f in files], brand, kind)
        t_reg += report.seconds
        n_reg += len(report.registered)
    # Every reference of the set, including ones an earlier run registered into this home.
    data_dir = args.data.resolve()
    offset = 0
    while page := app.catalogue.list_references(limit=1000, offset=offset):
        offset += len(page)
        for ref in page:
            source = Path(ref.source).resolve()
            if source.is_relative_to(data_dir):
                ref_ids[str(source.relative_to(data_dir))] = ref.id
    app.refresh()  # load indexes/logo features before timing screening

    queries = manifest["queries"][: args.limit] if args.limit else manifest["queries"]
    manifest = {**manifest, "queries": queries}
    sellers = {q["file"]: q.get("seller") for q in queries}
    results: dict[str, ScreeningResult] = {}
    stream = [(q["file"], args.data / q["file"], sellers[q["file"]]) for q in queries]
    pass_rates: list[float] = []
    for _ in range(max(1, args.passes)):
        start, cpu_start = time.perf_counter(), time.process_time()
        timings: dict[str, list[float]] = defaultdict(list)
        for r in app.screen(stream, record=False, ocr=args.ocr):  # one stream, each listing with its seller
            results[r.image] = r
            for k, v in r.timings_ms.items():
                timings[k].append(v)
        screen_s = time.perf_counter() - start
        cpu_ms = (time.process_time() - cpu_start) / max(1, len(queries)) * 1e3
        pass_rates.append(round(len(queries) / screen_s, 1))
    app.close()

    report = evaluate(manifest, results, ref_ids)
    if args.ocr:  # listings where OCR found a brand's wordmark, by kind of query
        by_type: Counter = Counter()
        for q in queries:
            r = results[q["file"]]
            if any(m.kind == "wordmark" for m in r.matches):
                by_type[q.get("clean_kind") or q["type"]] += 1
        report["wordmark_listings"] = dict(by_type)
    report["speed"] = {
        "references": n_reg,
        "register_img_per_s": round(n_reg / t_reg, 1) if t_reg else 0.0,
        "screen_img_per_s": round(len(queries) / screen_s, 1),
        "img_per_s_per_pass": pass_rates,  # the first pass includes reference keypoint extraction
        "cpu_ms_per_img": round(cpu_ms, 1),  # process CPU time (all cores) per listing, last pass
        "stage_ms_median": {k: round(float(np.median(v)), 1) for k, v in timings.items()},
    }
    if args.dump:
        with open(args.dump, "w") as fh:
            for q in queries:
                row = {"query": q, "result": results[q["file"]].to_dict()}
                fh.write(json.dumps(row) + "\n")
    curve = report.pop("_curve")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print(report, manifest)
    if args.plots:
        for p in plot({**report, "_curve": curve}, args.plots):
            print(f"wrote {p}", file=sys.stderr)
    if tmp is not None:
        tmp.cleanup()
    return 0


def _print(report: dict, manifest: dict) -> None:
    c, lg, cl, sp = report["copy"], report["logo"], report["clean"], report["speed"]
    kinds = Counter(q.get("clean_kind") for q in manifest["queries"] if q["type"] == "clean")
    print(f"queries: {report['counts']}  clean kinds: {dict(kinds)}  unreadable: {report['errors']}")
    print(
        f"copy   recall@1 {c['recall_at_1']:.3f}  precision {c['precision']:.3f}  µAP {c['micro_ap']:.3f}  "
        f"recall@P99 {c['recall_at_p99']:.3f}"
    )
    print("       per first edit: " + ", ".join(f"{k} {v:.2f}" for k, v in c["per_edit_recall"].items()))
    print(f"logo   recall {lg['recall']:.3f}  precision {lg['precision']:.3f}")
    print(
        f"clean  false-positive rate {cl['false_positive_rate']:.4f}  per kind: "
        + ", ".join(f"{k} {v:.4f}" for k, v in cl["per_kind"].items())
    )
    print(
        f"speed  {sp['references']} references, register {sp['register_img_per_s']} img/s, "
        f"screen {sp['screen_img_per_s']} img/s end to end (per pass: {sp['img_per_s_per_pass']}), "
        f"{sp['cpu_ms_per_img']} CPU ms per image; median stage ms {sp['stage_ms_median']}"
    )


if __name__ == "__main__":
    sys.exit(main())
