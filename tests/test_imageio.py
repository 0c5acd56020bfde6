"""Safe image loading: awkward formats load to RGB, bad inputs raise one clear error."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.image_zoo import bad_images, good_images
from vision.imageio import ImageLoadError, load_image, load_image_full


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("zoo")
    return good_images(root / "good"), bad_images(root / "bad")


def test_every_good_image_loads_as_rgb(zoo) -> None:
    good, _ = zoo
    for name, path in good.items():
        rgb = load_image(path)
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3, name


def test_exif_orientation_is_applied(zoo) -> None:
    good, _ = zoo
    img = load_image_full(good["exif_rotated.jpg"])
    assert img.rgb.shape[:2] == (96, 64)
    assert img.original_size == (64, 96)


def test_alpha_is_kept_and_flattened_on_white(zoo) -> None:
    good, _ = zoo
    img = load_image_full(good["rgba.png"])
    assert img.alpha is not None and img.alpha.min() == 0
    # Fully transparent column becomes the white background.
    assert img.rgb[:, 0].min() >= 250


def test_sixteen_bit_is_scaled_not_clipped(zoo) -> None:
    good, _ = zoo
    rgb = load_image(good["gray16.png"])
    assert rgb.max() > 128 and rgb.min() < 128


def test_animated_takes_first_frame(zoo) -> None:
    good, _ = zoo
    with Image.open(good["animated.gif"]) as im:
        im.seek(0)
        first = np.asarray(im.convert("RGB"))
    assert np.array_equal(load_image(good["animated.gif"]), first)


@pytest.mark.parametrize(
    "name", ["truncated.jpg", "zero.jpg", "text.jpg", "corrupt.png", "bomb.png", "missing.jpg"]
)
def test_bad_images_raise_one_error_naming_the_file(zoo, name: str) -> None:
    _, bad = zoo
    with pytest.raises(ImageLoadError) as info:
        load_image(bad[name])
    assert name in str(info.value)


def test_bomb_message_says_why(zoo) -> None:
    _, bad = zoo
    with pytest.raises(ImageLoadError, match="pixel limit|bomb"):
        load_image(bad["bomb.png"])


def test_max_side_downscales_with_draft() -> None:
    big = Image.fromarray(np.random.default_rng(0).integers(0, 255, (1600, 2400, 3), dtype=np.uint8))
    buf = io.BytesIO()
    big.save(buf, "JPEG")
    img = load_image_full(buf.getvalue(), max_side=300)
    assert max(img.rgb.shape[:2]) == 300
    assert img.original_size == (2400, 1600)


def test_bytes_over_limit_are_refused() -> None:
    with pytest.raises(ImageLoadError, match="limit"):
        load_image_full(b"x" * 100, max_bytes=10)


def test_tiny_images_are_refused() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "PNG")
    with pytest.raises(ImageLoadError, match="too small"):
        load_image(buf.getvalue(), name="tiny.png")


def test_plain_jpegs_take_the_fast_decoder_and_get_pillows_pixels(monkeypatch: pytest.MonkeyPatch) -> None:
    import vision.imageio as imageio

    rng = np.random.default_rng(3)
    rgb = np.clip(rng.normal(128, 60, (120, 160, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=85)
    data = buf.getvalue()
    used: list[bool] = []
    real = imageio._fast_jpeg

    def spy(*args: object) -> np.ndarray | None:
        out = real(*args)
        used.append(out is not None)
        return out

    monkeypatch.setattr(imageio, "_fast_jpeg", spy)
    fast = load_image_full(data)
    assert used == [True]
    expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert np.array_equal(fast.rgb, expected) and fast.original_size == (160, 120)
    load_image_full(data, max_side=100)  # a downscale is Pillow's job
    assert used[-1] is False
    with pytest.raises(ImageLoadError, match="truncated"):
        load_image_full(data[: len(data) // 2])  # no end marker: Pillow decodes and fails
    assert used[-1] is False
