"""Shared fixtures. Results depend on the fixed seeds below; change them only with care."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

import watermark
from synthetic import render_screen

KEY_SEED = bytes(range(32))  # fixed key: results below depend on it


@pytest.fixture(scope="session")
def key() -> watermark.Key:
    return watermark.Key(KEY_SEED)


@pytest.fixture(scope="session")
def other_key() -> watermark.Key:
    return watermark.Key(bytes(range(100, 132)))


@pytest.fixture(scope="session")
def payload() -> watermark.Payload:
    return watermark.Payload(viewer_id=4821, timestamp=datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc))


@pytest.fixture(scope="session")
def screen() -> np.ndarray:
    return render_screen("labs_chart", size=(1366, 768), seed=3)


@pytest.fixture(scope="session")
def marked(screen, payload, key) -> np.ndarray:
    return watermark.embed(screen, payload, key)


# ----------------------------------------------------------------- inputs that must fail cleanly at the door
HOSTILE_INPUTS = {
    # kind: what the error message must say (a regex)
    "directory": r"is a directory, not a regular file",
    "dev-zero": r"/dev/zero: is a character device, not a regular file",
    "fifo": r"is a named pipe \(FIFO\), not a regular file",
    "sparse-5g": r"5368709120 bytes is over the limit of 268435456 bytes",
    "1x1": r"1x1 pixels is too small",
    "20000x8": r"20000x8 pixels is too small",
    "bomb": r"14000x14000 = 196000000 pixels is over the limit of 100000000",
    "garbage": r"not a recognised image file",
}
"""Inputs each CLI must refuse with one clear line and exit 2: the kind, and the message expected."""


@pytest.fixture(scope="session")
def bomb_png() -> bytes:
    """A 14000 x 14000 PNG of a few hundred KB: over the 100 MP limit and over Pillow's own bomb threshold."""
    from synthetic.hostile import decompression_bomb_png

    return decompression_bomb_png(14000)


@pytest.fixture(params=list(HOSTILE_INPUTS))
def hostile_input(request, tmp_path, bomb_png) -> tuple[str, str]:
    """``(path, expected message)`` for each of ``HOSTILE_INPUTS``' kinds: a file, directory, pipe or device."""
    import os

    from PIL import Image

    kind = request.param
    path = tmp_path / f"{kind}.png"
    if kind == "directory":
        path.mkdir()
    elif kind == "dev-zero":
        if not os.path.exists("/dev/zero"):
            pytest.skip("needs /dev/zero")
        return "/dev/zero", HOSTILE_INPUTS[kind]
    elif kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("named pipes are POSIX")
        os.mkfifo(path)  # no writer: a plain open() for reading would block forever
    elif kind == "sparse-5g":
        with open(path, "wb") as f:
            f.truncate(5 * 2**30)  # sparse: no disk used; it must be refused by its size, unread
    elif kind in ("1x1", "20000x8"):
        width, height = (int(s) for s in kind.split("x"))
        Image.new("RGB", (width, height), "white").save(path)
    elif kind == "bomb":
        path.write_bytes(bomb_png)
    elif kind == "garbage":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    return str(path), HOSTILE_INPUTS[kind]
