"""Safe image loading: every listing or reference image enters the system through here.

Turns whatever a user uploads into an RGB ``uint8`` array (H, W, 3), or raises one
exception, :class:`ImageLoadError`, that names the file and says what is wrong with it.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from vision.svg import SvgError, draw_svg, looks_like_svg

# Decoded-pixel ceiling; Pillow's own bomb guard is turned into ImageLoadError.
DEFAULT_MAX_PIXELS = 80_000_000
# Files larger than this are refused before decoding.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024

ImageFile.LOAD_TRUNCATED_IMAGES = False
Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS


class ImageLoadError(ValueError):
    """An image could not be read. ``name`` is the file (or upload) and ``reason`` says why."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"cannot read image {name!r}: {reason}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True)
class LoadedImage:
    """Decoded pixels plus what the caller may want to know about the original."""

    rgb: np.ndarray  # (H, W, 3) uint8
    alpha: np.ndarray | None  # (H, W) uint8 when the source had transparency
    original_size: tuple[int, int]  # (width, height) after EXIF rotation, before downscaling
    format: str


def _read_bytes(source: str | Path | bytes, name: str, max_bytes: int) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        path = Path(source)
        if not path.exists():
            raise ImageLoadError(name, "no such file")
        if not path.is_file():
            raise ImageLoadError(name, "not a regular file")
        size = path.stat().st_size
        if size > max_bytes:
            raise ImageLoadError(name, f"file is {size} bytes, over the {max_bytes}-byte limit")
        data = path.read_bytes()
    if not data:
        raise ImageLoadError(name, "empty file (0 bytes)")
    if len(data) > max_bytes:
        raise ImageLoadError(name, f"upload is {len(data)} bytes, over the {max_bytes}-byte limit")
    return data


def _fast_jpeg(img: Image.Image, data: bytes, orientation: int, max_side: int | None) -> np.ndarray | None:
    """Pixels of a plain JPEG decoded by OpenCV (libjpeg-turbo, the same pixels as Pillow's, in
    half the time with no copy to numpy), or None where Pillow's path must do it: another
    format or mode, an EXIF rotation, a downscale, or a file that does not end where a JPEG
    ends (OpenCV would return a truncated image's grey remainder instead of failing).
    """
    if img.format != "JPEG" or img.mode not in ("RGB", "L") or orientation != 1:
        return None
    if max_side and max(img.size) > max_side:
        return None
    if not data.rstrip(b"\0\r\n ").endswith(b"\xff\xd9"):
        return None
    rgb = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION)
    if rgb is None or rgb.shape[:2] != (img.height, img.width):
        return None
    return rgb


def _to_rgb(img: Image.Image, background: tuple[int, int, int]) -> tuple[Image.Image, np.ndarray | None]:
    """Convert any Pillow mode to RGB; alpha is flattened onto ``background`` and returned."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = float(arr.max()) if arr.size else 0.0
        scale = 255.0 / hi if hi > 255 else 1.0
        img = Image.fromarray(np.clip(arr * scale, 0, 255).astype(np.uint8), "L")
        mode = "L"
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode in ("LA", "PA", "La", "RGBa"):
        img = img.convert("RGBA")
    elif mode == "CMYK" or mode not in ("RGB", "RGBA"):
        img = img.convert("RGB")
    if img.mode == "RGBA":
        alpha = np.asarray(img.getchannel("A"))
        base = Image.new("RGB", img.size, background)
        base.paste(img, mask=img.getchannel("A"))
        return base, alpha
    return img, None


def _pil_decode(
    img: Image.Image, max_side: int | None, orientation: int, background: tuple[int, int, int]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Pixels (and alpha) by Pillow: any format and mode, EXIF rotation, downscaling."""
    w, h = img.size
    if max_side and img.format == "JPEG" and max(w, h) > 2 * max_side:
        # Decode at 1/2, 1/4 or 1/8 scale; EXIF transpose below still works.
        img.draft("RGB", (max_side, max_side))
    img.load()
    if orientation != 1:  # exif_transpose copies the image even when there is nothing to do
        img = ImageOps.exif_transpose(img) or img
    rgb_img, alpha = _to_rgb(img, background)
    if max_side and max(rgb_img.size) > max_side:
        scale = max_side / max(rgb_img.size)
        size = (max(1, round(rgb_img.width * scale)), max(1, round(rgb_img.height * scale)))
        rgb_img = rgb_img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
        if alpha is not None:
            alpha = np.asarray(Image.fromarray(alpha).resize(size, Image.Resampling.BILINEAR))
    return np.asarray(rgb_img, dtype=np.uint8), alpha


def load_image_full(
    source: str | Path | bytes,
    *,
    name: str | None = None,
    max_side: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    background: tuple[int, int, int] = (255, 255, 255),
) -> LoadedImage:
    """Decode ``source`` (path or bytes) into RGB pixels, keeping the alpha channel if any.

    EXIF orientation is applied, the first frame of an animation is taken, and with
    ``max_side`` the image is downscaled so that its long side is at most that (JPEGs are
    decoded at reduced size directly via Pillow's draft mode). Plain JPEGs that need none of
    that are decoded by OpenCV (same pixels, faster); everything else by Pillow. An SVG is
    drawn with its long side at :data:`vision.svg.SVG_SIDE` px, transparent where it does not draw.
    """
    label = name or (str(source) if not isinstance(source, bytes | bytearray | memoryview) else "<upload>")
    data = _read_bytes(source, label, max_bytes)
    if looks_like_svg(data):
        return _load_svg(data, label, max_side, background)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt = img.format or "unknown"
            w, h = img.size
            if w * h > max_pixels:
                raise ImageLoadError(label, f"{w}x{h} pixels is over the {max_pixels}-pixel limit")
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)
            orientation = img.getexif().get(0x0112, 1)
            original = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
            alpha: np.ndarray | None = None
            rgb = _fast_jpeg(img, data, orientation, max_side)
            if rgb is None:
                rgb, alpha = _pil_decode(img, max_side, orientation, background)
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(label, f"refused as a decompression bomb ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(label, "not an image, or an unsupported format") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageLoadError(label, f"corrupt or truncated image ({exc})") from exc
    except MemoryError as exc:
        raise ImageLoadError(label, "too large to decode in memory") from exc
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] < 8 or rgb.shape[1] < 8:
        raise ImageLoadError(label, f"image is too small ({rgb.shape[1]}x{rgb.shape[0]}); need at least 8x8")
    return LoadedImage(rgb=np.ascontiguousarray(rgb), alpha=alpha, original_size=original, format=fmt)


def _load_svg(data: bytes, label: str, max_side: int | None, background: tuple[int, int, int]) -> LoadedImage:
    try:
        img = draw_svg(data)
    except SvgError as exc:
        raise ImageLoadError(label, str(exc)) from exc
    rgb, alpha = _pil_decode(img, max_side, 1, background)
    return LoadedImage(rgb=np.ascontiguousarray(rgb), alpha=alpha, original_size=img.size, format="SVG")


def load_image(
    source: str | Path | bytes, *, name: str | None = None, max_side: int | None = None
) -> np.ndarray:
    """Decode ``source`` into an RGB ``uint8`` array (H, W, 3); see :func:`load_image_full`."""
    return load_image_full(source, name=name, max_side=max_side).rgb
