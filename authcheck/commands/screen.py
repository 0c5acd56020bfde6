"""``authcheck screen``: verdicts for listing images, as a table or JSON Lines."""

from __future__ import annotations

import argparse
import json
import sys
import time

from authcheck.app import iter_image_files
from authcheck.commands.common import opened_app, progress_bar


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``screen`` command."""
    p = sub.add_parser("screen", help="screen listing images (files or folders) for copies and logo misuse")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--seller", help="seller id of the listing (authorised sellers may show a brand's logos)")
    p.add_argument("--listing", help="listing id, stored with flagged screenings")
    p.add_argument("--brand", help="screen only against this brand's references")
    p.add_argument("--json", action="store_true", help="one JSON object per image per line")
    p.add_argument("--no-record", action="store_true", help="do not queue flagged listings for review")
    p.add_argument("--evidence", action="store_true", help="include outlines and keypoint pairs in JSON")
    p.add_argument(
        "--ocr",
        action="store_true",
        help="also read the listing's text for brands' wordmarks (about 1 s per image; needs authcheck[ocr])",
    )
    p.set_defaults(func=_screen)


def _row(result) -> str:
    if result.error:
        return f"{'error':<16} {'':>6}  {result.image}  ({result.error})"
    best = result.matches[0] if result.matches else None
    what = ""
    if best is not None and result.verdict != "clean":
        box = f" at {[round(v) for v in best.box]}" if best.box else ""
        ref = f"wordmark {best.source!r} read as {best.text!r}" if best.kind == "wordmark" else best.source
        what = f"  -> {best.brand}/{best.reference_id or '-'} {ref}{box}"
    return f"{result.verdict:<16} {result.score:>6.3f}  {result.image}{what}"


def _screen(args: argparse.Namespace) -> int:
    files = list(iter_image_files(args.paths))
    errors = 0
    with opened_app(args) as app:
        if args.brand:
            app.catalogue.get_brand(args.brand)
        update, close = progress_bar("screen", enabled=sys.stderr.isatty() and args.json)
        if not args.json:
            print(f"{'verdict':<16} {'score':>6}  image")
        start = time.perf_counter()
        n = 0
        try:
            stream = app.screen(
                [(str(p), p) for p in files],
                seller=args.seller,
                listing_id=args.listing,
                record=not args.no_record,
                brand=args.brand,
                ocr=args.ocr or None,
            )
            for n, result in enumerate(stream, 1):
                errors += result.error is not None
                if args.json:
                    print(json.dumps(result.to_dict(with_pairs=args.evidence)), flush=True)
                else:
                    print(_row(result), flush=True)
                update(n, len(files))
        finally:
            close()
        elapsed = time.perf_counter() - start
    if not args.json:
        rate = n / elapsed if elapsed > 0 else 0.0
        print(
            f"screened {n} image(s) in {elapsed:.1f}s ({rate:.1f} img/s), {errors} unreadable",
            file=sys.stderr,
        )
    return 1 if errors else 0
