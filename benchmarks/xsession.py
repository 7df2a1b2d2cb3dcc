"""A throwaway X display for the desktop agent's tests and benchmark: Xvfb, a compositor, root screenshots.

:class:`XSession` starts Debian's ``Xvfb`` on a free display number and,
unless told not to, ``picom --backend xrender`` (a compositing manager:
without one the agent refuses to draw). :meth:`XSession.capture` takes the
composited screen with ``xwd -root`` and :func:`read_xwd` decodes it: the
pixels a screenshot tool on that workstation would save. The packages come
from the project's setup (``scripts/test-services.sh``).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["TOOLS", "XSession", "missing_tools", "read_xwd"]

TOOLS = ("Xvfb", "picom", "xwd", "xdotool", "xrandr")
"""The Debian programs the agent's tests use (packages xvfb, picom, x11-apps, xdotool, x11-xserver-utils)."""


def missing_tools() -> list[str]:
    """The programs of :data:`TOOLS` not on PATH."""
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def read_xwd(data: bytes) -> NDArray[np.uint8]:
    """Decode an X window dump (``xwd``, 24/32-bit TrueColor ZPixmap) to HxWx3 RGB.

    Raises
    ------
    ValueError
        For a dump in another format.
    """
    if len(data) < 100:
        raise ValueError("not an XWD file: too short")
    fields = struct.unpack(">25I", data[:100])
    header_size, version, pixmap_format, _, width, height = fields[:6]
    byte_order, bits_per_pixel, bytes_per_line, visual_class = fields[7], fields[11], fields[12], fields[13]
    masks, ncolors = fields[14:17], fields[19]
    if version != 7 or pixmap_format != 2 or bits_per_pixel not in (24, 32) or visual_class not in (4, 5):
        raise ValueError(f"unsupported XWD: version {version}, format {pixmap_format}, {bits_per_pixel} bpp, "
                         f"visual class {visual_class}")
    stride = bits_per_pixel // 8  # 24 bpp dumps are packed, their rows padded to bytes_per_line
    if bytes_per_line < stride * width:
        raise ValueError(f"unsupported XWD: {bytes_per_line} bytes per row for {width} pixels of {stride} bytes")
    offset = header_size + 12 * ncolors
    if len(data) < offset + bytes_per_line * height:
        raise ValueError("XWD file is truncated")
    rows = np.frombuffer(data, np.uint8, count=bytes_per_line * height, offset=offset).reshape(height, bytes_per_line)
    pixels = rows[:, :stride * width].reshape(height, width, stride).astype(np.uint32)
    order = range(stride) if byte_order == 1 else range(stride - 1, -1, -1)  # most significant byte first
    words = np.zeros((height, width), np.uint32)
    for i in order:
        words = (words << 8) | pixels[:, :, i]
    out = np.empty((height, width, 3), np.uint8)
    for channel, mask in enumerate(masks):
        shift = int(mask).bit_length() - 8
        out[:, :, channel] = (words & mask) >> shift
    return out


def _free_display() -> int:
    for number in range(90, 200):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            return number
    raise RuntimeError("no free X display number in 90..199")


class XSession:
    """Xvfb (and picom) on a free display; a context manager.

    Parameters
    ----------
    size : (width, height)
        Of the X screen, in device pixels.
    compositor : bool
        Start picom (default True).
    """

    def __init__(self, size: tuple[int, int] = (1280, 800), *, compositor: bool = True) -> None:
        self.size = size
        self.number = _free_display()
        self.display = f":{self.number}"
        self._procs: list[subprocess.Popen[bytes]] = []
        self.compositor: subprocess.Popen[bytes] | None = None
        self._start(compositor)

    @property
    def env(self) -> dict[str, str]:
        """The environment for a program on this display (X11, no Wayland, no session bus)."""
        env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
        env.update(DISPLAY=self.display, QT_QPA_PLATFORM="xcb", XDG_SESSION_TYPE="x11")
        return env

    def _start(self, compositor: bool) -> None:
        w, h = self.size
        xvfb = subprocess.Popen(["Xvfb", self.display, "-screen", "0", f"{w}x{h}x24", "-nolisten", "tcp",
                                 "-nocursor"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._procs.append(xvfb)
        socket = Path(f"/tmp/.X11-unix/X{self.number}")
        deadline = time.monotonic() + 15
        while not socket.exists():
            if xvfb.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"Xvfb {self.display} did not start")
            time.sleep(0.05)
        self.run("xsetroot", "-solid", "#5a6470", check=False)
        if compositor:
            self.start_compositor()

    def start_compositor(self) -> None:
        """Start picom (xrender backend) and wait until it owns the compositing selection."""
        self.compositor = subprocess.Popen(["picom", "--backend", "xrender", "--no-fading-openclose", *os.environ.get("XS_PICOM", "").split()],
                                           env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._procs.append(self.compositor)
        time.sleep(0.8)  # picom takes the _NET_WM_CM_S0 selection and paints its first frame

    def stop_compositor(self) -> None:
        """Stop picom (the agent must then hide its windows)."""
        if self.compositor is not None:
            self.compositor.terminate()
            self.compositor.wait(timeout=10)
            self.compositor = None

    def run(self, *argv: str, check: bool = True, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        """Run an X client on this display and wait for it."""
        return subprocess.run(list(argv), env=self.env, check=check, capture_output=True, timeout=60, **kwargs)

    def spawn(self, *argv: str, **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start an X client on this display; it is killed on :meth:`close`."""
        kwargs.setdefault("stdout", subprocess.DEVNULL)
        kwargs.setdefault("stderr", subprocess.DEVNULL)
        proc = subprocess.Popen(list(argv), env=kwargs.pop("env", self.env), **kwargs)
        self._procs.append(proc)
        return proc

    def capture(self) -> NDArray[np.uint8]:
        """The composited screen (``xwd -root``) as HxWx3 RGB."""
        return read_xwd(self.run("xwd", "-root", "-silent").stdout)

    def close(self) -> None:
        """Stop every process started here, the newest first."""
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._procs.clear()

    def __enter__(self) -> XSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
