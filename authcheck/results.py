"""Verdicts and the evidence that comes with them; the JSON shape every interface returns."""

from __future__ import annotations

from dataclasses import dataclass, field

# Ordered from most to least serious: a listing's verdict is its most serious finding.
VERDICTS = ("copy", "logo_misuse", "logo_authorised", "clean")
FLAGGED = ("copy", "logo_misuse")


@dataclass
class Match:
    """One reference that a listing resembles, with how and where."""

    reference_id: int | None  # None for a wordmark read by OCR (no reference image)
    source: str  # the reference's original path; for a wordmark, the registered text
    brand: str
    kind: str
    score: float
    similarity: float = 0.0  # global descriptor cosine
    verdict: str = "candidate"  # copy | logo_misuse | logo_authorised | candidate
    box: list[float] | None = None  # [x0, y0, x1, y1] in listing pixels
    outline: list[list[float]] | None = None  # projected reference corners
    inliers: int = 0
    ncc: float | None = None
    agreement: float | None = None  # share of aligned cells whose pixels agree (copies)
    mirrored: bool = False
    pairs: list = field(default_factory=list)  # matched keypoint pairs (reference px, listing px)
    # how it was found: descriptor | keypoints | pixels (dense alignment) | ocr | region (logo silhouette)
    signal: str = "descriptor"
    text: str | None = None  # the words read in the listing (wordmark matches)

    def to_dict(self, with_pairs: bool = False) -> dict:
        """JSON-ready dict; keypoint pairs only on request (they are long)."""
        out = {
            "reference_id": self.reference_id,
            "source": self.source,
            "brand": self.brand,
            "kind": self.kind,
            "score": round(self.score, 4),
            "similarity": round(self.similarity, 4),
            "verdict": self.verdict,
            "box": [round(v, 1) for v in self.box] if self.box else None,
            "inliers": self.inliers,
            "signal": self.signal,
        }
        if self.ncc is not None:
            out["ncc"] = round(self.ncc, 4)
        if self.agreement is not None:
            out["agreement"] = round(self.agreement, 4)
        if self.mirrored:
            out["mirrored"] = True
        if self.text is not None:
            out["text"] = self.text
        if with_pairs:
            out["outline"] = self.outline
            out["pairs"] = self.pairs
        return out


@dataclass
class ScreeningResult:
    """The verdict on one listing image."""

    image: str
    verdict: str = "clean"
    score: float = 0.0
    matches: list[Match] = field(default_factory=list)
    width: int = 0
    height: int = 0
    seller: str | None = None
    error: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    screening_id: int | None = None

    @property
    def flagged(self) -> bool:
        """Whether a reviewer should look at it."""
        return self.verdict in FLAGGED

    @property
    def brands(self) -> list[str]:
        """Brands whose references were matched (not mere candidates)."""
        return sorted({m.brand for m in self.matches if m.verdict != "candidate"})

    def to_dict(self, with_pairs: bool = False) -> dict:
        """The public JSON shape (one JSON Lines row of ``authcheck screen --json``)."""
        if self.error is not None:
            return {"image": self.image, "error": self.error}
        out: dict = {
            "image": self.image,
            "verdict": self.verdict,
            "score": round(self.score, 4),
            "matches": [m.to_dict(with_pairs) for m in self.matches],
        }
        if self.seller is not None:
            out["seller"] = self.seller
        if self.screening_id is not None:
            out["screening_id"] = self.screening_id
        if with_pairs:
            out["width"], out["height"] = self.width, self.height
        return out
