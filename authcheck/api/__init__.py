"""The HTTP service: REST API (``/v1``) and reviewer web UI (``/ui``) over one authcheck home."""

from authcheck.api.app import ApiConfig, create_app

__all__ = ["ApiConfig", "create_app"]
