"""``authcheck reindex --model NAME``: re-embed every reference with another descriptor model."""

from __future__ import annotations

import argparse
import json

from authcheck.commands.common import UsageError, progress_bar


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``reindex`` command."""
    p = sub.add_parser(
        "reindex",
        help="re-embed all references with another model and switch the catalogue to it",
        description="Re-embed every reference from its stored copy with MODEL, switch the catalogue to MODEL "
        "and rebuild its index. Nothing is switched if a reference cannot be re-embedded. "
        "Restart running servers afterwards.",
    )
    # Own dest: a subcommand option named like the global --model would overwrite it with None.
    p.add_argument(
        "--model",
        dest="reindex_model",
        metavar="NAME",
        help="model to switch to (see `authcheck models list`)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_reindex)


def _reindex(args: argparse.Namespace) -> int:
    from authcheck.reindex import ReindexError, reindex
    from vision.models import ModelNotFoundError

    model = args.reindex_model or args.model
    if not model:
        raise UsageError("name the model to switch to: `authcheck reindex --model NAME`")
    update, close = progress_bar(f"reindex -> {model}")
    try:
        report = reindex(args.home, model, progress=update)
    except (ModelNotFoundError, ReindexError) as exc:
        raise UsageError(str(exc)) from exc
    finally:
        close()
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(
            f"re-embedded {report.references} reference(s) with {report.new_model} "
            f"(was {report.old_model}) in {report.seconds:.1f}s"
        )
    return 0
