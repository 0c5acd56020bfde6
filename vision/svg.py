"""Vector images (SVG): brands keep their logos as SVG; they are drawn into pixels here, once.

An SVG has no pixel size of its own, so it is drawn with its long side at ``SVG_SIDE`` px
(transparent where the drawing is), as if that were the file's size. Drawing uses CairoSVG
(the ``svg`` extra, over the system's cairo library) in its safe mode: no external files,
no XML entities, nothing fetched.
"""

from __future__ import annotations

import io
import re

from PIL import Image

SVG_SIDE = 1024  # long side of a drawn SVG, px
MAX_ASPECT = 20.0  # long side over short side beyond which an SVG is no logo or picture
_HEAD = re.compile(rb"^(?:\s|<\?xml[^>]*\?>|<!--.*?-->|<!DOCTYPE[^>]*>)*<svg[\s>]", re.DOTALL | re.IGNORECASE)
MISSING = (
    "an SVG file needs CairoSVG and the cairo library: pip install 'authcheck[svg]' "
    "(Debian: apt-get install libcairo2)"
)


class SvgError(ValueError):
    """An SVG that cannot be drawn; the message says why."""


def looks_like_svg(data: bytes) -> bool:
    """Whether ``data`` starts as an SVG document (an XML prolog, comments or a doctype, then ``<svg``)."""
    return bool(_HEAD.match(data[:4096].lstrip(b"\xef\xbb\xbf")))


def _draw(data: bytes, **size: int) -> Image.Image:
    try:
        import cairosvg
    except (ImportError, OSError) as exc:  # OSError: the package is there, the C library is not
        raise SvgError(MISSING) from exc
    try:
        png = cairosvg.svg2png(bytestring=data, unsafe=False, **size)
    except Exception as exc:  # malformed XML, unknown units, ...: CairoSVG raises many kinds
        raise SvgError(f"not a drawable SVG ({type(exc).__name__}: {exc})") from exc
    img = Image.open(io.BytesIO(png))
    img.load()
    return img


def draw_svg(data: bytes, side: int = SVG_SIDE) -> Image.Image:
    """The SVG ``data`` drawn as an RGBA image with its long side ``side`` px.

    Raises :class:`SvgError` for a file that cannot be drawn, an empty or implausibly
    elongated drawing, or a missing CairoSVG.
    """
    probe = _draw(data, output_width=64)  # the aspect ratio, cheaply, before the real size
    w, h = probe.size
    if min(w, h) < 1 or max(w, h) / min(w, h) > MAX_ASPECT:
        raise SvgError(f"a drawing of {w}x{h} proportions is no logo or picture")
    img = (_draw(data, output_width=side) if w >= h else _draw(data, output_height=side)).convert("RGBA")
    if img.getchannel("A").getextrema()[1] == 0:
        raise SvgError("the drawing is empty (fully transparent)")
    return img
