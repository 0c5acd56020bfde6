"""``authcheck brand``: add, list, authorise and revoke sellers, manage wordmarks."""

from __future__ import annotations

import argparse
import json

from authcheck.commands.common import opened_app


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``brand`` command group."""
    p = sub.add_parser("brand", help="manage brands, their authorised sellers and wordmarks")
    bsub = p.add_subparsers(dest="brand_command", metavar="ACTION")
    bsub.required = True

    add = bsub.add_parser("add", help="create a brand (idempotent)")
    add.add_argument("name")
    add.add_argument("--authorised-seller", action="append", default=[], metavar="ID", help="repeatable")
    add.add_argument("--wordmark", action="append", default=[], metavar="TEXT", help="brand name as printed")
    add.set_defaults(func=_add)

    ls = bsub.add_parser("list", help="list brands with their references and sellers")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)

    for name, helptext in (("authorise", "authorise sellers"), ("revoke", "withdraw sellers' authorisation")):
        cmd = bsub.add_parser(name, help=helptext)
        cmd.add_argument("name")
        cmd.add_argument("sellers", nargs="+", metavar="SELLER")
        cmd.set_defaults(func=_authorise if name == "authorise" else _revoke)


def _add(args: argparse.Namespace) -> int:
    with opened_app(args) as app:
        b = app.add_brand(args.name, args.authorised_seller, args.wordmark)
    print(f"brand {b.name}: {len(b.authorised_sellers)} authorised seller(s), {len(b.wordmarks)} wordmark(s)")
    return 0


def _list(args: argparse.Namespace) -> int:
    with opened_app(args) as app:
        brands = app.list_brands()
        counts = app.catalogue.brand_counts()
    if args.json:
        for b in brands:
            row = {
                "name": b.name,
                "authorised_sellers": list(b.authorised_sellers),
                "wordmarks": list(b.wordmarks),
            }
            row.update(counts.get(b.name, {}))
            print(json.dumps(row))
        return 0
    if not brands:
        print("no brands yet (add one with `authcheck brand add NAME`)")
        return 0
    print(f"{'brand':<24} {'catalogue':>9} {'logos':>6}  authorised sellers")
    for b in brands:
        c = counts.get(b.name, {})
        print(
            f"{b.name:<24} {c.get('catalogue', 0):>9} {c.get('logo', 0):>6}  {', '.join(b.authorised_sellers) or '-'}"
        )
    return 0


def _authorise(args: argparse.Namespace) -> int:
    with opened_app(args) as app:
        b = app.authorise(args.name, args.sellers)
    print(f"brand {b.name}: authorised sellers now {', '.join(b.authorised_sellers) or '-'}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    with opened_app(args) as app:
        b = app.revoke(args.name, args.sellers)
    print(f"brand {b.name}: authorised sellers now {', '.join(b.authorised_sellers) or '-'}")
    return 0
