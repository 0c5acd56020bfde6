#!/usr/bin/env python3
"""Export trained descriptor weights to ONNX, check them against torch, and register the model.

    python scripts/export_descriptor.py runs/lite0/weights.pt --out runs/lite0/model.onnx \\
        --register lite0_ours --home .authcheck
    authcheck --model lite0_ours reindex     # re-embed an existing catalogue with it

The ONNX file takes uint8 RGB (batch, S, S, 3) and returns unit vectors, like the default
model. The largest torch-vs-onnxruntime difference is printed; export fails above --tolerance.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from descriptor_training.export import (  # noqa: E402
    DEFAULT_LICENCE,
    export_onnx,
    load_weights,
    parity,
    sample_images,
)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, export, check, and optionally register."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("weights", help="weights.pt (or last.pt) written by train_descriptor.py")
    parser.add_argument("--out", help="ONNX file to write (default: beside the weights, model.onnx)")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="max |torch - onnx| allowed")
    parser.add_argument("--register", metavar="NAME", help="register the model under this name")
    parser.add_argument("--home", help="authcheck home whose models/ receives it (default: $AUTHCHECK_HOME)")
    parser.add_argument("--licence", default=DEFAULT_LICENCE)
    parser.add_argument("--training-data", help="what it was trained on (default: from the weights file)")
    parser.add_argument("--description", default="")
    args = parser.parse_args(argv)

    model, meta = load_weights(args.weights)
    config, info = meta["config"], meta["train"]
    size = int(config["input_size"])
    out = Path(args.out) if args.out else Path(args.weights).with_name("model.onnx")
    export_onnx(model, out, size)
    diff = parity(model, out, sample_images(size))
    print(
        f"exported {out} ({out.stat().st_size / 2**20:.1f} MiB): {config['arch']}, {config['dim']}-d, "
        f"{size}px; max |torch - onnx| = {diff:.2e}"
    )
    if diff > args.tolerance:
        print(f"error: ONNX output differs from torch by {diff:.2e} (> {args.tolerance})", file=sys.stderr)
        return 1
    if not args.register:
        return 0

    from vision.models import register_model

    training_data = args.training_data or (
        f"self-supervised (SSCD-style copy edits) on {info.get('images', '?')} images from "
        f"{', '.join(map(str, info.get('sources', []))) or 'a private folder'}"
    )
    description = args.description or (
        f"{config['arch']} + GeM + linear, trained {info.get('steps', '?')} steps "
        f"({info.get('seconds', '?')} s on {info.get('hardware', '?')})"
    )
    card = register_model(
        out,
        name=args.register,
        dim=int(config["dim"]),
        input_size=size,
        licence=args.licence,
        training_data=training_data,
        description=description,
        home=args.home,
        extra={
            "arch": config["arch"],
            "parity_max_abs": diff,
            "train": {k: info[k] for k in ("steps", "seconds", "images", "hardware", "torch") if k in info},
        },
    )
    print(f"registered model {card.name!r} at {card.path} (sha256 {card.sha256[:12]}...)")
    print(json.dumps({"name": card.name, "dim": card.dim, "input_size": card.input_size}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
