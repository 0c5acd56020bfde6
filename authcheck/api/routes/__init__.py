"""REST routes, one module per resource; all mounted under ``/v1``."""

from authcheck.api.routes import brands, keys, meta, references, screening

ROUTERS = [meta.router, keys.router, brands.router, references.router, screening.router]

__all__ = ["ROUTERS"]
