"""Upload rules: size, pixel count and type are checked before any image is decoded.

Every refusal is an :class:`UploadError` carrying an HTTP status and a message for the
client, so a bad upload is always a 4xx with a clear JSON body, never a 500. The body-size
middleware refuses oversized requests before they are parsed (and spooled to disk).
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass

from fastapi import HTTPException, UploadFile
from PIL import Image, UnidentifiedImageError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vision.svg import looks_like_svg

# What Pillow calls the formats we accept; anything else is refused as "not an image type".
ACCEPTED_FORMATS = {
    "JPEG": "jpeg",
    "MPO": "jpeg",
    "PNG": "png",
    "WEBP": "webp",
    "GIF": "gif",
    "BMP": "bmp",
    "TIFF": "tiff",
}
_ACCEPTED_NAMES = "JPEG, PNG, WebP, GIF, BMP, TIFF, SVG"
# Declared content types that are fine: any image/*, or "don't know".
_NEUTRAL_TYPES = {"", "application/octet-stream", "binary/octet-stream"}


@dataclass(frozen=True)
class UploadLimits:
    """Limits on what clients may upload."""

    max_bytes: int = 20 * 1024 * 1024  # per image
    max_pixels: int = 50_000_000  # per image, width x height as declared in the header
    max_files: int = 16  # images per request

    @property
    def max_request_bytes(self) -> int:
        """Largest acceptable request body: all files plus form fields and multipart overhead."""
        return self.max_files * self.max_bytes + 1024 * 1024


class UploadError(Exception):
    """A refused upload: ``status`` is the HTTP status, ``message`` what the client is told."""

    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message

    def to_dict(self) -> dict:
        """Per-item error in a multi-image response (same shape as an unreadable-image result)."""
        return {"image": self.name, "error": self.message, "status": self.status}


def check_image_bytes(name: str, data: bytes, limits: UploadLimits, content_type: str | None = None) -> str:
    """Check one uploaded file without decoding its pixels; returns its format or raises UploadError."""
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared and declared not in _NEUTRAL_TYPES and not declared.startswith("image/"):
        raise UploadError(415, name, f"{name!r} was sent as {declared!r}; only images are accepted")
    if not data:
        raise UploadError(400, name, f"{name!r} is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise UploadError(413, name, f"{name!r} is {len(data)} bytes, over the {limits.max_bytes}-byte limit")
    if looks_like_svg(data):  # drawn at a fixed size when decoded: no pixel count to check here
        return "svg"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:  # reads the header only
                fmt, (width, height) = img.format or "", img.size
    except Image.DecompressionBombError:
        raise UploadError(413, name, f"{name!r} has too many pixels (a decompression bomb?)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UploadError(
            415, name, f"{name!r} is not an image of a supported type ({_ACCEPTED_NAMES})"
        ) from None
    if fmt not in ACCEPTED_FORMATS:
        raise UploadError(415, name, f"{name!r} is a {fmt or 'unknown'} image; accepted: {_ACCEPTED_NAMES}")
    if width * height > limits.max_pixels:
        raise UploadError(
            413, name, f"{name!r} is {width}x{height} pixels, over the {limits.max_pixels}-pixel limit"
        )
    return ACCEPTED_FORMATS[fmt]


async def read_upload(upload: UploadFile, limits: UploadLimits) -> tuple[str, bytes]:
    """Read one uploaded file (at most the byte limit plus one) and check it; returns (name, bytes)."""
    name = upload.filename or "upload"
    data = await upload.read(limits.max_bytes + 1)
    check_image_bytes(name, data, limits, upload.content_type)
    return name, data


def check_file_count(uploads: list[UploadFile], limits: UploadLimits) -> None:
    """At least one image and at most ``max_files``."""
    if not uploads:
        raise HTTPException(422, "no image: send one or more files in the multipart field 'image'")
    if len(uploads) > limits.max_files:
        raise HTTPException(413, f"{len(uploads)} images in one request; at most {limits.max_files}")


class _BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is over the {limit}-byte limit")


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413: by Content-Length up front, else while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _send_json(send, 413, {"error": f"request body is over the {self.max_bytes}-byte limit"})
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge as exc:  # raised outside the routes' exception handlers
            if started:
                raise
            await _send_json(send, 413, {"error": exc.detail})


async def _send_json(send: Send, status: int, body: dict) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
