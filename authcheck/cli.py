"""The ``authcheck`` command line.

Each command group lives in its own module under :mod:`authcheck.commands` and exposes
``add_parser(subparsers)``; the parser set here collects them all. Exit codes: 0 success,
1 some inputs failed (e.g. unreadable images), 2 bad usage or a request that cannot be done.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

import authcheck.commands as commands_pkg
from authcheck.commands.common import UsageError


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(
        prog="authcheck",
        description="Catch copied catalogue shots and logo misuse in marketplace listing images.",
    )
    parser.add_argument("--home", help="data directory (default: $AUTHCHECK_HOME or ./.authcheck)")
    parser.add_argument(
        "--model", help="descriptor model name (default: the catalogue's, else sscd_distilled)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"authcheck.commands.{info.name}")
        add = getattr(module, "add_parser", None)
        if add is not None:
            add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"authcheck: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("authcheck: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
