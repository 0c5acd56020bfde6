"""``authcheck keys``: create, list and revoke API keys for the HTTP service."""

from __future__ import annotations

import argparse
import json
import time

from authcheck.commands.common import UsageError, opened_app
from authcheck.keys import ROLES, create_key


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``keys`` command group."""
    p = sub.add_parser("keys", help="manage API keys (admin, brand, marketplace)")
    ksub = p.add_subparsers(dest="keys_command", metavar="ACTION")
    ksub.required = True

    create = ksub.add_parser("create", help="create a key and print its secret (shown only once)")
    create.add_argument("--role", choices=ROLES, required=True)
    create.add_argument("--brand", help="the brand a brand key manages (required for --role brand)")
    create.add_argument("--label", default="", help="who or what uses the key; shown in reviews and audit")
    create.add_argument("--json", action="store_true")
    create.set_defaults(func=_create)

    ls = ksub.add_parser("list", help="list keys (prefixes only, never secrets)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)

    revoke = ksub.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=_revoke)


def _create(args: argparse.Namespace) -> int:
    with opened_app(args) as app:
        key_id, secret = create_key(app.catalogue, args.role, args.brand, args.label)
        app.catalogue.audit("cli", "key.create", f"key:{key_id}", {"role": args.role, "brand": args.brand})
    if args.json:
        row = {"id": key_id, "role": args.role, "brand": args.brand, "label": args.label, "key": secret}
        print(json.dumps(row))
    else:
        scope = f" for brand {args.brand}" if args.brand else ""
        print(f"created {args.role} key {key_id}{scope}; store this secret now, it is not shown again:")
        print(secret)
    return 0


def _list(args: argparse.Namespace) -> int:
    with opened_app(args) as app:
        keys = app.catalogue.list_api_keys()
    if args.json:
        for k in keys:
            print(json.dumps(k))
        return 0
    if not keys:
        print("no keys yet (create one with `authcheck keys create --role admin`)")
        return 0
    print(f"{'id':>4}  {'prefix':<14} {'role':<12} {'brand':<16} {'created':<17} {'state':<8} label")
    for k in keys:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(k["created_at"]))
        state = "revoked" if k["revoked_at"] else "live"
        print(
            f"{k['id']:>4}  {k['prefix'] + '…':<14} {k['role']:<12} {k['brand'] or '-':<16} {created:<17} "
            f"{state:<8} {k['label']}"
        )
    return 0


def _revoke(args: argparse.Namespace) -> int:
    with opened_app(args) as app:
        if not app.catalogue.revoke_api_key(args.id):
            raise UsageError(f"no live key with id {args.id}")
        app.catalogue.audit("cli", "key.revoke", f"key:{args.id}", {})
    print(f"revoked key {args.id}")
    return 0
