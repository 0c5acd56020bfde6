"""Logo misuse policy: find registered logos in a listing and judge them against the seller.

A registered logo found in the listing is ``logo_misuse`` unless the listing's seller is
authorised by the logo's brand (then ``logo_authorised``: reported, not flagged).

Finding runs in two stages: a dense coarse scan proposes (logo, rotation, scale, place)
candidates through one FAISS search of all listing windows against the coarse templates of
all logos (:mod:`index.logo_index`); only the best few candidates are verified, each by
refining the placement and measuring how well the listing follows the logo's silhouette
(:func:`vision.logo_features.verify_placement`): a placement is reported when most of the
logo's contour has a like-directed listing edge under it and the frame's edges are mostly
the logo's own (``logo_min_coverage``, ``logo_min_explained``); where the contour is found
only just (below ``logo_sure_coverage``), the silhouette must also correlate with the frame as a
whole, as an unregistered mark with a similar outline does not.

A second proposer serves detailed marks: the listing's ORB keypoints vote for logos through one
FAISS binary index of all logos' keypoints (:mod:`index.logo_keypoint_index`), and a RANSAC
similarity per logo gives a placement. These few are verified first, pass with less of their
contour found (``logo_keypoint_coverage``), and stand on their keypoints alone from
``logo_keypoint_sure`` agreeing ones (thin strokes can leave too little edge for the
silhouette check).

Each logo's shape, templates and keypoints are derived from its stored copy once (about 30 ms)
and kept, in memory and on disk (:mod:`authcheck.logo_store`); both indexes are rebuilt from them
whenever the catalogue's logo references change: in the next screening, or, for a ``background``
detector (the service), on a thread of their own while searches go on with the previous set
(:class:`_LogoSet`, swapped whole). The keypoint index and (from 200 logos) the template index's
basis are kept on disk too: training and filling the one takes about 1 s for 40 logos, about
13 s for 1,000 (770k keypoints); the other's SVD 1 s for 1,000 logos.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from authcheck.config import Settings
from authcheck.logo_store import DerivedLogo, keypoint_index, load_or_derive, template_index
from authcheck.refstore import ReferenceStore
from authcheck.results import Match
from index.catalogue import Catalogue
from index.logo_index import DENSE_UP_TO, LogoTemplateIndex
from index.logo_keypoint_index import LogoKeypointIndex
from vision.local_features import LocalFeatures, extract
from vision.logo_features import INNER, WINDOW, LogoPlacement, LogoShape, verify_placement
from vision.logo_keypoints import placement_from_matches
from vision.logo_scan import ScanLevel, best_nearby, scan_levels

EVIDENCE_POINTS = 24  # silhouette contour points reported as matched pairs

log = logging.getLogger(__name__)

try:  # BLAS threads on the scan's small matrix products cost more than they save (4x on 2 busy cores)
    from threadpoolctl import ThreadpoolController

    _THREADS: ThreadpoolController | None = ThreadpoolController()
except ImportError:  # optional: without it BLAS keeps its own threading
    _THREADS = None


def _single_blas() -> contextlib.AbstractContextManager:
    """A context running BLAS on one thread where threadpoolctl is installed."""
    return _THREADS.limit(limits=1, user_api="blas") if _THREADS is not None else contextlib.nullcontext()


@dataclass
class _LogoEntry:
    ref_id: int
    brand: str
    source: str
    shape: LogoShape
    to_original: float  # original logo px per stored-copy px
    contour: tuple[np.ndarray, np.ndarray]  # silhouette contour points and inward normals (canonical)


@dataclass
class _Templates:
    """All coarse templates, row-aligned with the index."""

    vectors: np.ndarray  # (T, P)
    rects: np.ndarray  # (T, 4) int64
    owner: np.ndarray  # (T,) entry position
    to_window: np.ndarray  # (T, 3, 3) canonical -> window


@dataclass(frozen=True)
class _LogoSet:
    """One build of the registered logos: everything a search reads, replaced whole (never
    changed in place), so a search holding one sees a consistent set while the next is built."""

    generation: int  # catalogue generation of the logos it was built from (-1: none yet)
    entries: list[_LogoEntry]
    templates: _Templates | None
    index: LogoTemplateIndex
    keypoints: LogoKeypointIndex
    starts: np.ndarray  # first template row of each entry (rows are grouped by entry)

    @classmethod
    def empty(cls) -> _LogoSet:
        """No logos, built from nothing."""
        return cls(-1, [], None, _no_templates(), LogoKeypointIndex.empty(), np.zeros(0, np.int64))


def _no_templates() -> LogoTemplateIndex:
    return LogoTemplateIndex(np.zeros((0, 0), np.float32), np.zeros(0))


@dataclass
class _Candidate:
    score: float
    entry: int
    guess: np.ndarray  # (3, 3) canonical -> listing image
    polarity: int
    centre: tuple[float, float]
    size: float
    keypoints: int = 0  # keypoint proposals: matched keypoints agreeing on the guess
    pairs: np.ndarray | None = None  # ... and those matches, (n, 2, 2): canonical logo point, image point


@dataclass
class ListingKeypoints:
    """The listing's ORB keypoints in logo-search image px, and how many of those px one keypoint px spans."""

    points: np.ndarray  # (n, 2) float32
    descriptors: np.ndarray  # (n, 32) uint8
    unit: float  # image px per feature-image px (scales the RANSAC tolerance)


def listing_image(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """The listing (RGB) with its long side at most ``max_side``, and its scale from ``rgb``."""
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        rgb = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb[..., :3]), scale


class LogoDetector:
    """Finds registered logos inside listing images."""

    def __init__(
        self,
        catalogue: Catalogue,
        refs: ReferenceStore,
        settings: Settings,
        index_dir: Path | None = None,
        background: bool = False,
    ) -> None:
        """``index_dir``: where the logos' keypoint index and template basis are kept between processes
        (None: in memory only). ``background``: once a first set of logos is built, rebuild on a
        thread of its own when they change, searching the previous set meanwhile (a service: no
        upload waits for a rebuild, which takes 11-16 s for 1,000 logos); otherwise (CLI, bulk
        jobs) the next search waits for it."""
        self.catalogue = catalogue
        self.index_dir = index_dir
        self.refs = refs
        self.settings = settings
        self.background = background
        self._set = _LogoSet.empty()
        self._derived: dict[tuple[int, str], DerivedLogo | None] = {}  # by (reference id, stored copy)
        self._build_lock = threading.Lock()  # one build at a time; searches never take it
        self._rebuilder: threading.Thread | None = None
        self._rebuilder_lock = threading.Lock()
        self._stopping = False

    def _generation_now(self) -> int:
        return self.catalogue.generation(f"logo:{self.catalogue.get_meta('model')}")

    def refresh(self, wait: bool | None = None) -> None:
        """Rebuild the logos' shapes and indexes if logos were added or removed.

        ``wait``: build now, before returning; by default only when there is no previous set to
        search meanwhile or the detector is not ``background`` (else a rebuild is started on its
        own thread and the previous set is searched until it is done).
        """
        gen = self._generation_now()
        if gen == self._set.generation:
            return
        if wait is None:
            wait = not self.background or self._set.generation < 0
        if not wait:
            self._rebuild_in_background()
            return
        with self._build_lock:
            gen = self._generation_now()  # another thread may have built it meanwhile
            if gen != self._set.generation:
                self._set = self._build(gen)

    @property
    def rebuilding(self) -> bool:
        """Whether a background rebuild is under way (the logos searched are then the previous set)."""
        return self.state()["rebuilding"]

    @property
    def current(self) -> bool:
        """Whether the logos searched are the catalogue's logos as they are now."""
        return self._set.generation == self._generation_now()

    def state(self) -> dict[str, int | bool]:
        """One consistent reading of ``searched`` (how many logos), ``current`` and ``rebuilding``.

        A rebuilder thread that has just put the current set in place and is about to end is not
        rebuilding: ``current`` and ``rebuilding`` are never both true.
        """
        with self._rebuilder_lock:
            alive = self._rebuilder is not None and self._rebuilder.is_alive()
        searched = self._set  # read after the thread: a set swapped in meanwhile is seen
        current = searched.generation == self._generation_now()
        return {"searched": len(searched.entries), "current": current, "rebuilding": alive and not current}

    def changed(self) -> None:
        """Logos were added or removed: a background detector starts its rebuild now, not at the next search."""
        if self.background and self._set.generation >= 0:
            self.refresh(wait=False)

    def stop(self, timeout: float = 60.0) -> bool:
        """Start no more background rebuilds and wait up to ``timeout`` s for a running one to finish
        (its indexes are then on disk for the next process). Returns whether none is left running."""
        with self._rebuilder_lock:
            self._stopping = True
            thread = self._rebuilder
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _rebuild_in_background(self) -> None:
        with self._rebuilder_lock:
            if self._stopping or (self._rebuilder is not None and self._rebuilder.is_alive()):
                return  # a running one looks at the generation again when it is done
            self._rebuilder = threading.Thread(
                target=self._rebuild_until_current, name="logo-rebuild", daemon=True
            )
            self._rebuilder.start()

    def _rebuild_until_current(self) -> None:
        """Build until the set is current (logos may change again during a build)."""
        try:
            while not self._stopping:
                with self._build_lock:
                    gen = self._generation_now()
                    if gen == self._set.generation:
                        return
                    self._set = self._build(gen)
        except Exception:  # the previous set stays in use; the next search starts another try
            log.exception("rebuilding the logo indexes failed")

    def _build(self, gen: int) -> _LogoSet:
        """A new set from the catalogue's logos (of generation ``gen``), reusing what was derived before."""
        entries: list[_LogoEntry] = []
        vecs, rects, owner, affs = [], [], [], []
        kp_desc, kp_owner, kp_points = [], [], []
        derived: dict[tuple[int, str], DerivedLogo | None] = {}
        logos = self.catalogue.list_references(kind="logo", limit=1_000_000)
        # in content order (stored copies are named by their sha256), not registration order: the
        # same logos give the same indexes, and so the same verdicts, however they were registered
        for ref in sorted(logos, key=lambda r: (r.stored_path, r.id)):
            key = (ref.id, ref.stored_path)
            # logos unchanged since the last rebuild keep what was derived from them
            if key in self._derived:
                d = self._derived[key]
            else:
                d = load_or_derive(self.refs, ref.stored_path, ref.width)
            derived[key] = d
            if d is None:
                continue
            kp_desc.append(d.descriptors)
            kp_points.append(d.points)
            kp_owner.append(np.full(len(d.points), len(entries), np.int64))
            tmpl = d.templates
            for j in range(len(tmpl.vectors)):
                vecs.append(tmpl.vectors[j])
                rects.append(tmpl.rects[j])
                owner.append(len(entries))
                affs.append(np.vstack([tmpl.to_window[j], [0.0, 0.0, 1.0]]))
            entries.append(_LogoEntry(ref.id, ref.brand, ref.source, d.shape, d.to_original, d.contour))
        self._derived = derived
        if vecs:
            templates = _Templates(
                np.stack(vecs).astype(np.float32),
                np.array(rects, np.int64),
                np.array(owner),
                np.stack(affs),
            )
            support = (templates.rects[:, 2] * templates.rects[:, 3]).astype(np.float64)
            index = template_index(self.index_dir, templates.vectors, support, self.settings.logo_index_dims)
            owner = templates.owner
            starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        else:
            templates, index, starts = None, _no_templates(), np.zeros(0, np.int64)
        if kp_desc:
            keypoints = keypoint_index(
                self.index_dir,
                np.concatenate(kp_desc),
                np.concatenate(kp_owner),
                np.concatenate(kp_points),
            )
        else:
            keypoints = LogoKeypointIndex.empty()
        return _LogoSet(gen, entries, templates, index, keypoints, starts)

    def __len__(self) -> int:
        """How many logos the current set searches."""
        return len(self._set.entries)

    # -- finding ---------------------------------------------------------------------------
    def _candidates(
        self, ls: _LogoSet, levels: list[ScanLevel], allowed: set[int] | None
    ) -> Iterator[_Candidate]:
        """Coarse (logo, placement) proposals from ``ls``, best first (built lazily: most are never looked at)."""
        s = self.settings
        tm = ls.templates
        assert tm is not None
        cols: list[tuple[np.ndarray, ...]] = []
        dense = len(tm.vectors) <= DENSE_UP_TO
        for n, level in enumerate(levels):
            if not len(level.active):
                continue
            vecs = ls.index.project(level.patches(level.active)) / level.norms[level.active, None]
            if dense:
                hits = ls.index.hits(vecs, k=2, min_score=s.logo_coarse_min * 0.8)
            else:
                hits = ls.index.search(vecs, k=2, min_score=s.logo_coarse_min * 0.8)
            keep = np.ones(len(hits.windows), bool)
            if allowed is not None:
                keep = np.isin(tm.owner[hits.templates], list(allowed))
            if keep.sum() > s.logo_level_hits:  # the level's best approximate hits only
                keep &= hits.scores >= np.sort(hits.scores[keep])[-s.logo_level_hits]
            win, rows, signs = level.active[hits.windows[keep]], hits.templates[keep], hits.signs[keep]
            if dense and s.logo_own_best and hits.all_scores is not None:
                # and each logo's own best places, however it ranks against other logos' hits
                w2, r2 = self._per_logo_best(ls, level, hits.all_scores, allowed)
                win = np.concatenate([win, w2])
                rows = np.concatenate([rows, r2])
                signs = np.concatenate([signs, np.ones(len(w2), signs.dtype)])
            if not len(win):
                continue
            xs, ys = level.position(win)
            signed = tm.vectors[rows] * signs[:, None].astype(np.float32)
            exact, xs, ys = best_nearby(level, xs, ys, signed, tm.rects[rows], s.logo_scan_stride // 2)
            good = exact >= s.logo_coarse_min
            cols.append(
                (exact[good], rows[good], signs[good], xs[good], ys[good], np.full(int(good.sum()), n))
            )
        if not cols:
            return
        score, rows, signs, xs, ys, lev = (np.concatenate(c) for c in zip(*cols, strict=True))
        for i in np.argsort(-score, kind="stable"):
            k = 1.0 / levels[lev[i]].scale  # level px -> image px
            # canonical -> window -> level -> image
            guess = np.array([[k, 0, xs[i] * k], [0, k, ys[i] * k], [0, 0, 1]]) @ tm.to_window[rows[i]]
            half = WINDOW / 2
            yield _Candidate(
                float(score[i]),
                int(tm.owner[rows[i]]),
                guess,
                int(signs[i]),
                ((xs[i] + half) * k, (ys[i] + half) * k),
                INNER * k,
            )

    def _per_logo_best(
        self, ls: _LogoSet, level: ScanLevel, scores: np.ndarray, allowed: set[int] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each logo's best two distinct windows in ``level``: (windows, template rows).

        ``scores``: approximate scores of all active windows (rows) against all templates.

        Each logo keeps its best window and its best one away from it, so a logo scoring low in absolute terms
        (a simple shape on a busy photo) still gets looked at where it fits best. Only the
        ``logo_own_best_logos`` logos fitting best somewhere in the level do, so the windows looked at
        do not grow with the number of logos registered.
        """
        tm = ls.templates
        assert tm is not None
        starts = ls.starts
        counts = np.diff(np.r_[starts, scores.shape[1]])
        col_entry = tm.owner[starts]

        def best_of_each_logo(values: np.ndarray, which: np.ndarray) -> np.ndarray:
            # the max over each of logos ``which``'s templates (columns of ``values``): gathered maxima over
            # their k-th templates at once, ~6x faster than np.maximum.reduceat along rows
            first_cols, n = starts[which], counts[which]
            out = values[..., first_cols]
            for k in range(1, int(n.max())):
                np.maximum(out, values[..., first_cols + np.minimum(k, n - 1)], out=out)
            return out

        # the logos looked at: the allowed ones fitting best somewhere in the level (one pass over the scores)
        logos = (
            np.arange(len(starts)) if allowed is None else np.flatnonzero(np.isin(col_entry, list(allowed)))
        )
        cap = self.settings.logo_own_best_logos
        if len(logos) > cap:
            logo_best = best_of_each_logo(scores.max(axis=0), logos)
            logos = np.sort(logos[np.argpartition(-logo_best, cap - 1)[:cap]])
        if not len(logos):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        per_logo = best_of_each_logo(scores, logos)  # (m, len(logos)): each logo's best template per window
        act = level.active
        first = np.argmax(per_logo, axis=0)
        # the best window more than WINDOW/2 px from the first in x or y: the first's neighbours
        # on the window grid are masked (a few per logo, not a mask over all windows)
        nx, ny = len(level.xs), len(level.ys)
        reach = (WINDOW // 2) // level.stride
        slot = np.full(nx * ny, -1, np.int64)  # grid window -> row of per_logo (-1: inactive)
        slot[act] = np.arange(len(act))
        offsets = np.arange(-reach, reach + 1)
        gx = (act[first] % nx)[:, None, None] + offsets[None, None, :]  # (E, dy, dx) neighbour columns
        gy = (act[first] // nx)[:, None, None] + offsets[None, :, None]
        inside = (gx >= 0) & (gx < nx) & (gy >= 0) & (gy < ny)
        rows = np.where(inside, slot[np.clip(gy * nx + gx, 0, nx * ny - 1)], -1)
        cols = np.broadcast_to(np.arange(len(logos))[:, None, None], rows.shape)
        masked = per_logo.copy()
        masked[rows[rows >= 0], cols[rows >= 0]] = -np.inf
        second = np.argmax(masked, axis=0)
        win = np.concatenate([first, second])
        col = np.concatenate([np.arange(len(logos))] * 2)
        keep = per_logo[win, col] >= self.settings.logo_coarse_min * 0.8
        win, ent = win[keep], col_entry[logos[col[keep]]]
        # the best template (rotation) of that logo at that window
        own = tm.owner[None, :] == ent[:, None]
        rows = np.argmax(np.where(own, scores[win], -np.inf), axis=1)
        return act[win], rows

    def _pick(self, cands: Iterable[_Candidate]) -> list[_Candidate]:
        """The best distinct candidates: at most ``logo_per_logo`` places or scales per logo, ``logo_verify`` in all."""
        s = self.settings
        chosen: list[_Candidate] = []
        for c in cands:
            same = [o for o in chosen if o.entry == c.entry]
            if len(same) >= s.logo_per_logo:
                continue
            # the same place at a similar scale; a logo's part matched at a smaller scale must
            # not hide the whole logo at its true scale
            if any(
                np.hypot(o.centre[0] - c.centre[0], o.centre[1] - c.centre[1]) < 0.5 * max(o.size, c.size)
                and max(o.size, c.size) < 1.4 * min(o.size, c.size)
                for o in same
            ):
                continue
            chosen.append(c)
            if len(chosen) >= s.logo_verify:
                break
        return chosen

    def _keypoint_candidates(
        self, ls: _LogoSet, listing: ListingKeypoints, allowed: set[int] | None, size: tuple[int, int]
    ) -> list[_Candidate]:
        """Placements proposed by the listing's keypoints voting for logos, most inliers first."""
        s = self.settings
        votes = ls.keypoints.votes(listing.descriptors, s.logo_keypoint_distance, s.logo_keypoint_ratio)
        longest = max(size)
        found: list[_Candidate] = []
        for entry in np.unique(votes.owner):
            if allowed is not None and int(entry) not in allowed:
                continue
            mine = votes.owner == entry
            if mine.sum() < s.logo_keypoint_min_inliers:
                continue
            logo_points, listing_points = votes.logo_points[mine], listing.points[votes.listing[mine]]
            fit = placement_from_matches(
                logo_points,
                listing_points,
                tolerance=s.logo_keypoint_tolerance * listing.unit,
                min_inliers=s.logo_keypoint_min_inliers,
            )
            if fit is None:
                continue
            guess, agree = fit
            inliers = int(agree.sum())
            corners = ls.entries[int(entry)].shape.ink_corners
            proj = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), guess).reshape(-1, 2)
            side = float(np.max(np.ptp(proj, axis=0)))
            if not 0.03 * longest <= side <= 0.8 * longest:  # a scale no pasted logo has
                continue
            centre = proj.mean(axis=0)
            found.append(
                _Candidate(
                    float(inliers),
                    int(entry),
                    guess,
                    1,
                    (float(centre[0]), float(centre[1])),
                    side,
                    inliers,
                    np.stack([logo_points[agree], listing_points[agree]], axis=1),
                )
            )
        found.sort(key=lambda c: -c.score)
        return found[: s.logo_keypoint_verify]

    def find(
        self,
        image: np.ndarray,
        allowed_brand: str | None = None,
        keypoints: Callable[[], ListingKeypoints | None] | None = None,
    ) -> list[tuple[_LogoEntry, LogoPlacement]]:
        """Verified (logo, placement) pairs in ``image`` (RGB or gray), best first, one per logo.

        ``keypoints`` supplies the copy check's ORB keypoints of the listing in ``image`` px
        (asked for after the template scan, so they may be computed meanwhile elsewhere); they
        are used with ``logo_keypoint_side: 0``, otherwise (or without them) keypoints are
        extracted here.
        """
        self.refresh()
        return self._find(self._set, image, allowed_brand, keypoints)

    def _find(
        self,
        ls: _LogoSet,
        image: np.ndarray,
        allowed_brand: str | None,
        keypoints: Callable[[], ListingKeypoints | None] | None,
    ) -> list[tuple[_LogoEntry, LogoPlacement]]:
        """:meth:`find` in the logo set ``ls`` (one set for the whole search, whatever a rebuild swaps in)."""
        if not ls.entries or ls.templates is None:
            return []
        allowed = None
        if allowed_brand is not None:
            allowed = {i for i, e in enumerate(ls.entries) if e.brand == allowed_brand}
            if not allowed:
                return []
        s = self.settings
        if image.ndim == 2:  # verification infers the logo's polarity from colour channels
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        levels = scan_levels(
            image,
            min_frac=s.logo_min_frac,
            max_frac=s.logo_max_frac,
            step=s.logo_scale_step,
            stride=s.logo_scan_stride,
        )
        with _single_blas():
            picked = self._pick(self._candidates(ls, levels, allowed))
        if s.logo_keypoints and len(ls.keypoints):
            own = keypoints is None or s.logo_keypoint_side  # finer keypoints than the copy check's
            listing = self.listing_keypoints(image) if own else keypoints()
            if listing is not None:
                # keypoint proposals are few and precise: they are verified first
                picked = self._keypoint_candidates(ls, listing, allowed, image.shape[:2]) + picked
        verified: list[tuple[int, LogoPlacement]] = []
        for c in picked:
            if any(e == c.entry for e, _ in verified):
                continue
            # one place shows one logo: where one was found (keypoint proposals first), another is not
            # looked for (dev: the same logos found for 3-9% less logo CPU; test: one wrong badge less)
            if any(_contains(p.box, c.centre) for _, p in verified):
                continue
            p = verify_placement(
                ls.entries[c.entry].shape,
                image,
                c.guess,
                polarity=c.polarity,
                iterations=s.logo_refine_steps,
                min_start=s.logo_min_start,
                contour=ls.entries[c.entry].contour,
                min_precoverage=s.logo_min_precoverage,
                coarse_refine=s.logo_coarse_refine,
            )
            # a placement the keypoints proposed needs less of its contour found
            if p is not None and (
                self._accepts(p) or (c.keypoints and p.coverage >= s.logo_keypoint_coverage)
            ):
                p.keypoints, p.pairs = c.keypoints, c.pairs
                verified.append((c.entry, p))
            elif c.keypoints >= s.logo_keypoint_sure:
                # so many keypoints agreeing on one placement are evidence enough, where the
                # silhouette check fails on thin lines and detail it cannot see
                verified.append((c.entry, self._keypoint_placement(ls.entries[c.entry], c, p)))
        # One place shows one logo: where found logos overlap, the best-fitting one stays.
        verified.sort(key=lambda t: (-t[1].coverage, -t[1].edges))
        found: list[tuple[_LogoEntry, LogoPlacement]] = []
        for pos, p in verified:
            if not any(_overlap(p.box, q.box) > 0.5 for _, q in found):
                found.append((ls.entries[pos], p))
        return found

    @staticmethod
    def _keypoint_placement(entry: _LogoEntry, c: _Candidate, checked: LogoPlacement | None) -> LogoPlacement:
        """The keypoints' own placement of candidate ``c`` (of logo ``entry``), with what the silhouette
        check measured (if it ran)."""
        corners = entry.shape.ink_corners
        outline = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), c.guess).reshape(-1, 2)
        return LogoPlacement(
            ncc=checked.ncc if checked else 0.0,
            uniformity=checked.uniformity if checked else 0.0,
            edges=checked.edges if checked else 0.0,
            homography=c.guess,
            outline=[[float(x), float(y)] for x, y in outline],
            coverage=checked.coverage if checked else 0.0,
            explained=checked.explained if checked else 0.0,
            keypoints=c.keypoints,
            verified=False,
            pairs=c.pairs,
        )

    def _keypoint_score(self, keypoints: int) -> float:
        """Score of a placement standing on its keypoints: 0.5 at ``logo_keypoint_sure`` of them, towards 1 with more."""
        return keypoints / (keypoints + self.settings.logo_keypoint_sure)

    def listing_keypoints(self, image: np.ndarray) -> ListingKeypoints:
        """The listing's ORB keypoints from the logo-search ``image``: as the copy check takes them, or
        at ``logo_keypoint_side`` px with ``logo_keypoint_nfeatures`` where that is set."""
        s = self.settings
        if s.logo_keypoint_side:
            side, n = s.logo_keypoint_side, s.logo_keypoint_nfeatures
        else:
            side, n = s.feature_max_side, s.local_nfeatures
        return keypoints_in_image(extract(image, max_side=side, nfeatures=n), 1.0)

    def _accepts(self, p: LogoPlacement) -> bool:
        """Whether a refined placement fits well enough to report: its contour found, the frame's edges its own.

        A contour found only just (below ``logo_sure_coverage``) is also what an unregistered mark of
        a similar outline leaves; there the whole frame must correlate with the silhouette too.
        """
        s = self.settings
        fits = (
            p.coverage >= s.logo_min_coverage
            and p.explained >= s.logo_min_explained
            and p.edges >= s.logo_min_edges
            and p.ncc >= s.logo_min_ncc
        )
        sure = p.coverage >= s.logo_sure_coverage or (
            p.ncc >= s.logo_borderline_ncc and p.edges >= s.logo_borderline_edges
        )
        return fits and sure

    def detect(
        self,
        rgb: np.ndarray,
        seller: str | None,
        authorised: dict[str, frozenset[str]],
        scale_to_original: float = 1.0,
        allowed_brand: str | None = None,
        features: Callable[[], LocalFeatures] | None = None,
    ) -> list[Match]:
        """Matches for logos found in ``rgb`` (an RGB listing), best first.

        ``features``: the listing's ORB keypoints from the copy check (of ``rgb``), to reuse.
        """
        self.refresh()
        ls = self._set
        if not ls.entries:
            return []
        image, gscale = listing_image(rgb, self.settings.logo_max_side)
        k = scale_to_original / gscale
        supplier = (lambda: keypoints_in_image(features(), gscale)) if features is not None else None
        matches = []
        for entry, p in self._find(ls, image, allowed_brand, supplier):
            ok = seller is not None and seller in authorised.get(entry.brand, frozenset())
            outline = [[x * k, y * k] for x, y in p.outline]
            xs, ys = [q[0] for q in outline], [q[1] for q in outline]
            matches.append(
                Match(
                    reference_id=entry.ref_id,
                    source=entry.source,
                    brand=entry.brand,
                    kind="logo",
                    score=float(p.coverage) if p.verified else self._keypoint_score(p.keypoints),
                    verdict="logo_authorised" if ok else "logo_misuse",
                    box=[min(xs), min(ys), max(xs), max(ys)],
                    outline=outline,
                    inliers=p.keypoints or EVIDENCE_POINTS,
                    ncc=p.ncc,
                    pairs=_evidence_pairs(entry, p, k),
                    signal="keypoints" if p.keypoints else "region",
                )
            )
        return matches


def keypoints_in_image(feats: LocalFeatures, gscale: float) -> ListingKeypoints:
    """ORB features of a listing as :class:`ListingKeypoints` of its logo-search image (``gscale`` of its px)."""
    unit = gscale / feats.scale
    return ListingKeypoints(feats.points * np.float32(unit), feats.descriptors, unit)


def _contains(box: list[float], point: tuple[float, float]) -> bool:
    """Whether ``point`` (x, y) lies in ``box`` [x0, y0, x1, y1]."""
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def _overlap(a: list[float], b: list[float]) -> float:
    """Intersection of two boxes over the smaller one's area."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / smaller if smaller > 0 else 0.0


def _evidence_pairs(entry: _LogoEntry, p: LogoPlacement, k: float) -> list:
    """Matched points [[ref_x, ref_y], [listing_x, listing_y]] in original pixels.

    The agreeing keypoint matches where keypoints proposed the placement; otherwise points on
    the logo's outline, placed by the verified homography.
    """
    if p.pairs is not None and len(p.pairs):
        chosen = p.pairs[np.linspace(0, len(p.pairs) - 1, min(EVIDENCE_POINTS, len(p.pairs))).astype(int)]
        ref = entry.shape.to_source(chosen[:, 0]) * entry.to_original
        listing = chosen[:, 1] * k
        return [
            [[float(rx), float(ry)], [float(lx), float(ly)]]
            for (rx, ry), (lx, ly) in zip(ref, listing, strict=True)
        ]
    mask = (entry.shape.mask > 0.5).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return []
    pts = np.concatenate([c.reshape(-1, 2) for c in contours]).astype(np.float32)
    pts = pts[np.linspace(0, len(pts) - 1, min(EVIDENCE_POINTS, len(pts))).astype(int)]
    listing = cv2.perspectiveTransform(pts.reshape(-1, 1, 2), p.homography).reshape(-1, 2) * k
    ref = entry.shape.to_source(pts) * entry.to_original
    return [
        [[float(rx), float(ry)], [float(lx), float(ly)]]
        for (rx, ry), (lx, ly) in zip(ref, listing, strict=True)
    ]
