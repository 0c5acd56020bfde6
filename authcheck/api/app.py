"""The FastAPI application: versioned REST API under ``/v1``, reviewer web UI under ``/ui``.

One :class:`~authcheck.app.Authcheck` per process, created at startup and shared by all
requests (model, indexes and reference-feature cache stay loaded). Blocking work runs in
worker threads: screening through a limiter sized to the cores, registration through a
separate one, so registering never takes the slots screening needs. Other processes'
changes are picked up by ``Authcheck.screen`` (a cheap catalogue-generation check).
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from authcheck.api.uploads import BodyLimitMiddleware, UploadLimits
from authcheck.app import Authcheck
from authcheck.config import resolve_home
from index.catalogue import CatalogueError
from vision.text_reading import OCRUnavailableError

log = logging.getLogger(__name__)

ENV_HOME = "AUTHCHECK_HOME"
ENV_MODEL = "AUTHCHECK_MODEL"


@dataclass
class ApiConfig:
    """Service limits and tuning."""

    uploads: UploadLimits = field(default_factory=UploadLimits)
    screen_concurrency: int = field(default_factory=lambda: max(2, os.cpu_count() or 2))
    register_concurrency: int = 1
    session_hours: float = 12.0  # reviewer web sessions
    warm_up: bool = True  # load the model and indexes at startup rather than on the first request


def _version() -> str:
    try:
        return importlib.metadata.version("authcheck")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def _warm(app: Authcheck) -> None:
    """Load the descriptor and the index now, so the first request does not pay for it."""
    app.descriptor  # noqa: B018 - loads the model
    app.refresh()  # loads (or rebuilds) the catalogue index


def create_app(
    home: str | Path | None = None, *, model: str | None = None, config: ApiConfig | None = None
) -> FastAPI:
    """The service over ``home`` (default: ``$AUTHCHECK_HOME`` or ``./.authcheck``)."""
    # Imported here: the routes and the web UI import this package's auth and decisions modules.
    from authcheck.api.routes import ROUTERS
    from authcheck.web import STATIC_DIR
    from authcheck.web.routes import router as web_router
    from authcheck.web.session import load_session_secret

    home_path = resolve_home(home)
    cfg = config or ApiConfig()

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        core = await anyio.to_thread.run_sync(lambda: Authcheck(home_path, model=model))
        # logo changes are rebuilt beside the requests, not in one (11-16 s for 1,000 logos)
        core.logos.background = True
        if cfg.warm_up:
            await anyio.to_thread.run_sync(_warm, core)
        api.state.authcheck = core
        api.state.screen_limiter = anyio.CapacityLimiter(cfg.screen_concurrency)
        api.state.register_limiter = anyio.CapacityLimiter(cfg.register_concurrency)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(core.close)

    api = FastAPI(
        title="authcheck",
        version=_version(),
        description=(
            "Screen marketplace listing images for copied catalogue shots and logo misuse; brands manage "
            "their references; reviewers work the queue of flagged listings (web UI at /ui). "
            "Authenticate with `Authorization: Bearer <key>` or `X-API-Key: <key>`."
        ),
        lifespan=lifespan,
    )
    api.state.config = cfg
    api.state.session_secret = load_session_secret(home_path)
    api.add_middleware(BodyLimitMiddleware, max_bytes=cfg.uploads.max_request_bytes)
    _add_error_handlers(api)
    for router in ROUTERS:
        api.include_router(router, prefix="/v1")
    api.include_router(web_router)
    api.mount("/ui/static", StaticFiles(directory=STATIC_DIR), name="static")

    @api.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=307)

    return api


def create_app_from_env() -> FastAPI:
    """App factory for ``uvicorn --factory`` and multi-worker serving: home and model from the environment."""
    return create_app(os.environ.get(ENV_HOME), model=os.environ.get(ENV_MODEL) or None)


def _add_error_handlers(api: FastAPI) -> None:
    """Every error is JSON ``{"error": message}`` (plus ``problems`` on bad input); no traceback leaks."""

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @api.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{p['field'] or 'body'}: {p['message']}" for p in problems[:5])
        return JSONResponse({"error": f"invalid request: {summary}", "problems": problems}, status_code=422)

    @api.exception_handler(CatalogueError)
    async def catalogue_error(request: Request, exc: CatalogueError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=400)

    @api.exception_handler(OCRUnavailableError)
    async def ocr_unavailable(request: Request, exc: OCRUnavailableError) -> JSONResponse:
        return JSONResponse({"error": f"this server cannot read text: {exc}"}, status_code=501)

    @api.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": "internal error; the server log has the details"}, status_code=500)
