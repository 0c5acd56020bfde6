"""Switching a catalogue to another descriptor model: `authcheck reindex`, `authcheck models`, mismatches.

The second model is a tiny hand-built ONNX descriptor (a random projection of a centred 8x8
thumbnail, unit length), so these tests need the ``onnx`` package but not torch. Real parts
otherwise: the SSCD default model, SQLite and FAISS files, stored reference copies.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from authcheck.app import Authcheck, ModelMismatchError
from authcheck.cli import main as cli_main
from authcheck.reindex import ReindexError, reindex
from vision.models import DEFAULT_MODEL, file_sha256, register_model

onnx = pytest.importorskip("onnx")


def thumbnail_model(path: Path, size: int = 32, dim: int = 48, seed: int = 0, scale: float = 1.0) -> Path:
    """An ONNX descriptor with the product's contract: uint8 (N, size, size, 3) -> (N, dim) vectors.

    Unit length unless ``scale`` != 1 (to test that broken models are refused).
    """
    from onnx import TensorProto, helper, numpy_helper

    cells = size // 4
    feat = 3 * cells * cells
    w = np.random.default_rng(seed).normal(size=(feat, dim)).astype(np.float32)
    nodes = [
        helper.make_node("Cast", ["image"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["f"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("AveragePool", ["nchw"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("ReduceMean", ["flat"], ["mean"], axes=[1], keepdims=1),
        helper.make_node("Sub", ["flat", "mean"], ["centred"]),
        helper.make_node("MatMul", ["centred", "w"], ["proj"]),
        helper.make_node("LpNormalization", ["proj"], ["unit"], axis=1, p=2),
        helper.make_node("Mul", ["unit", "scale"], ["embedding"]),
    ]
    graph = helper.make_graph(
        nodes,
        "thumbnail",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["batch", size, size, 3])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dim])],
        initializer=[
            numpy_helper.from_array(w, "w"),
            numpy_helper.from_array(np.array(scale, np.float32), "scale"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _copy_of(src: Path, dst: Path) -> Path:
    """A resized, recompressed copy of ``src`` (what any descriptor should still match)."""
    img = Image.open(src).convert("RGB")
    img.resize((img.width * 3 // 4, img.height * 3 // 4)).save(dst, "JPEG", quality=70)
    return dst


def _vector_rows(home: Path) -> dict[str, int]:
    con = sqlite3.connect(home / "catalogue.sqlite")
    try:
        return dict(con.execute("SELECT space, COUNT(*) FROM ref_vectors GROUP BY space").fetchall())
    finally:
        con.close()


@pytest.fixture()
def catalogue(home: Path, photos: dict[str, Path]) -> Path:
    """A home with 3 catalogue shots and 1 logo embedded by the default model; 'thumb' registered."""
    app = Authcheck(home)
    app.add_brand("acme")
    assert (
        len(app.register([photos["astronaut"], photos["coffee"], photos["rocket"]], "acme").registered) == 3
    )
    assert len(app.register([photos["hubble_deep_field"]], "acme", kind="logo").registered) == 1
    app.close()
    register_model(
        thumbnail_model(home / "thumb.onnx"),
        name="thumb",
        dim=48,
        input_size=32,
        licence="test",
        training_data="none",
        home=home,
    )
    return home


def test_opening_with_another_model_is_refused_clearly(catalogue: Path) -> None:
    with pytest.raises(ModelMismatchError) as err:
        Authcheck(catalogue, model="thumb")
    message = str(err.value)
    assert DEFAULT_MODEL in message and "thumb" in message and "authcheck reindex --model thumb" in message


def test_reindex_moves_every_vector_to_the_new_model(
    catalogue: Path, photos: dict[str, Path], tmp_path: Path
) -> None:
    seen: list[tuple[int, int | None]] = []
    report = reindex(catalogue, "thumb", progress=lambda done, total: seen.append((done, total)))
    assert (report.old_model, report.new_model, report.references) == (DEFAULT_MODEL, "thumb", 4)
    assert seen[-1] == (4, 4)
    assert _vector_rows(catalogue) == {"catalogue:thumb": 3, "logo:thumb": 1}
    assert report.dropped_spaces == {f"catalogue:{DEFAULT_MODEL}": 3, f"logo:{DEFAULT_MODEL}": 1}
    indexes = catalogue / "indexes"
    assert (indexes / "catalogue__thumb.faiss").exists()
    assert not (indexes / f"catalogue__{DEFAULT_MODEL}.faiss").exists()

    app = Authcheck(catalogue)  # opens with the catalogue's model, now 'thumb'
    try:
        assert app.card.name == "thumb" and app.catalogue.get_meta("model_sha256") == app.card.sha256
        assert {r.model for r in app.catalogue.list_references()} == {"thumb"}
        result = app.screen_one(
            "listing.jpg", _copy_of(photos["coffee"], tmp_path / "listing.jpg"), record=False
        )
        assert result.verdict == "copy"
        assert result.matches[0].source == str(photos["coffee"])
    finally:
        app.close()
    with pytest.raises(ModelMismatchError):
        Authcheck(catalogue, model=DEFAULT_MODEL)


def test_reindex_back_and_again_is_consistent(
    catalogue: Path, photos: dict[str, Path], tmp_path: Path
) -> None:
    reindex(catalogue, "thumb")
    reindex(catalogue, "thumb")  # same model again: re-embeds, keeps the spaces
    assert _vector_rows(catalogue) == {"catalogue:thumb": 3, "logo:thumb": 1}
    reindex(catalogue, DEFAULT_MODEL)
    assert _vector_rows(catalogue) == {f"catalogue:{DEFAULT_MODEL}": 3, f"logo:{DEFAULT_MODEL}": 1}
    app = Authcheck(catalogue)
    try:
        result = app.screen_one("listing.jpg", _copy_of(photos["rocket"], tmp_path / "l.jpg"), record=False)
        assert result.verdict == "copy" and result.matches[0].source == str(photos["rocket"])
    finally:
        app.close()


def test_failed_reindex_switches_nothing(catalogue: Path, photos: dict[str, Path], tmp_path: Path) -> None:
    app = Authcheck(catalogue)
    victim = app.catalogue.list_references(kind="catalogue")[0]
    app.close()
    (catalogue / victim.stored_path).unlink()
    with pytest.raises(ReindexError, match="nothing was switched"):
        reindex(catalogue, "thumb", batch_size=2)
    assert _vector_rows(catalogue) == {f"catalogue:{DEFAULT_MODEL}": 3, f"logo:{DEFAULT_MODEL}": 1}
    app = Authcheck(catalogue)  # still the old model, still screening
    try:
        assert app.card.name == DEFAULT_MODEL
        result = app.screen_one(
            "listing.jpg", _copy_of(photos["astronaut"], tmp_path / "l.jpg"), record=False
        )
        assert result.matches and result.matches[0].source == str(photos["astronaut"])
    finally:
        app.close()


def test_cli_models_register_list_and_reindex(
    home: Path, photos: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = ["--home", str(home)]
    assert cli_main([*h, "brand", "add", "acme"]) == 0
    assert cli_main([*h, "register", "--brand", "acme", str(photos["coffee"]), str(photos["rocket"])]) == 0
    onnx_path = thumbnail_model(tmp_path / "thumb.onnx")
    assert (
        cli_main(
            [
                *h,
                "models",
                "register",
                str(onnx_path),
                "--name",
                "thumb",
                "--licence",
                "MIT",
                "--training-data",
                "nothing",
            ]
        )
        == 0
    )
    card = json.loads((home / "models" / "thumb" / "card.json").read_text())
    assert (card["dim"], card["input_size"]) == (48, 32)  # read from the ONNX shapes
    assert card["sha256"] == file_sha256(home / "models" / "thumb" / "model.onnx")
    broken = thumbnail_model(tmp_path / "broken.onnx", scale=2.0)
    assert (
        cli_main(
            [
                *h,
                "models",
                "register",
                str(broken),
                "--name",
                "broken",
                "--licence",
                "x",
                "--training-data",
                "x",
            ]
        )
        == 2
    )
    assert "unit length" in capsys.readouterr().err

    assert cli_main([*h, "models", "list", "--json"]) == 0
    rows = {r["name"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows[DEFAULT_MODEL]["in_use"] and not rows["thumb"]["in_use"] and "broken" not in rows

    listing = _copy_of(photos["coffee"], tmp_path / "listing.jpg")
    assert cli_main([*h, "--model", "thumb", "screen", str(listing)]) == 2
    assert "authcheck reindex --model thumb" in capsys.readouterr().err
    assert cli_main([*h, "reindex", "--model", "thumb", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["references"] == 2 and summary["new_model"] == "thumb"
    assert cli_main([*h, "screen", "--json", "--no-record", str(listing)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["verdict"] == "copy"
    assert cli_main([*h, "models", "list", "--json"]) == 0
    rows = {r["name"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["thumb"]["in_use"] and not rows[DEFAULT_MODEL]["in_use"]
    assert cli_main([*h, "reindex", "--model", "nope"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
