"""Hostile inputs: damaged and adversarial image files, for the loader's and the tracer's fuzz tests.

A security officer runs ``trace-leak`` on whatever a chat export or a seized
phone holds: truncated downloads, files a messenger mangled, and files made
to hurt the tool (a header claiming 4 billion pixels, a few KB that inflate
to gigabytes). Everything here makes such files, in code, from a
:class:`random.Random` (so a seed reproduces a file byte for byte):

* :func:`seed_image` encodes a small, valid image in one of :data:`FORMATS`
  (HEIC when pillow-heif is installed: :func:`available_formats`), with
  varied modes, bit depths, EXIF orientation and frames;
* :data:`MUTATIONS` are the ways to damage one: byte flips, interesting
  byte values, truncation, splicing, and format-aware header edits (width
  and height fields of PNG IHDR - CRC fixed so the decoder believes them -,
  JPEG SOF, GIF descriptors, TIFF tags, WebP chunks, HEIF ``ispe`` boxes;
  chunk and segment lengths);
* :func:`mutate` applies a few of them; :func:`fuzz_case` is one case of a
  fuzz run (a seed image and its mutation), a pure function of its seed;
* :func:`png_bytes` and :func:`decompression_bomb_png` write PNGs by hand
  (16-bit, any claimed size, a bomb), which Pillow's encoder will not.

The fuzz harness (``tests/fuzz``) and the long run (``python -m
benchmarks.fuzz``) share these generators.

Examples
--------
>>> import random
>>> from synthetic import hostile
>>> data = hostile.seed_image("PNG", random.Random(0))
>>> data[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
>>> claimed = hostile.set_png_size(data, 2**31 - 1, 1)
>>> hostile.png_size(claimed)
(2147483647, 1)
>>> case = hostile.fuzz_case("GIF", 7)
>>> case == hostile.fuzz_case("GIF", 7)
True
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from watermark import OptionError

__all__ = [
    "FORMATS",
    "FuzzCase",
    "MUTATIONS",
    "Mutation",
    "available_formats",
    "decompression_bomb_png",
    "fuzz_case",
    "mutate",
    "png_bytes",
    "png_size",
    "seed_image",
    "set_png_size",
]

FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "TIFF", "GIF", "HEIC")
"""The formats fuzzed: what phones, messengers and screenshot tools write."""

SEED_SIDES = (16, 160)
"""Seed images are this small (pixels a side, inclusive), so a decoded mutant costs little to trace."""

EXTREME_SIDES = (0, 1, 15, 16, 17, 255, 256, 4096, 65535, 65536, 2**31 - 1, 2**32 - 1)
"""Width and height values a header edit writes (clipped to the field's width): zero, the loader's
minimum side on either hand, the tile size, and the edges of 16- and 32-bit fields."""

Mutation = Callable[[bytes, str, random.Random], bytes]
"""``mutation(data, format, rng) -> damaged data``."""

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def available_formats() -> tuple[str, ...]:
    """:data:`FORMATS` this installation can encode (HEIC needs the ``heic`` extra, pillow-heif)."""
    try:
        import pillow_heif  # noqa: F401
    except ImportError:
        return tuple(f for f in FORMATS if f != "HEIC")
    return FORMATS


# ----------------------------------------------------------------- hand-written PNGs
def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bytes(width: int, height: int, *, bit_depth: int = 8, color_type: int = 2, value: int = 0,
              pixel_data: bytes | None = None) -> bytes:
    """A PNG written by hand: any claimed size and depth, filled with ``value`` (or ``pixel_data``, raw).

    Parameters
    ----------
    width, height : int
        The size the IHDR chunk claims (0 to 2**32 - 1).
    bit_depth : int
        8 or 16 (``color_type`` 0 grey, 2 RGB, 4 grey + alpha, 6 RGBA).
    value : int
        Every sample's value, when ``pixel_data`` is None.
    pixel_data : bytes, optional
        The uncompressed scanlines (filter byte first on each), as they are:
        short or empty data makes a truncated image.

    Examples
    --------
    >>> png_size(png_bytes(3, 2, bit_depth=16))
    (3, 2)
    """
    if bit_depth not in (8, 16) or color_type not in (0, 2, 4, 6):
        raise OptionError(f"bit_depth must be 8 or 16 and color_type 0, 2, 4 or 6, got {bit_depth}, {color_type}",
                          name="bit_depth", value=(bit_depth, color_type))
    if pixel_data is None:
        channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
        sample = np.array([value], dtype=">u2" if bit_depth == 16 else np.uint8).tobytes()
        pixel_data = (b"\x00" + sample * (channels * width)) * height
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return _PNG_SIGNATURE + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(pixel_data, 9)) + _png_chunk(b"IEND", b"")


def decompression_bomb_png(side: int = 20000) -> bytes:
    """A greyscale PNG of ``side`` x ``side`` black pixels: a few hundred KB that decode to ``side**2`` bytes.

    >>> len(decompression_bomb_png(2000)) < 10_000
    True
    """
    row = b"\x00" * (side + 1)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return _PNG_SIGNATURE + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def png_size(data: bytes) -> tuple[int, int]:
    """The (width, height) a PNG's IHDR claims."""
    return struct.unpack(">II", data[16:24])


def set_png_size(data: bytes, width: int, height: int) -> bytes:
    """The PNG with its IHDR's width and height replaced, and the chunk's CRC fixed (so a decoder believes it)."""
    if data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        return data
    body = struct.pack(">II", width & 0xFFFFFFFF, height & 0xFFFFFFFF) + data[24:29]
    return data[:8] + _png_chunk(b"IHDR", body) + data[33:]


def _png_chunks(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of each chunk whose header lies in ``data``."""
    out, pos = [], 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        out.append((pos, length))
        pos += 12 + length
    return out


def _fix_png_crcs(data: bytes) -> bytes:
    """Every complete chunk's CRC recomputed: damage inside a chunk then reaches the decoder instead of the CRC check."""
    if data[:8] != _PNG_SIGNATURE:
        return data
    out = bytearray(data)
    for pos, length in _png_chunks(data):
        end = pos + 8 + length
        if end + 4 > len(data):
            break
        out[end : end + 4] = struct.pack(">I", zlib.crc32(bytes(out[pos + 4 : end])))
    return bytes(out)


# ----------------------------------------------------------------- seed images
def seed_image(fmt: str, rng: random.Random) -> bytes:
    """A small valid image in ``fmt`` (one of :data:`FORMATS`), its size, mode and options drawn from ``rng``.

    Modes cover what the loader converts: RGB, grey, RGBA, palette, and
    16-bit grey (PNG, TIFF); JPEG may be progressive and carry an EXIF
    orientation; GIF and WebP may hold several frames.
    """
    from PIL import Image

    if fmt not in FORMATS:
        raise OptionError(f"fmt must be one of {FORMATS}, got {fmt!r}", name="fmt", value=fmt)
    width, height = rng.randint(*SEED_SIDES), rng.randint(*SEED_SIDES)
    pixels = np.random.default_rng(rng.getrandbits(32))
    base = pixels.integers(0, 256, (height, width, 3), dtype=np.uint8)
    base[: height // 2] = base[: height // 2] // 16 * 16  # flat areas too: codecs treat them differently
    image = Image.fromarray(base)
    mode = rng.choice(["RGB", "L", "RGBA", "P", "I;16"] if fmt in ("PNG", "TIFF") else ["RGB", "L", "RGBA"])
    if fmt == "JPEG" and mode == "RGBA":
        mode = "RGB"
    if mode == "I;16":
        image = Image.fromarray((pixels.integers(0, 65536, (height, width))).astype(np.uint16))
    elif mode == "P":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=rng.choice([2, 16, 256]))
    elif mode != "RGB":
        image = image.convert(mode)
    options: dict[str, object] = {}
    if fmt in ("JPEG", "TIFF", "WEBP", "PNG") and rng.random() < 0.4:
        exif = Image.Exif()
        exif[0x0112] = rng.randint(1, 8)
        options["exif"] = exif
    if fmt == "JPEG":
        options.update(quality=rng.randint(30, 95), progressive=rng.random() < 0.3)
    elif fmt == "WEBP":
        options.update(quality=rng.randint(30, 95), lossless=rng.random() < 0.3)
    elif fmt == "TIFF":
        options["compression"] = rng.choice([None, "tiff_lzw", "tiff_adobe_deflate", "packbits"])
    elif fmt == "HEIC":
        _register_heif()
        options["quality"] = rng.randint(30, 95)
        if image.mode not in ("RGB", "RGBA", "L"):
            image = image.convert("RGB")
    if fmt in ("GIF", "WEBP") and rng.random() < 0.3:
        frames = [image.transpose(Image.Transpose.ROTATE_180), image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
        options.update(save_all=True, append_images=frames, duration=100)
    buf = io.BytesIO()
    image.save(buf, format="HEIF" if fmt == "HEIC" else fmt, **options)
    return buf.getvalue()


def _register_heif() -> None:
    from pillow_heif import register_heif_opener

    register_heif_opener()


# ----------------------------------------------------------------- mutations
def _position(data: bytes, rng: random.Random) -> int:
    """A byte offset, half the time in the first 64 bytes (headers live there)."""
    if rng.random() < 0.5:
        return rng.randrange(min(len(data), 64))
    return rng.randrange(len(data))


def flip_bits(data: bytes, fmt: str, rng: random.Random) -> bytes:
    """One to eight bits flipped."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[_position(data, rng)] ^= 1 << rng.randrange(8)
    return bytes(out)


def interesting_bytes(data: bytes, fmt: str, rng: random.Random) -> bytes:
    """One to four runs of 1-4 bytes set to boundary values (0x00, 0x7f, 0x80, 0xff)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        pos, run = _position(data, rng), rng.randint(1, 4)
        out[pos : pos + run] = bytes([rng.choice([0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF])]) * len(out[pos : pos + run])
    return bytes(out)


def truncate(data: bytes, fmt: str, rng: random.Random) -> bytes:
    """Cut off at a random point (anywhere from inside the header to one byte short)."""
    return data[: rng.randrange(1, len(data))] if len(data) > 1 else data


def splice(data: bytes, fmt: str, rng: random.Random) -> bytes:
    """A segment of the file, or of another format's seed image, pasted in at another place (copied or moved)."""
    donor = data if rng.random() < 0.5 else seed_image(rng.choice([f for f in available_formats() if f != "HEIC"]), rng)
    start = rng.randrange(len(donor))
    piece = donor[start : start + rng.randint(1, max(1, len(donor) // 4))]
    at = _position(data, rng)
    if rng.random() < 0.5:
        return data[:at] + piece + data[at:]  # inserted
    return data[:at] + piece + data[at + len(piece) :]  # overwritten


def _side(rng: random.Random, bits: int) -> int:
    return min(rng.choice(EXTREME_SIDES) if rng.random() < 0.8 else rng.getrandbits(bits), 2**bits - 1)


def header_size(data: bytes, fmt: str, rng: random.Random) -> bytes:
    """The width and/or height fields of the format's header set to extreme values (PNG: CRC fixed)."""
    editor = _SIZE_EDITORS.get(fmt)
    edited = editor(data, rng) if editor is not None else None
    return flip_bits(data, fmt, rng) if edited is None else edited


def _png_size_edit(data: bytes, rng: random.Random) -> bytes | None:
    if data[:8] != _PNG_SIGNATURE:
        return None
    width, height = png_size(data)
    which = rng.randrange(3)
    return set_png_size(data, _side(rng, 32) if which != 1 else width, _side(rng, 32) if which != 0 else height)


def _jpeg_size_edit(data: bytes, rng: random.Random) -> bytes | None:
    for marker in (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2"):
        at = data.find(marker)
        if at >= 0 and at + 9 <= len(data):
            out = bytearray(data)
            if rng.random() < 0.7:
                out[at + 5 : at + 7] = struct.pack(">H", _side(rng, 16))  # height
            if rng.random() < 0.7:
                out[at + 7 : at + 9] = struct.pack(">H", _side(rng, 16))  # width
            return bytes(out)
    return None


def _gif_size_edit(data: bytes, rng: random.Random) -> bytes | None:
    if data[:3] != b"GIF" or len(data) < 10:
        return None
    out = bytearray(data)
    spots = [6]  # logical screen
    descriptor = data.find(b"\x2c", 13)
    if descriptor >= 0 and descriptor + 9 <= len(data):
        spots.append(descriptor + 5)  # first image descriptor: left, top, width, height
    at = rng.choice(spots)
    out[at : at + 4] = struct.pack("<HH", _side(rng, 16), _side(rng, 16))
    return bytes(out)


def _tiff_size_edit(data: bytes, rng: random.Random) -> bytes | None:
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None or len(data) < 8:
        return None
    (ifd,) = struct.unpack(order + "I", data[4:8])
    if ifd + 2 > len(data):
        return None
    (count,) = struct.unpack(order + "H", data[ifd : ifd + 2])
    out = bytearray(data)
    edited = False
    for i in range(count):
        entry = ifd + 2 + 12 * i
        if entry + 12 > len(data):
            break
        tag, kind = struct.unpack(order + "HH", data[entry : entry + 4])
        if tag in (256, 257) and rng.random() < 0.7:  # ImageWidth, ImageLength
            value = struct.pack(order + "H", _side(rng, 16)) + b"\x00\x00" if kind == 3 else struct.pack(order + "I", _side(rng, 32))
            out[entry + 8 : entry + 12] = value
            edited = True
    return bytes(out) if edited else None


def _webp_size_edit(data: bytes, rng: random.Random) -> bytes | None:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP" or len(data) < 30:
        return None
    out = bytearray(data)
    kind = data[12:16]
    if kind == b"VP8X":  # canvas width - 1, height - 1: 24 bits each
        out[24:30] = (_side(rng, 24)).to_bytes(3, "little") + (_side(rng, 24)).to_bytes(3, "little")
    elif kind == b"VP8L":  # 14 bits each, packed after the signature byte
        bits = (_side(rng, 14) & 0x3FFF) | ((_side(rng, 14) & 0x3FFF) << 14) | (int.from_bytes(data[21:25], "little") & ~0xFFFFFFF)
        out[21:25] = (bits & 0xFFFFFFFF).to_bytes(4, "little")
    elif kind == b"VP8 ":  # 14-bit width and height after the start code
        out[26:30] = struct.pack("<HH", _side(rng, 16), _side(rng, 16))
    else:
        return None
    return bytes(out)


def _heif_size_edit(data: bytes, rng: random.Random) -> bytes | None:
    at = data.find(b"ispe")
    if at < 0 or at + 16 > len(data):
        return None
    out = bytearray(data)
    out[at + 8 : at + 16] = struct.pack(">II", _side(rng, 32), _side(rng, 32))
    return bytes(out)


_SIZE_EDITORS: dict[str, Callable[[bytes, random.Random], bytes | None]] = {
    "PNG": _png_size_edit,
    "JPEG": _jpeg_size_edit,
    "GIF": _gif_size_edit,
    "TIFF": _tiff_size_edit,
    "WEBP": _webp_size_edit,
    "HEIC": _heif_size_edit,
}


def length_field(data: bytes, fmt: str, rng: random.Random) -> bytes:
    """A chunk, segment or box length set to a boundary value (PNG chunk, JPEG segment, RIFF chunk, HEIF box)."""
    out = bytearray(data)
    value = rng.choice([0, 1, 2, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, rng.getrandbits(32)])
    if fmt == "PNG" and data[:8] == _PNG_SIGNATURE:
        chunks = _png_chunks(data)
        if chunks:
            pos, _ = rng.choice(chunks)
            out[pos : pos + 4] = struct.pack(">I", value & 0xFFFFFFFF)
            return bytes(out)
    if fmt == "JPEG":
        markers = [i for i in range(2, len(data) - 3) if data[i] == 0xFF and 0xC0 <= data[i + 1] <= 0xFE and data[i + 1] != 0xD8]
        if markers:
            at = rng.choice(markers[:64])
            out[at + 2 : at + 4] = struct.pack(">H", value & 0xFFFF)
            return bytes(out)
    if fmt in ("WEBP", "HEIC") and len(data) >= 8:
        at = 4 if fmt == "WEBP" else rng.choice([0] + [i - 4 for i in (data.find(b"meta"), data.find(b"mdat"), data.find(b"iloc")) if i >= 4])
        out[at : at + 4] = struct.pack("<I" if fmt == "WEBP" else ">I", value & 0xFFFFFFFF)
        return bytes(out)
    return interesting_bytes(data, fmt, rng)


def png_recrc(data: bytes, fmt: str, rng: random.Random) -> bytes:
    """Bits flipped inside a PNG's chunks and every CRC fixed, so the damage reaches the inflater and the filters."""
    return _fix_png_crcs(flip_bits(data, fmt, rng)) if fmt == "PNG" else flip_bits(data, fmt, rng)


MUTATIONS: dict[str, Mutation] = {
    "flip_bits": flip_bits,
    "interesting_bytes": interesting_bytes,
    "truncate": truncate,
    "splice": splice,
    "header_size": header_size,
    "length_field": length_field,
    "png_recrc": png_recrc,
}
"""The damage :func:`mutate` draws from, by name."""


def mutate(data: bytes, fmt: str, rng: random.Random, names: list[str] | None = None) -> bytes:
    """``data`` damaged by the :data:`MUTATIONS` named (default: one to three drawn from ``rng``), in order."""
    chosen = names if names is not None else [rng.choice(sorted(MUTATIONS)) for _ in range(rng.randint(1, 3))]
    for name in chosen:
        data = MUTATIONS[name](data, fmt, rng)
        if not data:
            data = b"\x00"
    return data


@dataclass(frozen=True)
class FuzzCase:
    """One fuzz input: the format, the case's seed, the mutations applied and the damaged bytes."""

    fmt: str
    seed: int
    mutations: tuple[str, ...]
    data: bytes


def fuzz_case(fmt: str, seed: int, names: list[str] | None = None) -> FuzzCase:
    """The fuzz input of ``(fmt, seed)``: a seed image drawn and damaged from ``random.Random(seed)`` alone.

    One in eight cases is the undamaged seed image (the property holds for
    valid files too, and they exercise the decode path to its end).
    """
    rng = random.Random(f"{fmt}-{seed}")
    data = seed_image(fmt, rng)
    if names is None:
        names = [] if rng.random() < 0.125 else [rng.choice(sorted(MUTATIONS)) for _ in range(rng.randint(1, 3))]
    return FuzzCase(fmt, seed, tuple(names), mutate(data, fmt, rng, list(names)))
