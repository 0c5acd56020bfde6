"""Logo misuse policy: find registered logos in a listing and judge them against the seller.

A registered logo found in the listing is ``logo_misuse`` unless the listing's seller is
authorised by the logo's brand (then ``logo_authorised``: reported, not flagged).
The per-logo renderings and features are derived from the stored reference copies and
rebuilt whenever the catalogue's logo references change.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from authcheck.config import Settings
from authcheck.refstore import ReferenceStore
from authcheck.results import Match
from index.catalogue import Catalogue
from vision.logo_features import LogoRendering, listing_gray, locate_logo, logo_renderings, orb_features

LOGO_SPACE = "logo_shapes"


@dataclass
class _LogoEntry:
    ref_id: int
    brand: str
    source: str
    renderings: list[LogoRendering]


class LogoDetector:
    """Finds registered logos inside listing images."""

    def __init__(self, catalogue: Catalogue, refs: ReferenceStore, settings: Settings) -> None:
        self.catalogue = catalogue
        self.refs = refs
        self.settings = settings
        self._entries: list[_LogoEntry] = []
        self._generation = -1
        self._lock = threading.Lock()

    def _generation_now(self) -> int:
        return self.catalogue.generation(f"logo:{self.catalogue.get_meta('model')}")

    def refresh(self) -> None:
        """Reload logo renderings if logos were added or removed."""
        gen = self._generation_now()
        with self._lock:
            if gen == self._generation:
                return
            entries = []
            for ref in self.catalogue.list_references(kind="logo", limit=1_000_000):
                img = self.refs.load(ref.stored_path)
                entries.append(_LogoEntry(ref.id, ref.brand, ref.source, logo_renderings(img.rgb, img.alpha)))
            self._entries, self._generation = entries, gen

    def __len__(self) -> int:
        return len(self._entries)

    def detect(
        self,
        rgb: np.ndarray,
        seller: str | None,
        authorised: dict[str, frozenset[str]],
        scale_to_original: float = 1.0,
        allowed_brand: str | None = None,
    ) -> list[Match]:
        """Matches for logos found in ``rgb`` (an RGB listing), best first."""
        self.refresh()
        if not self._entries:
            return []
        s = self.settings
        gray, gscale = listing_gray(rgb, 800)
        feats = orb_features(gray, 3000)
        k = scale_to_original / gscale
        found: list[Match] = []
        for entry in self._entries:
            if allowed_brand is not None and entry.brand != allowed_brand:
                continue
            best = None
            for rendering in entry.renderings:
                p = locate_logo(rendering, gray, feats, min_inliers=s.logo_min_inliers)
                if p is not None and p.ncc >= s.logo_min_ncc and (best is None or p.inliers > best.inliers):
                    best = p
            if best is None:
                continue
            ok = seller is not None and seller in authorised.get(entry.brand, frozenset())
            outline = [[x * k, y * k] for x, y in best.outline]
            xs, ys = [p[0] for p in outline], [p[1] for p in outline]
            found.append(
                Match(
                    reference_id=entry.ref_id,
                    source=entry.source,
                    brand=entry.brand,
                    kind="logo",
                    score=float(min(1.0, 0.5 + 0.3 * min(1.0, best.inliers / 30) + 0.2 * best.ncc)),
                    verdict="logo_authorised" if ok else "logo_misuse",
                    box=[min(xs), min(ys), max(xs), max(ys)],
                    outline=outline,
                    inliers=best.inliers,
                    ncc=best.ncc,
                    pairs=[[list(r), [lx * k, ly * k]] for r, (lx, ly) in best.pairs],
                    signal="keypoints",
                )
            )
        found.sort(key=lambda m: -m.score)
        return found
