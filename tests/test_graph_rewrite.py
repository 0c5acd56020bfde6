"""The descriptor's in-memory graph rewrite: same vectors, cheaper prologue, other graphs untouched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from vision.descriptor import Descriptor
from vision.graph_rewrite import normalise_after_transpose
from vision.models import get_model_card


def _run(model: str | bytes, batch: np.ndarray) -> np.ndarray:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: batch})[0]


def test_default_model_is_rewritten_and_gives_bit_identical_outputs() -> None:
    card = get_model_card()
    rewritten = normalise_after_transpose(card.path)
    assert rewritten is not None
    ops = [node.op_type for node in onnx.load_from_string(rewritten).graph.node[:4]]
    assert ops == ["Cast", "Transpose", "Sub", "Div"]
    batch = np.random.default_rng(0).integers(0, 256, (3, card.input_size, card.input_size, 3), np.uint8)
    assert np.array_equal(_run(card.path, batch), _run(rewritten, batch))


def test_descriptor_runs_the_rewritten_graph() -> None:
    card = get_model_card()
    image = np.random.default_rng(1).integers(0, 256, (card.input_size, card.input_size, 3), np.uint8)
    raw = _run(card.path, image[None])[0]
    vec = Descriptor(card, threads=1).embed([image])[0]
    assert np.allclose(vec, raw / np.linalg.norm(raw), atol=1e-6)


def _prologue_model(path: Path, mean_shape: tuple[int, ...], reuse_mean: bool) -> Path:
    """uint8 NHWC -> Cast -> Sub -> Div -> Transpose -> (Add the mean again when ``reuse_mean``)."""
    mean = numpy_helper.from_array(np.full(mean_shape, 100.0, np.float32), "mean")
    std = numpy_helper.from_array(np.full(mean_shape, 50.0, np.float32), "std")
    nodes = [
        helper.make_node("Cast", ["x"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Sub", ["f", "mean"], ["c"]),
        helper.make_node("Div", ["c", "std"], ["n"]),
        helper.make_node("Transpose", ["n"], ["t"], perm=[0, 3, 1, 2]),
    ]
    out = "t"
    if reuse_mean:
        nodes.append(helper.make_node("Add", ["t", "mean"], ["y"]))
        out = "y"
    graph = helper.make_graph(
        nodes,
        "prologue",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 4, 4, 3])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, 3, 4, 4])],
        [mean, std],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_only_the_per_channel_prologue_is_rewritten(tmp_path: Path) -> None:
    batch = np.arange(48, dtype=np.uint8).reshape(1, 4, 4, 3) * 5
    plain = _prologue_model(tmp_path / "plain.onnx", (3,), reuse_mean=False)
    rewritten = normalise_after_transpose(plain)
    assert rewritten is not None
    assert np.array_equal(_run(str(plain), batch), _run(rewritten, batch))
    # a constant read again later, or one that is not per channel, keeps the graph as it is
    assert normalise_after_transpose(_prologue_model(tmp_path / "reused.onnx", (3,), reuse_mean=True)) is None
    assert (
        normalise_after_transpose(_prologue_model(tmp_path / "scalar.onnx", (1,), reuse_mean=False)) is None
    )
