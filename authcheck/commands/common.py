"""Helpers shared by CLI commands: opening the app, turning known errors into usage errors, progress."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from authcheck.app import Authcheck


class UsageError(Exception):
    """A one-line error for the user; the CLI exits with code 2."""


@contextmanager
def opened_app(args: argparse.Namespace) -> Iterator[Authcheck]:
    """Open the app for ``--home``/``--model``; known failures become :class:`UsageError`."""
    from authcheck.app import Authcheck, ModelMismatchError
    from index.catalogue import CatalogueError
    from vision.models import ModelNotFoundError
    from vision.text_reading import OCRUnavailableError

    try:
        app = Authcheck(args.home, model=args.model)
    except (ModelMismatchError, ModelNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    try:
        yield app
    except (CatalogueError, OCRUnavailableError) as exc:
        raise UsageError(str(exc)) from exc
    finally:
        app.close()


def progress_bar(
    label: str, enabled: bool | None = None
) -> tuple[Callable[[int, int | None], None], Callable[[], None]]:
    """A (update, close) pair drawing a tqdm bar on stderr when it is a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return (lambda done, total: None), (lambda: None)
    from tqdm import tqdm

    bar = tqdm(desc=label, unit="img", dynamic_ncols=True, file=sys.stderr)

    def update(done: int, total: int | None) -> None:
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    return update, bar.close
