"""``authcheck serve``: the HTTP API (``/v1``, docs at ``/docs``) and the reviewer web UI (``/ui``)."""

from __future__ import annotations

import argparse
import os

from authcheck.commands.common import UsageError, opened_app


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``serve`` command."""
    p = sub.add_parser("serve", help="run the HTTP API and the reviewer web UI")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="processes, each with its own model and indexes")
    p.add_argument(
        "--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug")
    )
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from authcheck.api.app import ENV_HOME, ENV_MODEL, create_app_from_env
    except ImportError as exc:  # the api extra is not installed
        raise UsageError(
            f"the HTTP service needs the api extra: pip install 'authcheck[api]' ({exc})"
        ) from exc
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    # Open the home once here so a bad home or model fails now, with a one-line error.
    with opened_app(args) as core:
        home, has_keys = core.home, bool(core.catalogue.list_api_keys())
    # Workers are separate processes that build the app from the environment.
    os.environ[ENV_HOME] = str(home)
    if args.model:
        os.environ[ENV_MODEL] = args.model
    if not has_keys:
        print("no API keys yet: create one with `authcheck keys create --role admin`")
    print(f"authcheck: serving {home} on http://{args.host}:{args.port} (API docs /docs, review queue /ui)")
    if args.workers == 1:
        uvicorn.run(create_app_from_env(), host=args.host, port=args.port, log_level=args.log_level)
    else:
        uvicorn.run(
            "authcheck.api.app:create_app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
        )
    return 0
