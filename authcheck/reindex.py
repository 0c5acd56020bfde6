"""Re-embed a whole catalogue with another descriptor model, and switch the catalogue to it.

A catalogue is tied to the model its vectors came from (meta key ``model``; opening it with
another model raises ``ModelMismatchError``). :func:`reindex` re-embeds every reference from
its stored copy (``<home>/<stored_path>``) with the new model, writes the vectors into the
new model's spaces (``catalogue:<model>``, ``logo:<model>``), then, in one transaction,
switches the catalogue's model and drops the old spaces; finally it rebuilds the new
catalogue index. If any reference cannot be re-embedded nothing is switched: the catalogue
keeps working with its old model, and a rerun starts over.

Running the same model again is allowed (useful after re-registering a model's weights).
Processes that keep the catalogue open (an API server) must be restarted afterwards.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from authcheck.config import Settings, resolve_home
from index.backends import backend_options
from index.catalogue import Catalogue, Reference
from index.space import VectorSpace
from vision.descriptor import Descriptor
from vision.imageio import ImageLoadError, load_image_full
from vision.models import DEFAULT_MODEL, get_model_card

Progress = Callable[[int, int | None], None]  # (done, total)
KIND_SPACES = {"catalogue": "catalogue", "logo": "logo"}  # reference kind -> vector-space prefix


class ReindexError(RuntimeError):
    """Re-embedding failed; the catalogue still uses its old model."""


@dataclass
class ReindexReport:
    """What a reindex did."""

    old_model: str
    new_model: str
    references: int = 0
    dropped_spaces: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {
            "old_model": self.old_model,
            "new_model": self.new_model,
            "references": self.references,
            "dropped_spaces": self.dropped_spaces,
            "seconds": round(self.seconds, 3),
        }


def space_name(kind: str, model: str) -> str:
    """The vector space holding ``kind`` references' descriptors from ``model``."""
    return f"{KIND_SPACES[kind]}:{model}"


@contextmanager
def _write_lock(home: Path) -> Iterator[None]:
    """The same cross-process lock file as ``Authcheck.write_lock``: no register/remove runs meanwhile."""
    with open(home / ".write.lock", "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _iter_references(catalogue: Catalogue, page: int) -> Iterator[list[Reference]]:
    """All references in pages (stable: the write lock is held)."""
    offset = 0
    while True:
        refs = catalogue.list_references(limit=page, offset=offset)
        if not refs:
            return
        yield refs
        offset += len(refs)


def reindex(
    home: str | Path | None,
    model_name: str,
    progress: Progress | None = None,
    batch_size: int = 32,
) -> ReindexReport:
    """Re-embed every reference of the catalogue in ``home`` with ``model_name`` and switch to it."""
    start = time.perf_counter()
    home = resolve_home(home)
    settings = Settings.load(home)
    card = get_model_card(model_name, home)  # fails early on an unknown model
    catalogue = Catalogue(home / "catalogue.sqlite")
    try:
        old = catalogue.get_meta("model") or DEFAULT_MODEL
        report = ReindexReport(old_model=old, new_model=card.name)
        descriptor = Descriptor(card)
        with (
            _write_lock(home),
            ThreadPoolExecutor(max_workers=2, thread_name_prefix="reindex-decode") as pool,
        ):
            total = catalogue.count_references()
            try:
                for page in _iter_references(catalogue, batch_size):
                    report.references += _reembed_page(home, catalogue, descriptor, page, pool, settings)
                    if progress:
                        progress(report.references, total)
            except BaseException:
                if old != card.name:  # leave no half-filled spaces of the new model behind
                    for kind in KIND_SPACES:
                        catalogue.drop_vector_space(space_name(kind, card.name))
                raise
            with catalogue.transaction():
                catalogue.set_meta("model", card.name)
                catalogue.set_meta("model_sha256", card.sha256)
                if old != card.name:
                    for kind in KIND_SPACES:
                        report.dropped_spaces[space_name(kind, old)] = catalogue.drop_vector_space(
                            space_name(kind, old)
                        )
            _rebuild_indexes(home, catalogue, settings, old, card.name, card.dim)
    finally:
        catalogue.close()
    report.seconds = time.perf_counter() - start
    return report


def _reembed_page(
    home: Path,
    catalogue: Catalogue,
    descriptor: Descriptor,
    refs: list[Reference],
    pool: ThreadPoolExecutor,
    settings: Settings,
) -> int:
    """Embed one page of references from their stored copies and write the vectors (one transaction)."""

    def load(ref: Reference) -> np.ndarray:
        return load_image_full(
            home / ref.stored_path, name=ref.stored_path, max_side=settings.stored_max_side
        ).rgb

    try:
        images = list(pool.map(load, refs))
    except (ImageLoadError, OSError) as exc:
        raise ReindexError(
            f"cannot re-embed: a stored reference copy is unreadable ({exc}); nothing was switched. "
            "Remove or re-register that reference, then run reindex again."
        ) from exc
    vectors = descriptor.embed(images)
    with catalogue.transaction():
        for ref, vec in zip(refs, vectors, strict=True):
            catalogue.replace_vectors(
                ref.id, descriptor.name, {space_name(ref.kind, descriptor.name): vec[None, :]}
            )
    return len(refs)


def _rebuild_indexes(
    home: Path, catalogue: Catalogue, settings: Settings, old: str, new: str, dim: int
) -> None:
    """Build the new catalogue index now (not at the first screening); delete the old model's index files."""
    directory = home / "indexes"
    options = backend_options(settings.index_backend, home)
    VectorSpace(catalogue, directory, space_name("catalogue", new), dim, **options).rebuild()
    if old == new:
        return
    for kind in KIND_SPACES:
        stale = VectorSpace(
            catalogue, directory, space_name(kind, old), dim, **options
        )  # paths only, not loaded
        stale.index_path.unlink(missing_ok=True)
        stale.infos_path.unlink(missing_ok=True)
