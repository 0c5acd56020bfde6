"""Global copy-detection descriptors on onnxruntime.

:class:`Descriptor` wraps one ONNX model from the registry (:mod:`vision.models`): it takes
RGB ``uint8`` images of any size and returns unit-length ``float32`` vectors, in batches.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vision.graph_rewrite import normalise_after_transpose
from vision.models import DEFAULT_MODEL, ModelCard, get_model_card
from vision.resample import shrink_to


def default_threads() -> int:
    """onnxruntime intra-op threads: ``AUTHCHECK_THREADS`` or the number of cores (2 here)."""
    env = os.environ.get("AUTHCHECK_THREADS")
    if env:
        return max(1, int(env))
    return max(1, min(os.cpu_count() or 1, 8))


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Resize an (H, W, 3) uint8 image to (size, size, 3), area-like where it shrinks.

    See :func:`vision.resample.shrink_to`: the descriptors differ from plain area averaging
    by under 0.005 in cosine.
    """
    return shrink_to(image, (size, size))


class Descriptor:
    """A named descriptor model loaded once and shared; ``embed`` may be called from several threads.

    Two onnxruntime sessions share the model: one using ``threads`` cores for a call that
    runs alone (an upload's latency), one single-threaded for calls that overlap (bulk
    screening runs one call per worker, and extra threads per call only add contention).
    """

    def __init__(self, card: ModelCard, threads: int | None = None, batch_size: int = 16) -> None:
        self.card = card
        self.batch_size = batch_size
        self.threads = threads or default_threads()
        # the same model with a cheaper input prologue (bit-identical outputs), else the file as is
        graph = normalise_after_transpose(card.path) or str(card.path)
        self._wide = self._session(graph, self.threads)
        self._narrow = self._session(graph, 1) if self.threads > 1 else self._wide
        self._input = self._wide.get_inputs()[0].name
        self._active = 0
        self._active_lock = threading.Lock()

    def _session(self, graph: bytes | str, threads: int) -> Any:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # No busy-waiting between runs: on 2 cores the spinning threads would take the CPU
        # from the screening worker next door (measured: half the CPU per run without it).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(graph, sess_options=opts, providers=["CPUExecutionProvider"])

    @classmethod
    def from_name(
        cls, name: str = DEFAULT_MODEL, home: str | Path | None = None, **kwargs: int
    ) -> Descriptor:
        """Load the registered model ``name``."""
        return cls(get_model_card(name, home), **kwargs)

    @property
    def name(self) -> str:
        """Registry name of the model."""
        return self.card.name

    @property
    def dim(self) -> int:
        """Length of the output vectors."""
        return self.card.dim

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """Model-sized input for one image (usable off the inference thread)."""
        return resize_square(image, self.card.input_size)

    def embed_prepared(self, batch: np.ndarray, wide: bool | None = None) -> np.ndarray:
        """Embed an (N, S, S, 3) uint8 batch already at the model's input size.

        ``wide``: run on all ``threads`` (True) or one (False); by default all when no other
        call is running. Callers that know other work fills the cores pass False.
        """
        with self._active_lock:
            self._active += 1
            if wide is None:
                wide = self._active == 1
            session = self._wide if wide else self._narrow
        try:
            out: list[np.ndarray] = []
            for start in range(0, len(batch), self.batch_size):
                chunk = np.ascontiguousarray(batch[start : start + self.batch_size])
                (vecs,) = session.run(None, {self._input: chunk})  # run() is thread-safe
                out.append(vecs)
        finally:
            with self._active_lock:
                self._active -= 1
        vecs = np.concatenate(out).astype(np.float32, copy=False)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.maximum(norms, 1e-12)

    def embed(self, images: Sequence[np.ndarray], wide: bool | None = None) -> np.ndarray:
        """Unit-length descriptors (N, dim) for RGB uint8 images of any size (``wide``: see
        :meth:`embed_prepared`)."""
        if len(images) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.embed_prepared(np.stack([self.prepare(im) for im in images]), wide)
