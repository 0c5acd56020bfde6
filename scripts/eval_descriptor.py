#!/usr/bin/env python3
"""Descriptor-only copy retrieval on a benchmark built by ``scripts/make_benchmark.py``.

For each named model: embed the catalogue references and the copy and clean queries, take
each query's nearest reference by cosine similarity, and report

* recall@1: share of copy queries whose nearest reference is the one they were copied from;
* µAP (DISC21-style) over copy + clean queries, predictions = (top-1 reference, similarity);
* recall at 99% precision, and the similarity threshold that reaches it (for calibration);
* per-edit recall@1, and images/s of the descriptor alone (resize + inference, decoding excluded).

``--views`` scores each query by its best listing view (the full listing, and where found its
borders trimmed or the picture of a page: ``vision.views.extra_views``), as screening does. No
verification, no logos: this isolates the global descriptor. Models are found by name in the
registry (``--home`` for registered ones).

    python scripts/eval_descriptor.py /tmp/bench-test --model sscd_distilled --model ours --home H
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vision.descriptor import Descriptor  # noqa: E402
from vision.imageio import load_image  # noqa: E402
from vision.models import get_model_card  # noqa: E402
from vision.views import extra_views  # noqa: E402

DECODE_SIDE = 640  # what screening decodes listings at (Settings.decode_max_side)


def micro_ap(
    scores: np.ndarray, correct: np.ndarray, n_positives: int
) -> tuple[float, np.ndarray, np.ndarray]:
    """Average precision of ranked predictions; returns (ap, precision curve, recall curve)."""
    order = np.argsort(-scores, kind="stable")
    hits = correct[order].astype(np.float64)
    tp = np.cumsum(hits)
    precision = tp / np.arange(1, len(hits) + 1)
    recall = tp / max(n_positives, 1)
    return float((precision * hits).sum() / max(n_positives, 1)), precision, recall


def at_precision(
    scores: np.ndarray, correct: np.ndarray, n_positives: int, target: float
) -> tuple[float, float]:
    """(best recall with precision >= target, the lowest similarity accepted there); (0, nan) if never."""
    order = np.argsort(-scores, kind="stable")
    _, precision, recall = micro_ap(scores, correct, n_positives)
    ok = np.nonzero(precision >= target)[0]
    if not len(ok):
        return 0.0, float("nan")
    best = ok[np.argmax(recall[ok])]
    return float(recall[best]), float(scores[order][best])


class Benchmark:
    """Catalogue references and copy + clean queries of a benchmark, decoded once for all models."""

    def __init__(self, root: Path):
        manifest = json.loads((root / "manifest.json").read_text())
        self.refs = [r for r in manifest["references"] if r["kind"] == "catalogue"]
        self.queries = [q for q in manifest["queries"] if q["type"] in ("copy", "clean")]
        self.ref_images = [load_image(root / r["file"], max_side=1024) for r in self.refs]
        self.images = [load_image(root / q["file"], max_side=DECODE_SIDE) for q in self.queries]
        index = {r["file"]: i for i, r in enumerate(self.refs)}
        self.is_copy = np.array([q["type"] == "copy" for q in self.queries])
        self.truth = np.array([index.get(q["ref"] or "", -1) for q in self.queries])


def evaluate(bench: Benchmark, name: str, home: str | None, views: bool, threads: int | None) -> dict:
    """All figures for one model."""
    desc = Descriptor(get_model_card(name, home), threads=threads)
    ref_vecs = desc.embed(bench.ref_images)
    desc.embed(bench.images[:16])  # warm-up
    start = time.perf_counter()
    plain = desc.embed(bench.images)
    seconds = time.perf_counter() - start
    sims = plain @ ref_vecs.T
    if views:
        for i, img in enumerate(bench.images):
            extra = [v for _, v in extra_views(img)]  # the full view is in ``plain``
            if extra:
                sims[i] = np.maximum(sims[i], (desc.embed(extra) @ ref_vecs.T).max(axis=0))
    top = sims.argmax(axis=1)
    score = sims[np.arange(len(top)), top]
    is_copy = bench.is_copy
    correct = is_copy & (top == bench.truth)
    n_copies = int(is_copy.sum())
    ap, _, _ = micro_ap(score, correct, n_copies)
    r99, t99 = at_precision(score, correct, n_copies, 0.99)
    per_edit: dict[str, list[bool]] = defaultdict(list)
    for q, ok in zip(bench.queries, correct, strict=True):
        if q["type"] == "copy":
            per_edit[q.get("primary_edit") or "?"].append(bool(ok))
    return {
        "model": name,
        "dim": desc.dim,
        "input_size": desc.card.input_size,
        "views": views,
        "references": len(bench.refs),
        "copy_queries": n_copies,
        "clean_queries": int((~is_copy).sum()),
        "recall_at_1": float(correct.sum() / max(n_copies, 1)),
        "micro_ap": ap,
        "recall_at_p99": r99,
        "threshold_at_p99": t99,
        "copy_sim_median": float(np.median(score[correct])) if correct.any() else float("nan"),
        "clean_sim_p99": float(np.percentile(score[~is_copy], 99)) if (~is_copy).any() else float("nan"),
        "images_per_s": len(bench.images) / seconds,
        "per_edit_recall_at_1": {k: float(np.mean(v)) for k, v in sorted(per_edit.items())},
    }


def table(rows: list[dict]) -> str:
    """The results as a Markdown table (per-edit recall in a second table)."""
    head = "| model | dim | px | recall@1 | µAP | recall@P99 | sim@P99 | clean sim p99 | img/s |"
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['dim']} | {r['input_size']} | {r['recall_at_1']:.3f} | {r['micro_ap']:.3f} | "
            f"{r['recall_at_p99']:.3f} | {r['threshold_at_p99']:.3f} | {r['clean_sim_p99']:.3f} | "
            f"{r['images_per_s']:.0f} |"
        )
    edits = sorted({e for r in rows for e in r["per_edit_recall_at_1"]})
    lines += [
        "",
        "| recall@1 by edit | " + " | ".join(r["model"] for r in rows) + " |",
        "|---" * (len(rows) + 1) + "|",
    ]
    for e in edits:
        vals = " | ".join(f"{r['per_edit_recall_at_1'].get(e, float('nan')):.2f}" for r in rows)
        lines.append(f"| {e} | {vals} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, evaluate each model, print the tables (and JSON if asked)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", type=Path, help="benchmark folder with manifest.json")
    parser.add_argument("--model", action="append", required=True, help="model name (repeatable)")
    parser.add_argument("--home", help="authcheck home holding registered models")
    parser.add_argument("--views", action="store_true", help="score queries by their best listing view")
    parser.add_argument(
        "--threads", type=int, help="onnxruntime threads (default: AUTHCHECK_THREADS or cores)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    bench = Benchmark(args.data)
    rows = [evaluate(bench, name, args.home, args.views, args.threads) for name in args.model]
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
