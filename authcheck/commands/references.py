"""``authcheck register`` and ``authcheck remove``: manage reference images."""

from __future__ import annotations

import argparse
import json
import sys

from authcheck.commands.common import UsageError, opened_app, progress_bar


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``register`` and ``remove`` commands."""
    reg = sub.add_parser("register", help="register catalogue shots or logos of a brand (files or folders)")
    reg.add_argument("--brand", required=True)
    reg.add_argument("--kind", choices=("catalogue", "logo"), default="catalogue")
    reg.add_argument("--json", action="store_true", help="print the summary as JSON")
    reg.add_argument("paths", nargs="+", metavar="PATH")
    reg.set_defaults(func=_register)

    rm = sub.add_parser("remove", help="remove references by id")
    rm.add_argument("ids", nargs="+", type=int, metavar="REFERENCE_ID")
    rm.set_defaults(func=_remove)

    ls = sub.add_parser("references", help="list registered references")
    ls.add_argument("--brand")
    ls.add_argument("--kind", choices=("catalogue", "logo"))
    ls.add_argument("--limit", type=int, default=50)
    ls.set_defaults(func=_list)


def _register(args: argparse.Namespace) -> int:
    with opened_app(args) as app:
        app.catalogue.get_brand(args.brand)
        update, close = progress_bar(f"register {args.brand}")
        try:
            report = app.register(args.paths, args.brand, args.kind, progress=update)
        finally:
            close()
    for _path, error in report.failed:
        print(f"skipped: {error}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        rate = len(report.registered) / report.seconds if report.seconds > 0 else 0.0
        print(
            f"registered {len(report.registered)} {args.kind} reference(s) for {args.brand}, "
            f"{len(report.duplicates)} already registered, {len(report.failed)} unreadable "
            f"({report.seconds:.1f}s, {rate:.0f} img/s)"
        )
    if not report.registered and not report.duplicates and report.failed:
        return 1
    return 1 if report.failed else 0


def _remove(args: argparse.Namespace) -> int:
    with opened_app(args) as app:
        removed = app.remove(args.ids)
    gone = {r.id for r in removed}
    missing = [i for i in args.ids if i not in gone]
    for ref in removed:
        print(f"removed {ref.id} ({ref.brand}, {ref.kind}, {ref.source})")
    if missing:
        raise UsageError(f"no reference with id {', '.join(map(str, missing))}")
    return 0


def _list(args: argparse.Namespace) -> int:
    with opened_app(args) as app:
        refs = app.catalogue.list_references(brand=args.brand, kind=args.kind, limit=args.limit)
    for r in refs:
        print(f"{r.id:>7}  {r.brand:<20} {r.kind:<9} {r.width}x{r.height}  {r.source}")
    return 0
