from __future__ import annotations

import io
import os
import tracemalloc

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


# ----------------------------------------------------------------- input limits at the door
from watermark import DEFAULT_MAX_BYTES, MIN_IMAGE_SIDE  # noqa: E402


@pytest.mark.parametrize("size", [(20000, 8), (3000, 2), (1001, 1), (1, 1), (8, 20000), (MIN_IMAGE_SIDE - 1, 400)])
def test_image_under_the_minimum_side_is_refused_naming_the_file(tmp_path, size):
    path = tmp_path / "thin.png"
    Image.new("RGB", size, "white").save(path)
    with pytest.raises(ImageLoadError, match=rf"thin\.png: {size[0]}x{size[1]} pixels is too small .*at least {MIN_IMAGE_SIDE}") as info:
        load_image(path)
    assert info.value.reason == "too small"


@pytest.mark.parametrize("shape", [(8, 20000, 3), (1, 1), (MIN_IMAGE_SIDE - 1, 300, 4)])
def test_array_under_the_minimum_side_is_refused(shape):
    with pytest.raises(ImageLoadError, match=f"too small .*at least {MIN_IMAGE_SIDE}"):
        load_image(np.zeros(shape, np.uint8))


def test_image_at_the_minimum_side_loads(tmp_path):
    path = tmp_path / "edge.png"
    Image.new("RGB", (MIN_IMAGE_SIDE, 3000), "white").save(path)
    assert load_image(path).rgb.shape == (3000, MIN_IMAGE_SIDE, 3)


def test_directory_is_refused(tmp_path):
    with pytest.raises(ImageLoadError, match="is a directory, not a regular file") as info:
        load_image(tmp_path)
    assert info.value.reason == "not a regular file"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_named_pipe_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "leak.png"
    os.mkfifo(fifo)  # no writer: opening it for reading would block forever
    with pytest.raises(ImageLoadError, match=r"leak\.png: is a named pipe \(FIFO\), not a regular file"):
        load_image(fifo)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_device_is_refused_before_reading():
    with pytest.raises(ImageLoadError, match="/dev/zero: is a character device, not a regular file"):
        load_image("/dev/zero")


def test_huge_sparse_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.png"
    with open(path, "wb") as f:
        f.truncate(5 * 2**30)  # 5 GiB, sparse: no disk used, and it must not be read into memory
    tracemalloc.start()
    try:
        with pytest.raises(ImageLoadError, match=rf"huge\.png: 5368709120 bytes is over the limit of {DEFAULT_MAX_BYTES} bytes") as info:
            load_image(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.reason == "too large"
    assert peak < 4 * 2**20


def test_max_bytes_is_a_keyword_for_files_and_byte_strings(tmp_path):
    data = _save(Image.new("RGB", (64, 64), "white"), "PNG")
    path = tmp_path / "x.png"
    path.write_bytes(data)
    assert load_image(path, max_bytes=len(data)).rgb.shape == (64, 64, 3)
    with pytest.raises(ImageLoadError, match=f"{len(data)} bytes is over the limit of {len(data) - 1} bytes"):
        load_image(path, max_bytes=len(data) - 1)
    with pytest.raises(ImageLoadError, match=r"<bytes>: .* over the limit"):
        load_image(data, max_bytes=len(data) - 1)


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs Linux /proc")
def test_file_longer_than_its_stat_size_is_cut_at_the_limit():
    # /proc files (and files still being written) report a size that is not what a read returns:
    # at most max_bytes + 1 bytes are read, whatever stat said.
    assert os.stat("/proc/self/maps").st_size == 0
    with pytest.raises(ImageLoadError, match="/proc/self/maps: more than 100 bytes, over the limit of 100 bytes"):
        load_image("/proc/self/maps", max_bytes=100)


def test_pixel_limit_is_read_from_the_header_not_the_pixels(tmp_path):
    # A PNG whose header claims 30000 x 30000 but holds no pixel data: refused by size, not decoded.
    path = tmp_path / "claims.png"
    path.write_bytes(_png_with_size(30000, 30000))
    with pytest.raises(ImageLoadError, match="30000x30000 = 900000000 pixels is over the limit"):
        load_image(path)


def _png_with_size(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.mark.parametrize("mode", ["gray", "rgb"])
def test_16_bit_png_is_scaled_not_clipped(tmp_path, mode):
    path = tmp_path / "deep.png"
    if mode == "gray":
        Image.fromarray(np.full((32, 48), 0x7000, np.uint16)).save(path)
    else:
        path.write_bytes(_png16_rgb(48, 32, 0x7000))
    loaded = load_image(path)
    assert loaded.rgb.shape == (32, 48, 3)
    assert abs(int(loaded.rgb[0, 0, 0]) - round(0x7000 / 65535 * 255)) <= 1
    assert loaded.bit_depth == 16


def _png16_rgb(width: int, height: int, value: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" + np.full((width, 3), value, ">u2").tobytes()
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b"")
