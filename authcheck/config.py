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

from vision.models import DEFAULT_MODEL


@dataclass
class Settings:
    """Tunable parameters; thresholds were calibrated on the dev split of the benchmark."""

    model: str = DEFAULT_MODEL
    index_backend: str = "flat"
    # Copy detection
    candidates: int = 5  # nearest references looked at per listing view
    accept_similarity: float = 0.62  # global cosine at or above this is a copy without verification
    verify_floor: float = 0.20  # below this the listing is not verified at all
    verify_top: int = 3  # candidates verified with local features
    min_inliers: int = 10
    min_ncc: float = 0.55
    # Image handling
    decode_max_side: int = 1024
    feature_max_side: int = 480
    stored_max_side: int = 1024
    # Logo detection
    logo_min_inliers: int = 8
    logo_min_ncc: float = 0.45
    ocr: bool = False

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
