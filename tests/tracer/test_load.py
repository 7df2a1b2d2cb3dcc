from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tracer import ImageLoadError, load_image


def _save(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "TIFF", "BMP"])
def test_common_formats_load_as_rgb(tmp_path, fmt):
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8))
    path = tmp_path / f"x.{fmt.lower()}"
    path.write_bytes(_save(image, fmt))
    loaded = load_image(path)
    assert loaded.rgb.shape == (40, 60, 3) and loaded.rgb.dtype == np.uint8
    assert loaded.format == fmt and len(loaded.sha256) == 64


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (60, 40), "white")
    image.paste((255, 0, 0), (0, 0, 10, 10))  # red mark top-left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display needs a 90 degree clockwise turn
    path = tmp_path / "phone.jpg"
    path.write_bytes(_save(image, "JPEG", exif=exif, quality=95))
    loaded = load_image(path)
    assert loaded.rgb.shape == (60, 40, 3)
    assert loaded.exif_orientation == 6
    assert loaded.rgb[2, -3, 0] > 200 and loaded.rgb[2, -3, 1] < 80  # now top-right


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "I;16"])
def test_other_modes_are_converted(mode):
    base = Image.new("RGB", (32, 32), (120, 130, 140))
    image = base.convert(mode) if mode != "I;16" else Image.fromarray(np.full((32, 32), 40000, np.uint16))
    loaded = load_image(image)
    assert loaded.rgb.shape == (32, 32, 3) and loaded.rgb.dtype == np.uint8


def test_truncated_file_is_a_clear_error(tmp_path):
    data = _save(Image.new("RGB", (300, 300), "white"), "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageLoadError, match="cut.jpg.*(corrupt or truncated)"):
        load_image(path)


@pytest.mark.parametrize("content, message", [(b"", "empty"), (b"hello world", "not a recognised image")])
def test_non_images_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "leak.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageLoadError, match=f"leak.jpg.*{message}"):
        load_image(path)


def test_missing_file_names_it(tmp_path):
    with pytest.raises(ImageLoadError, match="gone.png: no such file"):
        load_image(tmp_path / "gone.png")


def test_pixel_limit_refuses_before_decoding(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(_save(Image.new("RGB", (2000, 2000)), "PNG"))
    with pytest.raises(ImageLoadError, match="over the limit"):
        load_image(path, max_pixels=1_000_000)
