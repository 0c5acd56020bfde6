"""Copy detection policy: nearest catalogue shots by global descriptor, then verification.

1. Each listing view (full, border-trimmed, ...) is embedded; the nearest catalogue
   references of every view are merged, keeping each reference's best similarity. The
   caller may check the full view alone first and add the others when it finds no copy:
   alignments already tried are kept in the :class:`ListingInput` and not redone.
2. A reference at or above ``accept_similarity`` is a copy outright (SSCD is built for this).
3. References between ``verify_floor`` and that are checked with local features: a
   RANSAC similarity transform with enough inliers, *and* pixels that agree after
   alignment (NCC), so another photo of the same subject is not called a copy.
4. Where keypoints find no transform (smooth, low-texture shots; heavy blur), the best
   candidate is placed by correlating its pixels (:mod:`vision.dense_alignment`) and
   checked the same way, with a stricter whole-overlap correlation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from authcheck.config import Settings
from authcheck.refstore import ReferenceStore
from authcheck.results import Match
from index.catalogue import Catalogue
from index.space import VectorSpace
from vision.dense_alignment import verify_dense
from vision.local_features import LocalFeatures, Verification, extract, verify

T = TypeVar("T")


@dataclass
class ListingInput:
    """A decoded listing with its embedded views."""

    rgb: np.ndarray
    vectors: np.ndarray | None = None  # (V, D), one row per view
    scale_to_original: float = 1.0  # multiply listing-pixel coordinates by this for the original
    _features: dict[tuple[str, int], LocalFeatures] = field(default_factory=dict)
    _tried: dict[tuple[str, Any], Any] = field(default_factory=dict)

    def once(self, key: tuple[str, Any], make: Callable[[], T]) -> T:
        """``make()``, computed once per ``key`` for this listing (an alignment tried with a
        reference: a second look with more views reuses it)."""
        if key not in self._tried:
            self._tried[key] = make()
        return self._tried[key]

    def features(self, max_side: int, method: str, nfeatures: int) -> LocalFeatures:
        """Local features of the listing, computed once per method and size (mirroring is done on the reference)."""
        key = (method, max_side)
        if key not in self._features:
            self._features[key] = extract(self.rgb, max_side=max_side, nfeatures=nfeatures, method=method)
        return self._features[key]


@dataclass(frozen=True)
class _Attempt:
    method: str  # local feature kind
    side: int  # long side of both images for feature extraction, px
    ref_nfeatures: int
    mirror: bool  # match the mirrored reference


@dataclass
class _Oriented:
    result: Verification
    mirrored: bool
    signal: str = "keypoints"  # how it was aligned: keypoints | pixels (dense)
    correlation: float = 0.0  # dense alignment only: template correlation

    @property
    def aligned(self) -> bool:
        """Whether a transform was found (and the pixels checked)."""
        return self.result.transform is not None


def verification_score(similarity: float, v: Verification, correlation: float = 0.0) -> float:
    """Confidence in [0, 1] that a verified candidate is a copy.

    Geometric support is the keypoint inliers or, for a dense alignment, its correlation.
    """
    geo = max(min(1.0, v.inliers / 40.0), correlation)
    return float(min(1.0, 0.5 + 0.2 * geo + 0.3 * v.agreement + 0.2 * max(0.0, similarity)))


class CopyDetector:
    """Finds which registered catalogue shots a listing copies."""

    def __init__(self, space: VectorSpace, catalogue: Catalogue, refs: ReferenceStore, settings: Settings):
        self.space = space
        self.catalogue = catalogue
        self.refs = refs
        self.settings = settings

    def extract_features(self, listing: ListingInput) -> LocalFeatures:
        """The listing's keypoints for the first verification plan (computed once, ahead of time)."""
        s = self.settings
        return listing.features(s.feature_max_side, s.local_features, s.local_nfeatures)

    def candidates(
        self, vectors: np.ndarray, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float, int]]:
        """(ref_id, best similarity, view index) over all views, best first."""
        best: dict[int, tuple[float, int]] = {}
        for view, hits in enumerate(self.space.search(vectors, self.settings.candidates, allowed)):
            for rid, sim, _ in hits:
                if rid not in best or sim > best[rid][0]:
                    best[rid] = (sim, view)
        ranked = sorted(best.items(), key=lambda kv: -kv[1][0])
        return [(rid, sim, view) for rid, (sim, view) in ranked[: self.settings.candidates]]

    def _verify(
        self, listing: ListingInput, ref_path: str, ref_width: int, attempt: _Attempt
    ) -> Verification:
        """Match the reference (mirrored when the attempt says so) into the listing.

        Reference points of the result are in original reference pixels, unmirrored.
        """
        return listing.once((ref_path, attempt), lambda: self._align(listing, ref_path, ref_width, attempt))

    def _align(self, listing: ListingInput, ref_path: str, ref_width: int, attempt: _Attempt) -> Verification:
        """What :meth:`_verify` returns, computed."""
        s = self.settings
        ref_feats = self._ref_features(ref_path, attempt)
        lis_feats = listing.features(attempt.side, attempt.method, s.local_nfeatures)
        v = verify(ref_feats, lis_feats, model="similarity", min_inliers=s.min_inliers)
        # verify() reports reference points in stored-copy pixels; evidence wants original pixels.
        stored_w = ref_feats.size[0] / ref_feats.scale
        k = ref_width / stored_w
        if v.pairs and (attempt.mirror or abs(k - 1.0) > 1e-3):
            v.pairs = [
                (((stored_w - rx) * k if attempt.mirror else rx * k, ry * k), lp) for (rx, ry), lp in v.pairs
            ]
        return v

    def _ref_features(self, ref_path: str, attempt: _Attempt) -> LocalFeatures:
        """The stored reference's features for an attempt (cached by the reference store)."""
        return self.refs.features(
            ref_path,
            method=attempt.method,
            nfeatures=attempt.ref_nfeatures,
            mirror=attempt.mirror,
            max_side=attempt.side,
        )

    def _first_plan_features(self, ref_path: str) -> list[LocalFeatures]:
        """A reference's features for the first (cheapest) plan, as is and mirrored."""
        first = self._plans(0.0)[0]
        return [self._ref_features(ref_path, _Attempt(*first, mirror=m)) for m in (False, True)]

    def prepare_reference(self, ref_path: str) -> None:
        """Extract (and store beside it) a reference's keypoints for the first plan, as is and mirrored."""
        self._first_plan_features(ref_path)

    def _plans(self, similarity: float) -> list[tuple[str, int, int]]:
        """(feature kind, image side, reference keypoints) to verify with, cheapest first.

        Every candidate gets fast features; similar ones also a reference with more keypoints
        (pasted, rotated and overlaid copies keep only part of the reference's keypoints), a
        coarse scale (heavy blur leaves few keypoints at full scale) and the fallback features.
        """
        s = self.settings
        plans = [(s.local_features, s.feature_max_side, s.ref_nfeatures)]
        if s.rich_ref_nfeatures and similarity >= s.rich_floor:
            plans.append((s.local_features, s.feature_max_side, s.rich_ref_nfeatures))
        if s.coarse_max_side and similarity >= s.coarse_floor:
            plans.append((s.local_features, s.coarse_max_side, s.ref_nfeatures))
        if s.fallback_features and similarity >= s.fallback_floor:
            plans.append((s.fallback_features, s.feature_max_side, s.fallback_ref_nfeatures))
        return plans

    def _best_orientation(
        self, listing: ListingInput, ref_path: str, ref_width: int, similarity: float, thorough: bool = True
    ) -> _Oriented:
        """The best verification over the plans, each as is and mirrored, stopping at the first copy.

        A plan whose best transform is well supported (``settled_inliers``) but whose pixels
        disagree ends the search: that is a re-shot of the subject, and coarser or other
        features would only find a looser alignment to excuse it. When keypoints find no
        transform at all (little texture, heavy blur), the reference is placed by its pixels.
        Without ``thorough``, only the first (cheapest) plan is tried, and only as is.
        """
        s = self.settings
        best: _Oriented | None = None
        plans = self._plans(similarity)
        for method, side, n_ref in plans if thorough else plans[:1]:
            for mirror in (False, True) if thorough else (False,):
                attempt = _Attempt(method, side, n_ref, mirror)
                got = _Oriented(self._verify(listing, ref_path, ref_width, attempt), mirror)
                if best is None or self._rank(got) > self._rank(best):
                    best = got
                if self._is_copy(best):
                    return best
            assert best is not None
            if best.result.inliers >= s.settled_inliers:
                return best
        assert best is not None
        if thorough and s.dense_floor and similarity >= s.dense_floor and not best.aligned:
            dense = self._verify_dense(listing, ref_path)
            if self._rank(dense) > self._rank(best):
                best = dense
        return best

    def _is_copy(self, o: _Oriented) -> bool:
        """An alignment whose pixels agree; without keypoint support the whole overlap must correlate too."""
        s = self.settings
        if not o.aligned or o.result.agreement < s.min_agreement:
            return False
        return o.signal != "pixels" or o.result.ncc >= s.dense_min_ncc

    def _verify_dense(self, listing: ListingInput, ref_path: str) -> _Oriented:
        """Place the reference (as is or mirrored) in the listing by correlating its pixels."""

        def place() -> _Oriented:
            views = self._first_plan_features(ref_path)  # already cached by the keypoint attempts
            which, v, corr = verify_dense(
                views, self.extract_features(listing), min_correlation=self.settings.dense_min_correlation
            )
            return _Oriented(v, which == 1, signal="pixels", correlation=corr)

        return listing.once((ref_path, "dense"), place)

    def _rank(self, o: _Oriented) -> tuple[float, int, float]:
        return (o.result.agreement if o.aligned else -1.0, o.result.inliers, o.correlation)

    @staticmethod
    def _attach_region(m: Match, v: Verification, k: float) -> None:
        """Outline, box and keypoint pairs of a verified match, in original listing pixels."""
        m.outline = [[x * k, y * k] for x, y in v.outline]
        xs, ys = [p[0] for p in m.outline], [p[1] for p in m.outline]
        m.box = [min(xs), min(ys), max(xs), max(ys)]
        m.pairs = [[list(r), [lx * k, ly * k]] for r, (lx, ly) in v.pairs]

    def detect(self, listing: ListingInput, allowed: np.ndarray | None = None) -> list[Match]:
        """Matches for the listing's nearest catalogue shots, verdict ``copy`` where verified."""
        s = self.settings
        if listing.vectors is None:
            raise ValueError("listing has no descriptors yet")
        cands = self.candidates(listing.vectors, allowed)
        refs = self.catalogue.get_references(rid for rid, _, _ in cands)
        matches: list[Match] = []
        verified_any = False
        for rank, (rid, sim, _view) in enumerate(cands):
            ref = refs.get(rid)
            if ref is None:  # removed since the index was read
                continue
            m = Match(
                reference_id=rid,
                source=ref.source,
                brand=ref.brand,
                kind=ref.kind,
                score=max(0.0, sim),
                similarity=sim,
            )
            matches.append(m)
            # Verify the best few candidates; lower ones only while nothing has been confirmed.
            if sim < s.verify_floor or rank >= s.verify_top or (verified_any and sim < s.accept_similarity):
                continue
            thorough = rank < s.thorough_top or sim >= s.rich_floor
            v = self._best_orientation(listing, ref.stored_path, ref.width, sim, thorough)
            m.mirrored = v.mirrored
            m.inliers, m.ncc, m.agreement = v.result.inliers, v.result.ncc, v.result.agreement
            # Aligned pixels that agree make a copy. Failing that, a high descriptor similarity
            # does, unless a well-supported keypoint transform showed the pixels disagree
            # (a re-shot of the subject).
            vetoed = v.signal == "keypoints" and v.aligned and v.result.inliers >= s.settled_inliers
            verified = self._is_copy(v)
            if verified or (sim >= s.accept_similarity and not vetoed):
                m.verdict = "copy"
                m.signal = v.signal if verified else "descriptor"
                if verified:
                    m.score = max(m.score, verification_score(sim, v.result, v.correlation))
                    if v.result.outline:
                        self._attach_region(m, v.result, listing.scale_to_original)
                verified_any = True
        matches.sort(key=lambda m: (m.verdict != "copy", -m.score))
        return matches
