"""The reviewer web UI: server-rendered pages for the queue of flagged listings and each case."""

from pathlib import Path

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

__all__ = ["STATIC_DIR", "TEMPLATES_DIR"]
