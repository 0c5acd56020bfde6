"""The Jinja2 environment of the web UI (autoescaping on) and its filters."""

from __future__ import annotations

import time

from fastapi.templating import Jinja2Templates
from jinja2 import Undefined

from authcheck.web import TEMPLATES_DIR


def when(ts: float | None) -> str:
    """A Unix time as a UTC date and time."""
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(ts)))


def score(value: float | None) -> str:
    """A score with three decimals ("-" when absent)."""
    if value is None or isinstance(value, Undefined):
        return "-"
    return f"{float(value):.3f}"


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.filters["when"] = when
templates.env.filters["score"] = score
