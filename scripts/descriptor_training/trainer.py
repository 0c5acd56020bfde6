"""The training loop: batches of view pairs, AdamW with warm-up and cosine decay, checkpoints, resume.

Runs on the CPU, or on a CUDA GPU when there is one (bf16 autocast, channels-last). The
learning-rate schedule follows whichever budget runs out first, steps or wall-clock
minutes, so a time-boxed run still ends with a fully decayed rate. ``<out>/last.pt`` holds
everything needed to resume; ``<out>/weights.pt`` is the slim result that
:mod:`.export` turns into ONNX.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from .data import EndlessSampler, PairDataset, list_images
from .loss import CopyDetectionLoss
from .model import build_model, model_config


@dataclass
class TrainConfig:
    """Everything a run depends on (saved in its checkpoints)."""

    images: list[str]
    out: str
    arch: str = "efficientnet_lite0"
    dim: int = 256
    size: int = 224
    batch: int = 64  # images per step (each gives two views)
    steps: int = 2000
    max_minutes: float | None = None
    lr: float = 5e-4
    weight_decay: float = 1e-4
    warmup: float = 0.05  # share of the run spent warming up
    temperature: float = 0.05
    entropy_weight: float = 30.0
    pretrained: bool = True
    init_weights: str | None = None
    workers: int | None = None
    device: str | None = None
    threads: int | None = None  # torch CPU threads (1 is fastest on a busy machine)
    checkpoint_every: int = 250
    log_every: int = 25
    seed: int = 0
    extra: dict = field(default_factory=dict)


def pick_device(name: str | None) -> torch.device:
    """``name`` if given, else CUDA when available, else the CPU."""
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def hardware(device: torch.device) -> str:
    """A short description of what the run trains on."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA), {os.cpu_count()} CPU cores"
    cpu = platform.processor() or platform.machine()
    return f"CPU ({cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_factor(progress: float, warmup: float) -> float:
    """Linear warm-up over the first ``warmup`` of the run, then cosine decay to zero."""
    if progress < warmup:
        return max(progress / warmup, 1e-3)
    t = min(1.0, (progress - warmup) / max(1e-9, 1.0 - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * t))


def _atomic_save(obj: dict, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


class Progress:
    """A tqdm bar on a terminal, plain log lines otherwise (e.g. in CI or on a remote machine)."""

    def __init__(self, total: int, start: int, enabled: bool = True):
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)

    def update(self, step: int, stats: dict, log_line: bool) -> None:
        """Show the latest statistics."""
        if self.bar is not None:
            self.bar.n = step
            self.bar.set_postfix(
                {k: f"{v:.3g}" for k, v in stats.items() if k in ("loss", "pos", "neg", "top1", "img/s")}
            )
        elif log_line:
            print(json.dumps({"step": step, **{k: round(v, 4) for k, v in stats.items()}}), flush=True)

    def close(self) -> None:
        """Finish the bar."""
        if self.bar is not None:
            self.bar.close()


def train(cfg: TrainConfig, show_progress: bool = True) -> Path:
    """Train (or resume) the run in ``cfg.out``; returns the path of ``weights.pt``."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    device = pick_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    files = list_images(cfg.images)
    if len(files) < 2:
        raise SystemExit(f"need at least 2 training images under {cfg.images}, found {len(files)}")
    batch = min(cfg.batch, len(files))
    dataset = PairDataset(files, cfg.size)
    workers = cfg.workers if cfg.workers is not None else min(max(0, (os.cpu_count() or 1) - 1), 14)
    model = build_model(cfg.arch, cfg.dim, cfg.pretrained, cfg.init_weights).to(device)
    cuda = device.type == "cuda"
    if cuda:
        model = model.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    criterion = CopyDetectionLoss(cfg.temperature, cfg.entropy_weight)
    optimiser = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.lr)

    step, elapsed = 0, 0.0
    last = out / "last.pt"
    if last.exists():
        ckpt = torch.load(last, map_location=device, weights_only=False)
        model.load_state_dict(ckpt["model"])
        optimiser.load_state_dict(ckpt["optimiser"])
        step, elapsed = int(ckpt["step"]), float(ckpt["elapsed"])
        print(f"resuming {last} at step {step} ({elapsed / 60:.1f} min trained)", flush=True)

    loader = DataLoader(
        dataset,
        batch_size=batch,
        sampler=EndlessSampler(len(dataset), cfg.seed * 100_003 + step),  # a new order after a resume
        drop_last=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        prefetch_factor=4 if workers > 0 else None,
    )

    budget_s = cfg.max_minutes * 60 if cfg.max_minutes else None

    def progress_now(seconds: float) -> float:
        frac = step / cfg.steps
        return max(frac, seconds / budget_s) if budget_s else frac

    def checkpoint(seconds: float) -> None:
        _atomic_save(
            {
                "model": model.state_dict(),
                "optimiser": optimiser.state_dict(),
                "step": step,
                "elapsed": seconds,
                "config": asdict(cfg),
            },
            last,
        )

    print(
        f"training {cfg.arch} ({cfg.dim}-d, {cfg.size}px) on {len(files)} images, batch {batch} pairs, "
        f"{workers} loader workers, on {hardware(device)}",
        flush=True,
    )
    bar = Progress(cfg.steps, step, show_progress)
    model.train()
    t_start = time.perf_counter() - elapsed
    t_log, n_log = time.perf_counter(), 0
    stats: dict[str, float] = {}
    done = progress_now(elapsed) >= 1.0
    while not done:
        for a, b in loader:
            views = torch.cat([a, b]).to(device, non_blocking=True)  # uint8 NHWC: channels-last already
            now = time.perf_counter() - t_start
            for group in optimiser.param_groups:
                group["lr"] = cfg.lr * lr_factor(progress_now(now), cfg.warmup)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=cuda):
                z = model(views)
            loss, stats = criterion(z)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimiser.step()
            step += 1
            n_log += len(views) // 2
            log_now = step % cfg.log_every == 0
            if log_now or bar.bar is not None:
                dt = time.perf_counter() - t_log
                stats["img/s"] = n_log / dt if dt > 0 else 0.0
                stats["lr"] = optimiser.param_groups[0]["lr"]
                stats["min"] = (time.perf_counter() - t_start) / 60
                if log_now:
                    t_log, n_log = time.perf_counter(), 0
            bar.update(step, stats, log_now)
            if not math.isfinite(stats["loss"]):
                raise FloatingPointError(f"loss became {stats['loss']} at step {step}")
            now = time.perf_counter() - t_start
            if step % cfg.checkpoint_every == 0:
                checkpoint(now)
            if progress_now(now) >= 1.0:
                done = True
                break
    bar.close()
    seconds = time.perf_counter() - t_start
    checkpoint(seconds)
    weights = out / "weights.pt"
    _atomic_save(
        {
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "config": model_config(cfg.arch, cfg.dim) | {"input_size": cfg.size},
            "train": {
                "steps": step,
                "seconds": round(seconds, 1),
                "images": len(files),
                "batch_pairs": batch,
                "hardware": hardware(device),
                "torch": torch.__version__,
                "final": stats,
                "sources": cfg.images,
                "settings": asdict(cfg),
            },
        },
        weights,
    )
    print(f"done: {step} steps in {seconds / 60:.1f} min; weights in {weights}", flush=True)
    return weights
