"""Printed text in a listing photo (OCR), for finding brands' wordmarks.

Reads text with the PP-OCR detection and recognition models that the ``rapidocr`` package
ships (ONNX, run on onnxruntime, nothing downloaded). OCR costs about a second per image
on two cores, so callers run it only when asked (``authcheck screen --ocr``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from vision.resample import shrink_to

INSTALL_HINT = "OCR needs the 'rapidocr' package: pip install 'authcheck[ocr]'"


class OCRUnavailableError(RuntimeError):
    """The OCR engine is not installed."""


@dataclass(frozen=True)
class TextLine:
    """One line of text read from an image."""

    text: str
    score: float  # recognition confidence in [0, 1]
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in the given image's pixels


class TextReader:
    """Reads lines of text in RGB images; one engine shared by all threads (calls take turns)."""

    def __init__(self, threads: int = 2, max_side: int = 1280, min_score: float = 0.5) -> None:
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:
            raise OCRUnavailableError(INSTALL_HINT) from exc
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        params: dict[str, Any] = {
            "Global.log_level": "error",
            "Global.use_cls": False,  # listings' text is upright; the angle classifier costs ~10%
            "Global.text_score": min_score,
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        self._engine = RapidOCR(params=params)
        self._lock = threading.Lock()
        self.max_side = max_side
        self.min_score = min_score

    def read(self, rgb: np.ndarray) -> list[TextLine]:
        """Lines of text in an (H, W, 3) uint8 RGB image, boxes in its pixels."""
        h, w = rgb.shape[:2]
        k = min(1.0, self.max_side / max(h, w))
        image = shrink_to(rgb, (max(1, round(w * k)), max(1, round(h * k)))) if k < 1.0 else rgb
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        with self._lock:
            out = self._engine(bgr)
        texts = getattr(out, "txts", None) or ()
        scores = getattr(out, "scores", None) or ()
        boxes = getattr(out, "boxes", None)
        lines = []
        for i, (text, score) in enumerate(zip(texts, scores, strict=False)):
            if score < self.min_score or not text.strip() or boxes is None:
                continue
            quad = np.asarray(boxes[i], dtype=np.float64).reshape(-1, 2) / k
            x0, y0 = quad.min(axis=0)
            x1, y1 = quad.max(axis=0)
            lines.append(TextLine(text.strip(), float(score), (float(x0), float(y0), float(x1), float(y1))))
        return lines


__all__ = ["INSTALL_HINT", "OCRUnavailableError", "TextLine", "TextReader"]
