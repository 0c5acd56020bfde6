"""Malformed and awkward images for tests: every way a real upload can be odd."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image


def _photo(w: int = 96, h: int = 64, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (w + h)], axis=2)
    noise = rng.integers(0, 40, size=(h, w, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")


def good_images(folder: Path) -> dict[str, Path]:
    """Readable images in awkward formats; each must load to RGB. Name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    photo = _photo()

    def save(name: str, img: Image.Image, fmt: str, **kw: object) -> None:
        path = folder / name
        img.save(path, fmt, **kw)
        out[name] = path

    save("cmyk.jpg", photo.convert("CMYK"), "JPEG")
    save("gray16.png", Image.fromarray(np.asarray(photo.convert("L"), dtype=np.uint16) * 257), "PNG")
    save("onebit.png", photo.convert("1"), "PNG")
    save("palette.png", photo.convert("P"), "PNG")
    save("la.png", photo.convert("LA"), "PNG")
    rgba = photo.convert("RGBA")
    rgba.putalpha(Image.fromarray(np.tile(np.linspace(0, 255, 96, dtype=np.uint8), (64, 1))))
    save("rgba.png", rgba, "PNG")
    frames = [_photo(seed=i) for i in range(3)]
    path = folder / "animated.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    out["animated.gif"] = path
    save("plain.webp", photo, "WEBP")
    # EXIF orientation 6: stored landscape 96x64, displayed portrait 64x96.
    exif = Image.Exif()
    exif[0x0112] = 6
    save("exif_rotated.jpg", photo, "JPEG", exif=exif.tobytes())
    return out


def bad_images(folder: Path) -> dict[str, Path]:
    """Unreadable inputs; each must raise ImageLoadError naming the file. Name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    buf = io.BytesIO()
    _photo(400, 300).save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "text.jpg").write_bytes(b"this is not an image at all\n" * 20)
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    # A PNG header claiming 100000 x 100000 pixels: a decompression bomb.
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    import zlib

    chunk = b"IHDR" + ihdr
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    (folder / "bomb.png").write_bytes(png)
    for name in ("truncated.jpg", "zero.jpg", "text.jpg", "corrupt.png", "bomb.png"):
        out[name] = folder / name
    out["missing.jpg"] = folder / "missing.jpg"
    return out
