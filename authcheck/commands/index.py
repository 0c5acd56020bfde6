"""``authcheck index info`` and ``authcheck index rebuild``: inspect and rebuild the vector index.

The index is derived from the catalogue, so a rebuild is always safe: it streams the
catalogue's vectors, trains an IVF index on a sample when the backend (or ``auto``)
calls for one, tunes ``nprobe`` against exact search and writes the measurements into
the infos file beside the index.
"""

from __future__ import annotations

import argparse
import json
import sys

from authcheck.commands.common import UsageError, opened_app
from index.backends import BACKENDS


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``index`` command group."""
    p = sub.add_parser("index", help="inspect or rebuild the vector index")
    isub = p.add_subparsers(dest="index_command", metavar="ACTION")
    isub.required = True

    info = isub.add_parser("info", help="index kind, parameters, size, measured recall and latency")
    info.add_argument("--json", action="store_true", help="print the infos as JSON")
    info.set_defaults(func=_info)

    rb = isub.add_parser("rebuild", help="rebuild (and retrain) the index from the catalogue")
    rb.add_argument("--backend", choices=BACKENDS, help="switch backend (saved to config.json) and rebuild")
    rb.add_argument(
        "--target-recall", type=float, help="recall@1 against exact search that nprobe is tuned to"
    )
    rb.add_argument("--no-measure", action="store_true", help="skip tuning and measuring (faster)")
    rb.add_argument("--json", action="store_true", help="print the new infos as JSON")
    rb.set_defaults(func=_rebuild)


def _state(app) -> dict:
    """Infos on disk plus what the catalogue says now."""
    from index.choose import IndexOptions, rebuild_advice
    from index.vector_index import read_infos

    space = app.catalogue_space
    infos = read_infos(space.infos_path) or {}
    want = app.catalogue.generation(space.name)
    backend = app.settings.index_backend
    options = IndexOptions.from_mapping(app.settings.to_dict())
    return {
        "space": space.name,
        "backend": backend,
        "catalogue_references": len(app.catalogue.vector_ids(space.name)),
        "catalogue_generation": want,
        "index_file": str(space.index_path),
        "index_file_bytes": space.index_path.stat().st_size if space.index_path.exists() else 0,
        "current": bool(infos) and infos.get("generation") == want,
        "advice": rebuild_advice(infos, backend, options),
        "infos": infos,
    }


def _print_state(state: dict) -> None:
    infos = state["infos"]
    print(f"space       {state['space']}  (backend {state['backend']})")
    if not infos:
        print("index       none yet (built from the catalogue on first use)")
    else:
        params = ", ".join(f"{k}={infos[k]}" for k in ("nlist", "nprobe", "trained_on") if infos.get(k))
        print(
            f"index       {infos.get('kind')}  {infos.get('index_key', infos.get('collection', ''))}  {params}"
        )
        lag = "current" if state["current"] else f"behind (index at {infos.get('generation')})"
        print(
            f"vectors     {infos.get('count')}  (catalogue: {state['catalogue_references']} references, "
            f"generation {state['catalogue_generation']}: {lag})"
        )
        if infos.get("bytes_estimate"):
            print(f"memory      ~{infos['bytes_estimate'] / 2**30:.2f} GiB (estimate)")
        if state["index_file_bytes"]:
            print(f"file        {state['index_file']} ({state['index_file_bytes'] / 2**20:.1f} MiB)")
        m = infos.get("measured") or {}
        if "recall_at_1" in m:
            print(
                f"measured    recall@1 {m['recall_at_1']} against exact ({m.get('queries')} queries), "
                f"search p50 {m.get('search_ms_p50')} ms, p95 {m.get('search_ms_p95')} ms; "
                f"built in {m.get('build_seconds')} s"
            )
    print(f"advice      {state['advice'] or 'none'}")


def _show(state: dict, as_json: bool) -> int:
    """Print the index state as JSON or as the readable block; exit code 0."""
    if as_json:
        print(json.dumps(state, indent=2, sort_keys=True))
    else:
        _print_state(state)
    return 0


def _info(args: argparse.Namespace) -> int:
    with opened_app(args) as app:
        state = _state(app)
    return _show(state, args.json)


def _save_backend(args: argparse.Namespace, backend: str) -> None:
    """Record the backend in ``<home>/config.json`` (the index must be rebuilt as what config says)."""
    from authcheck.config import resolve_home
    from index.vector_index import atomic_write_bytes

    path = resolve_home(args.home) / "config.json"
    try:
        data = json.loads(path.read_text()) if path.exists() else {}
    except ValueError as exc:
        raise UsageError(f"{path} is not valid JSON: {exc}") from exc
    data["index_backend"] = backend
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
    print(f"index_backend = {backend!r} saved to {path}", file=sys.stderr)


def _rebuild(args: argparse.Namespace) -> int:
    if args.backend:
        _save_backend(args, args.backend)
    options: dict = {"measure": not args.no_measure}
    if args.target_recall is not None:
        if not 0 < args.target_recall <= 1:
            raise UsageError("--target-recall must be in (0, 1]")
        options["target_recall"] = args.target_recall
    with opened_app(args) as app:
        with app.write_lock():
            app.catalogue_space.rebuild(**options)
        state = _state(app)
    return _show(state, args.json)
