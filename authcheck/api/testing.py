"""Helpers for tests, benchmarks and demos: a real server on a loopback port, a seeded home.

``with serve_in_thread(create_app(home)) as url: ...`` starts a real uvicorn server in a
background thread, waits until it accepts requests (startup loaded the model and
indexes) and shuts it down cleanly afterwards. :func:`seed_home` fills a home with brands,
catalogue shots from ``skimage.data`` (CC0) and one API key per role.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import uvicorn
from fastapi import FastAPI
from PIL import Image


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody is listening on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(
    app: FastAPI, host: str = "127.0.0.1", port: int | None = None, timeout: float = 60.0
) -> Iterator[str]:
    """Serve ``app`` on ``host:port`` (a free port by default) while the block runs; yields the base URL."""
    port = port or free_port(host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="authcheck-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server stopped during startup (see the log above)")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError(f"the server did not start within {timeout:.0f}s")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def jpeg_bytes(rgb: np.ndarray, quality: int = 90) -> bytes:
    """An RGB array encoded as JPEG."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def sample_image(name: str) -> np.ndarray:
    """A CC0 test photo from ``skimage.data`` (e.g. astronaut, coffee, chelsea, rocket) as RGB."""
    from skimage import data  # a dev/bench dependency, imported only here

    img = getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return np.ascontiguousarray(img[..., :3])


def seed_home(home: Path, brands: dict[str, list[str]], model: str | None = None) -> dict[str, str]:
    """Create ``brands`` with catalogue shots from :func:`sample_image` and one key per role.

    Returns the secrets: ``admin``, ``marketplace`` and ``brand:<name>`` for each brand.
    """
    from authcheck.app import Authcheck
    from authcheck.keys import create_key

    core = Authcheck(home, model=model)
    try:
        keys = {
            "admin": create_key(core.catalogue, "admin", label="test-admin")[1],
            "marketplace": create_key(core.catalogue, "marketplace", label="test-reviewer")[1],
        }
        for brand, names in brands.items():
            core.add_brand(brand)
            core.register([], brand, sources=[(f"{n}.jpg", jpeg_bytes(sample_image(n))) for n in names])
            keys[f"brand:{brand}"] = create_key(core.catalogue, "brand", brand, label=f"{brand}-bot")[1]
    finally:
        core.close()
    return keys
