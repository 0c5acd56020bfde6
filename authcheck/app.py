"""The authcheck application: one object that the CLI, the API and the benchmarks drive.

It owns the catalogue, the reference store, the descriptor model and the vector spaces,
and exposes the user-level operations: brands and sellers, register / remove references,
and screen listings. Writers take a file lock so concurrent processes cannot interleave
index writes; SQLite is always written first, indexes follow (and are rebuilt from it).
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import faiss
import numpy as np
from PIL import Image

from authcheck.config import Settings, resolve_home
from authcheck.copy_detection import CopyDetector, ListingInput
from authcheck.logo_detection import LogoDetector
from authcheck.logo_store import load_or_derive
from authcheck.refstore import ReferenceStore
from authcheck.results import FLAGGED, VERDICTS, Match, ScreeningResult
from authcheck.wordmarks import find_wordmarks
from index.catalogue import Brand, Catalogue, CatalogueError, NewReference, Reference
from index.space import VectorSpace
from index.vector_index import atomic_write_bytes
from vision.descriptor import Descriptor, default_threads
from vision.imageio import ImageLoadError, LoadedImage, load_image_full
from vision.local_features import LocalFeatures
from vision.models import get_model_card
from vision.text_reading import TextReader
from vision.views import extra_views

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".svg"}
Progress = Callable[[int, int | None], None]  # (done, total or None)


class ModelMismatchError(RuntimeError):
    """The catalogue was built with another descriptor model than the one requested."""


@dataclass
class RegisterReport:
    """What a (bulk) registration did."""

    registered: list[int] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {
            "registered": len(self.registered),
            "reference_ids": self.registered,
            "already_registered": len(self.duplicates),
            "failed": [{"path": p, "error": e} for p, e in self.failed],
            "seconds": round(self.seconds, 3),
        }


def iter_image_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files named directly (any suffix) and image files found recursively under folders, sorted."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in IMAGE_SUFFIXES:
                    yield child
        else:
            yield path


def _single_threaded() -> None:
    """Worker-thread setup: FAISS without OpenMP threads of its own.

    OpenMP's thread count is per thread, so the process-wide setting does not reach pool
    threads; there every small FAISS search would start a team whose idle members spin,
    taking the CPU the other workers need (measured: 6x the CPU per listing with one worker).
    """
    faiss.omp_set_num_threads(1)


def _one_native_thread_per_task() -> None:
    """OpenCV without its own thread pool: the app already runs its stages and listings in
    parallel, and OpenCV's workers on top only spend CPU (measured on 2 cores: bulk screening
    about 8% faster without them, a lone upload's latency unchanged)."""
    cv2.setNumThreads(1)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class _Decoded:
    name: str
    data: bytes | None = None
    image: LoadedImage | None = None
    error: str | None = None


class Authcheck:
    """authcheck over one home directory."""

    def __init__(
        self, home: str | Path | None = None, settings: Settings | None = None, model: str | None = None
    ):
        self.home = resolve_home(home)
        self.settings = settings or Settings.load(self.home)
        _one_native_thread_per_task()
        self.catalogue = Catalogue(self.home / "catalogue.sqlite")
        stored = self.catalogue.get_meta("model")
        if model:
            self.settings.model = model
        elif stored:
            self.settings.model = stored
        self._check_model()
        self.card = get_model_card(self.settings.model, self.home)
        self.refs = ReferenceStore(
            self.home / "refs",
            max_side=self.settings.stored_max_side,
            feature_max_side=self.settings.feature_max_side,
        )
        self._descriptor: Descriptor | None = None
        self._text_reader: TextReader | None = None
        self._models_lock = threading.Lock()  # loading the descriptor or the OCR engine
        self.catalogue_space = VectorSpace(
            self.catalogue,
            self.home / "indexes",
            f"catalogue:{self.card.name}",
            self.card.dim,
            **self._backend(),
        )
        self.copies = CopyDetector(self.catalogue_space, self.catalogue, self.refs, self.settings)
        self.logos = LogoDetector(self.catalogue, self.refs, self.settings, self.home / "indexes")
        self._pool = ThreadPoolExecutor(
            max_workers=self.settings.workers,
            thread_name_prefix="authcheck-work",
            initializer=_single_threaded,
        )
        # Separate from _pool: its tasks never wait on others, so screening tasks can wait on them.
        self._stage_pool = ThreadPoolExecutor(
            max_workers=self.settings.workers,
            thread_name_prefix="authcheck-stage",
            initializer=_single_threaded,
        )
        self._inflight = 0  # listings being screened now (1: a lone upload, more: bulk)
        self._inflight_lock = threading.Lock()

    # -- setup -----------------------------------------------------------------------------
    def _backend(self) -> dict:
        from index.backends import backend_options  # local: backends may pull optional packages

        return backend_options(self.settings.index_backend, self.home)

    def _check_model(self) -> None:
        stored = self.catalogue.get_meta("model")
        if stored is None:
            self.catalogue.set_meta("model", self.settings.model)
        elif stored != self.settings.model:
            raise ModelMismatchError(
                f"this catalogue ({self.home}) was built with model {stored!r}, not {self.settings.model!r}; "
                f"screen with --model {stored}, or re-embed every reference with "
                f"`authcheck reindex --model {self.settings.model}`"
            )

    @property
    def text_reader(self) -> TextReader:
        """The OCR engine, loaded on first use and shared (raises OCRUnavailableError if not installed)."""
        with self._models_lock:
            if self._text_reader is None:
                self._text_reader = TextReader(threads=default_threads())
            return self._text_reader

    @property
    def descriptor(self) -> Descriptor:
        """The descriptor model, loaded on first use and shared."""
        with self._models_lock:
            if self._descriptor is None:
                self._descriptor = Descriptor(self.card)
            return self._descriptor

    def close(self) -> None:
        """Persist indexes and release resources (after a running logo rebuild, for up to a minute)."""
        if not self.logos.stop():
            log.warning(
                "closing while the logo indexes are still being rebuilt; the next start rebuilds them"
            )
        self.flush()
        self._pool.shutdown(wait=True)
        self._stage_pool.shutdown(wait=True)
        self.catalogue.close()

    def flush(self) -> None:
        """Write changed indexes to disk."""
        with self.write_lock():
            self.catalogue_space.flush()

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Exclusive lock across processes for changes to references and indexes."""
        path = self.home / ".write.lock"
        with open(path, "a+") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def refresh(self) -> None:
        """Pick up references other processes added or removed."""
        self.catalogue_space.refresh()
        self.logos.refresh()

    # -- brands ----------------------------------------------------------------------------
    def add_brand(
        self, name: str, sellers: Iterable[str] = (), wordmarks: Iterable[str] = (), actor: str = "cli"
    ):
        """Create a brand (idempotent), with optional authorised sellers and wordmarks."""
        brand = self.catalogue.add_brand(name, sellers, wordmarks)
        self.catalogue.audit(actor, "brand.add", f"brand:{name}", {"sellers": list(sellers)})
        return brand

    def list_brands(self) -> list[Brand]:
        """All brands."""
        return self.catalogue.list_brands()

    def authorise(self, brand: str, sellers: Iterable[str], actor: str = "cli") -> Brand:
        """Authorise sellers to show the brand's marks."""
        sellers = list(sellers)
        out = self.catalogue.set_sellers(brand, sellers, authorised=True)
        self.catalogue.audit(actor, "seller.authorise", f"brand:{brand}", {"sellers": sellers})
        return out

    def revoke(self, brand: str, sellers: Iterable[str], actor: str = "cli") -> Brand:
        """Withdraw sellers' authorisation."""
        sellers = list(sellers)
        out = self.catalogue.set_sellers(brand, sellers, authorised=False)
        self.catalogue.audit(actor, "seller.revoke", f"brand:{brand}", {"sellers": sellers})
        return out

    # -- decoding --------------------------------------------------------------------------
    def _decode(self, name: str, source: str | Path | bytes, max_side: int, keep_bytes: bool) -> _Decoded:
        try:
            if isinstance(source, bytes):
                data = source
            else:
                path = Path(source)
                if not path.is_file():
                    raise ImageLoadError(name, "no such file" if not path.exists() else "not a regular file")
                data = path.read_bytes()
            image = load_image_full(data, name=name, max_side=max_side)
            return _Decoded(name=name, data=data if keep_bytes else None, image=image)
        except ImageLoadError as exc:
            return _Decoded(name=name, error=str(exc))
        except OSError as exc:
            return _Decoded(name=name, error=f"cannot read image {name!r}: {exc.strerror or exc}")

    def _in_pool(
        self, items: Iterable[tuple[str, Any]], work: Callable[[str, Any], Any], ahead: int
    ) -> Iterator:
        """``work(name, source)`` for each item on the worker pool, ``ahead`` items ahead, in order."""
        pending: deque = deque()
        for name, src in items:
            pending.append(self._pool.submit(work, name, src))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    # -- registration ----------------------------------------------------------------------
    def register(
        self,
        paths: Iterable[str | Path],
        brand: str,
        kind: str = "catalogue",
        *,
        progress: Progress | None = None,
        batch_size: int = 32,
        actor: str = "cli",
        sources: Iterable[tuple[str, bytes]] | None = None,
    ) -> RegisterReport:
        """Register image files (or folders, recursively) as ``kind`` references of ``brand``.

        Work is committed in batches: a crash loses at most the batch in flight, and a rerun
        skips what is already registered (same bytes, same brand) before decoding it.
        Unreadable files are reported in the result and skipped. Reading, hashing, decoding,
        storing the reference copy and resizing for the model run in the background pool,
        overlapped with the descriptor on the batch before. Each logo's silhouette, templates and
        keypoints are recorded beside its stored copy there too; the logo indexes follow at the
        next screening (once for any number of registrations, and then kept on disk), or at once
        on their own thread where the logo detector rebuilds in the ``background`` (the service).
        """
        if kind not in ("catalogue", "logo"):
            raise CatalogueError(f"kind must be 'catalogue' or 'logo', not {kind!r}")
        self.catalogue.get_brand(brand)  # fails early on an unknown brand
        start = time.perf_counter()
        report = RegisterReport()
        if sources is None:
            files = list(iter_image_files(paths))
            items: list[tuple[str, str | Path | bytes]] = [(str(p), p) for p in files]
        else:
            items = list(sources)
        total = len(items)
        descriptor = self.descriptor  # load the model before the pool starts working
        saving: dict[str, threading.Lock] = {}  # one writer per stored copy (the same file twice in a run)

        def prepare(name: str, src: str | Path | bytes) -> _Decoded | tuple:
            # background thread: bytes -> sha -> (skip if registered) -> pixels -> stored copy + model input
            if not isinstance(src, bytes):
                path = Path(src)
                with suppress(OSError):  # unreadable: _decode below reports why
                    src = path.read_bytes() if path.is_file() else src
            sha = _sha256(src) if isinstance(src, bytes) else None
            if sha is not None and self.catalogue.find_reference(brand, sha) is not None:
                return (name, sha, None, None, None)
            dec = self._decode(name, src, self.settings.stored_max_side, keep_bytes=False)
            if dec.error is not None or dec.image is None or sha is None:
                return dec
            with saving.setdefault(sha, threading.Lock()):
                stored = self.refs.save(sha, dec.image)
                if kind == "catalogue" and self.settings.prepare_keypoints:
                    self.copies.prepare_reference(stored)
                elif kind == "logo":
                    # its silhouette, templates and keypoints, recorded for screening: from the stored
                    # copy (an opaque logo is kept as JPEG), as screening would derive them
                    load_or_derive(self.refs, stored, dec.image.original_size[0])
            return (name, sha, stored, dec.image.original_size, descriptor.prepare(dec.image.rgb))

        done = 0
        batch: list[tuple] = []
        with self.write_lock():
            self.catalogue_space.refresh()
            for item in self._in_pool(items, prepare, ahead=2 * batch_size):
                if isinstance(item, _Decoded):
                    report.failed.append((item.name, item.error or "unreadable"))
                elif item[2] is None:
                    report.duplicates.append(item[0])
                else:
                    batch.append(item)
                if len(batch) >= batch_size:
                    self._register_batch(batch, brand, kind, report)
                    batch = []
                done += 1
                if progress:
                    progress(done, total)
            if batch:
                self._register_batch(batch, brand, kind, report)
            reason = self.catalogue_space.needs_rebuild()
            if reason:  # e.g. outgrew flat search, or grew far past what the IVF was trained on
                log.info("rebuilding %s: %s", self.catalogue_space.name, reason)
                self.catalogue_space.rebuild()
            self.catalogue_space.flush()
        if kind == "logo" and report.registered:
            self.logos.changed()
        report.seconds = time.perf_counter() - start
        self.catalogue.audit(
            actor,
            "reference.register",
            f"brand:{brand}",
            {"kind": kind, "registered": len(report.registered), "failed": len(report.failed)},
        )
        return report

    def _register_batch(self, batch: list[tuple], brand: str, kind: str, report: RegisterReport) -> None:
        """Embed and commit one batch of prepared (name, sha, stored path, size, model input) items.

        The batch's references and vectors go to SQLite in one transaction; the index follows.
        """
        fresh: list[tuple] = []
        seen: set[str] = set()
        for item in batch:
            name, sha = item[0], item[1]
            if sha in seen or self.catalogue.find_reference(brand, sha) is not None:
                report.duplicates.append(name)
                continue
            seen.add(sha)
            fresh.append(item)
        if not fresh:
            return
        vectors = self.descriptor.embed_prepared(np.stack([item[4] for item in fresh]))
        space = self.catalogue_space.name if kind == "catalogue" else f"logo:{self.card.name}"
        new = []
        for (name, sha, stored, (w, h), _), vec in zip(fresh, vectors, strict=True):
            new.append(
                NewReference(
                    brand=brand,
                    kind=kind,
                    source=name,
                    sha256=sha,
                    model=self.card.name,
                    width=w,
                    height=h,
                    stored_path=stored,
                    vectors={space: vec[None, :]},
                )
            )
        ids = self.catalogue.add_references(new)
        added = [(rid, ref) for rid, ref in zip(ids, new, strict=True) if rid >= 0]
        report.duplicates.extend(ref.source for rid, ref in zip(ids, new, strict=True) if rid < 0)
        report.registered.extend(rid for rid, _ in added)
        if kind == "catalogue" and added:
            self.catalogue_space.add([rid for rid, _ in added], [ref.vectors[space] for _, ref in added])

    def remove(self, ids: Iterable[int], brand: str | None = None, actor: str = "cli") -> list[Reference]:
        """Remove references by id (only ``brand``'s when given); returns those removed."""
        with self.write_lock():
            self.catalogue_space.refresh()
            removed = self.catalogue.remove_references(ids, brand=brand)
            self.catalogue_space.remove([r.id for r in removed if r.kind == "catalogue"])
            self.catalogue_space.flush()
        if any(r.kind == "logo" for r in removed):
            self.logos.changed()
        for ref in removed:
            self.catalogue.audit(actor, "reference.remove", f"brand:{ref.brand}", {"reference_id": ref.id})
        return removed

    # -- screening -------------------------------------------------------------------------
    def screen(
        self,
        items: Iterable[tuple[str, str | Path | bytes] | tuple[str, str | Path | bytes, str | None]],
        *,
        seller: str | None = None,
        listing_id: str | None = None,
        record: bool = True,
        brand: str | None = None,
        ocr: bool | None = None,
    ) -> Iterator[ScreeningResult]:
        """Screen listing images given as (name, path-or-bytes); yields one result per item, in order.

        An item may carry its own seller as a third element (bulk screening of many sellers'
        listings in one stream); otherwise ``seller`` applies. Images are decoded and screened
        in background threads (``settings.workers``), a few ahead of the consumer; results
        come back in input order. Unreadable images yield a result with ``error`` set.
        Flagged results are stored for review when ``record`` is true. With ``ocr`` (default:
        the ``ocr`` setting) the listing's text is also read and matched against the brands'
        wordmarks (about a second per image).
        """
        self.refresh()
        allowed = self.catalogue.brand_reference_ids(brand, "catalogue") if brand else None
        authorised = self.catalogue.authorised_map()
        _ = self.descriptor  # load the model before the pool starts working
        marks = self._wordmarks(brand) if (self.settings.ocr if ocr is None else ocr) else None
        if marks:
            _ = self.text_reader  # fails here, once, when OCR is not installed

        def work(name: str, job: tuple) -> tuple[_Decoded, str | None, ScreeningResult | None]:
            # background thread: decode, embed, verify; only recording stays on the caller's thread
            src, who = job
            dec = self._decode(name, src, self.settings.decode_max_side, keep_bytes=record)
            if dec.error is not None or dec.image is None:
                return dec, who, None
            result = self._screen_decoded(dec.name, dec.image, who, allowed, authorised, brand)
            if marks:
                self._read_wordmarks(result, dec.image, who, authorised, marks)
            return dec, who, result

        jobs = ((item[0], (item[1], item[2] if len(item) > 2 else seller)) for item in items)
        ahead = 2 * self.settings.workers
        for dec, who, result in self._in_pool(jobs, work, ahead=ahead):
            if result is None:
                yield ScreeningResult(image=dec.name, seller=who, error=dec.error or "unreadable")
                continue
            if record and result.flagged:
                result.screening_id = self._record(result, dec, listing_id)
            yield result

    def screen_one(self, name: str, source: str | Path | bytes, **kwargs) -> ScreeningResult:
        """Screen a single listing image."""
        return next(iter(self.screen([(name, source)], **kwargs)))

    @contextmanager
    def _in_flight(self) -> Iterator[bool]:
        """Count a listing as being screened while inside; yields whether it is the only one."""
        with self._inflight_lock:
            self._inflight += 1
            alone = self._inflight == 1
        try:
            yield alone
        finally:
            with self._inflight_lock:
                self._inflight -= 1

    def _screen_decoded(
        self,
        name: str,
        image: LoadedImage,
        seller: str | None,
        allowed: np.ndarray | None,
        authorised: dict[str, frozenset[str]],
        brand: str | None,
    ) -> ScreeningResult:
        """Descriptor, copy check and logo search of one decoded listing.

        Alone (no other listing in flight, e.g. one upload): the stages run side by side
        on the stage pool and the descriptor on every core, for latency. Otherwise (bulk) the
        other workers already fill the cores and everything runs on this thread, which spends
        less CPU per listing (measured: +6-14% images/s on 2 cores).
        """
        with self._in_flight() as alone:
            t0 = time.perf_counter()
            rgb = image.rgb
            scale = image.original_size[0] / rgb.shape[1]

            listing = ListingInput(rgb=rgb, scale_to_original=scale)

            def logo_stage(features: Callable[[], LocalFeatures]) -> tuple[list, float]:
                start = time.perf_counter()
                found = self.logos.detect(rgb, seller, authorised, scale, brand, features=features)
                return found, (time.perf_counter() - start) * 1e3

            if alone:
                # The listing's keypoints are extracted while the descriptor runs (most listings need
                # them; with logo_keypoint_side 0 the logo search reuses them). Submitted first: the
                # logo stage, queued behind it, may wait on it, and a task it waits on must already
                # be running or done. The logo search runs beside the copy stage: both cores work.
                keypoints = self._stage_pool.submit(self.copies.extract_features, listing)
                logo_future = self._stage_pool.submit(logo_stage, keypoints.result)
                matches, embed_ms = self._copy_check(listing, allowed, wide=True, ready=keypoints.result)
                t2 = time.perf_counter()
                logo_matches, logo_ms = logo_future.result()
            else:
                matches, embed_ms = self._copy_check(listing, allowed, wide=False)
                t2 = time.perf_counter()
                # the keypoints, if the copy check took them, are cached in the listing
                logo_matches, logo_ms = logo_stage(partial(self.copies.extract_features, listing))
            return self._result(name, image, seller, matches + logo_matches, t0, embed_ms, t2, logo_ms)

    def _copy_check(
        self,
        listing: ListingInput,
        allowed: np.ndarray | None,
        wide: bool,
        ready: Callable[[], object] | None = None,
    ) -> tuple[list[Match], float]:
        """Copy matches and the milliseconds spent embedding.

        The full view goes first; the other views (borders trimmed, the picture of a page) are
        found, embedded and searched only when it finds no copy, with the alignments already
        tried reused. A copy found from the full view stands: on the dev split, screening skips
        the extra views for most copies and finds the same ones. ``ready`` is waited on
        before the first check (the listing's keypoints, extracted elsewhere).
        """
        start = time.perf_counter()
        listing.vectors = self.descriptor.embed([listing.rgb], wide=wide)
        embed_ms = (time.perf_counter() - start) * 1e3
        if ready is not None:
            ready()
        matches = self.copies.detect(listing, allowed)
        if any(m.verdict == "copy" for m in matches):
            return matches, embed_ms
        views = extra_views(listing.rgb, region=self.settings.region_view)
        if views:
            start = time.perf_counter()
            more = self.descriptor.embed([v for _, v in views], wide=wide)
            listing.vectors = np.vstack([listing.vectors, more])
            embed_ms += (time.perf_counter() - start) * 1e3
            matches = self.copies.detect(listing, allowed)
        return matches, embed_ms

    def _result(
        self,
        name: str,
        image: LoadedImage,
        seller: str | None,
        matches: list[Match],
        t0: float,
        embed_ms: float,
        t2: float,
        logo_ms: float,
    ) -> ScreeningResult:
        """The listing's result with its verdict and stage timings (t0: start, t2: copy check done)."""
        result = ScreeningResult(
            image=name, seller=seller, width=image.original_size[0], height=image.original_size[1]
        )
        result.matches = matches
        self._decide(result)
        result.timings_ms = {
            "embed": embed_ms,
            "copy": (t2 - t0) * 1e3 - embed_ms,
            "logo": logo_ms,
            "total": (time.perf_counter() - t0) * 1e3,
        }
        return result

    def _wordmarks(self, brand: str | None) -> dict[str, tuple[str, ...]]:
        """Registered wordmarks per brand (only ``brand``'s when given)."""
        return {
            b.name: b.wordmarks
            for b in self.catalogue.list_brands()
            if b.wordmarks and brand in (None, b.name)
        }

    def _read_wordmarks(
        self,
        result: ScreeningResult,
        image: LoadedImage,
        seller: str | None,
        authorised: dict[str, frozenset[str]],
        marks: dict[str, tuple[str, ...]],
    ) -> None:
        """Add a match for each brand whose wordmark the listing's text shows, and decide again."""
        start = time.perf_counter()
        k = image.original_size[0] / image.rgb.shape[1]
        lines = self.text_reader.read(image.rgb)
        for hit in find_wordmarks(lines, marks, self.settings.ocr_min_score):
            ok = seller is not None and seller in authorised.get(hit.brand, frozenset())
            result.matches.append(
                Match(
                    reference_id=None,
                    source=hit.wordmark,
                    brand=hit.brand,
                    kind="wordmark",
                    score=hit.similarity,
                    similarity=hit.similarity,
                    verdict="logo_authorised" if ok else "logo_misuse",
                    box=[v * k for v in hit.box],
                    signal="ocr",
                    text=hit.text,
                )
            )
        self._decide(result)
        result.timings_ms["ocr"] = (time.perf_counter() - start) * 1e3

    @staticmethod
    def _decide(result: ScreeningResult) -> None:
        """The listing's verdict is its most serious match; score is that match's score."""
        found = [m for m in result.matches if m.verdict in VERDICTS and m.verdict != "clean"]
        if not found:
            result.verdict = "clean"
            result.score = max((m.score for m in result.matches), default=0.0)
            return
        rank = {v: i for i, v in enumerate(VERDICTS)}
        best = min(found, key=lambda m: (rank[m.verdict], -m.score))
        result.verdict, result.score = best.verdict, best.score
        result.matches.sort(key=lambda m: (m.verdict == "candidate", rank.get(m.verdict, 9), -m.score))

    def _record(self, result: ScreeningResult, dec: _Decoded, listing_id: str | None) -> int:
        """Keep a copy of a flagged listing and queue it for review."""
        assert dec.image is not None
        rel = None
        if dec.data is not None:
            sha = _sha256(dec.data)
            rel = f"listings/{sha[:2]}/{sha}.jpg"
            path = self.home / rel
            if not path.exists():
                buf = io.BytesIO()
                pil = Image.fromarray(dec.image.rgb)
                if pil.size != tuple(dec.image.original_size):
                    pil = pil.resize(dec.image.original_size, Image.Resampling.BILINEAR)
                pil.save(buf, "JPEG", quality=90)
                atomic_write_bytes(path, buf.getvalue())
        return self.catalogue.add_screening(
            image=result.image,
            verdict=result.verdict,
            score=result.score,
            result=result.to_dict(with_pairs=True),
            brands=result.brands,
            listing_id=listing_id,
            seller_id=result.seller,
            listing_path=rel,
            status="open" if result.verdict in FLAGGED else "none",
        )


def open_app(home: str | Path | None = None, model: str | None = None) -> Authcheck:
    """Open authcheck over ``home`` (or ``AUTHCHECK_HOME``)."""
    return Authcheck(home, model=model)


__all__ = ["Authcheck", "ModelMismatchError", "RegisterReport", "iter_image_files", "open_app"]
