"""Is a compositing manager running? Without one a per-pixel translucent window is drawn opaque.

On X11 a compositor owns the selection ``_NET_WM_CM_S<screen>`` (EWMH);
without one an ARGB window's colour is drawn as is, and the overlay (grey
levels 0..8, premultiplied) would black out the screen. So the agent shows
its windows only while the selection has an owner, and checks it at every
poll. Wayland, Windows (DWM since Windows 8) and macOS always composite.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import threading

__all__ = ["Compositor"]


class Compositor:
    """Asks the X server whether a compositor runs (one connection, kept open).

    Parameters
    ----------
    platform : str
        Qt's platform name (``QGuiApplication.platformName()``): ``"xcb"`` is checked, others composite.
    display : str, optional
        The X display (default ``$DISPLAY``).
    """

    def __init__(self, platform: str, display: str | None = None) -> None:
        self.platform = platform
        self._lock = threading.Lock()
        self._display: int | None = None
        self._atom = 0
        self._x11: ctypes.CDLL | None = None
        if platform != "xcb":
            return
        name = display if display is not None else os.environ.get("DISPLAY", "")
        match = re.search(r"\.(\d+)$", name)
        screen = int(match.group(1)) if match else 0
        path = ctypes.util.find_library("X11")
        if path is None:
            raise OSError("libX11 not found: cannot tell whether a compositor runs")
        x11 = ctypes.CDLL(path)
        x11.XOpenDisplay.restype = ctypes.c_void_p
        x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x11.XInternAtom.restype = ctypes.c_ulong
        x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        x11.XGetSelectionOwner.restype = ctypes.c_ulong
        x11.XGetSelectionOwner.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        handle = x11.XOpenDisplay(name.encode() if name else None)
        if not handle:
            raise OSError(f"cannot open the X display {name!r}")
        self._x11, self._display = x11, handle
        self._atom = x11.XInternAtom(handle, f"_NET_WM_CM_S{screen}".encode(), 0)

    def running(self) -> bool:
        """True when translucent windows are composited now."""
        if self._x11 is None or self._display is None:
            return True
        with self._lock:
            return bool(self._x11.XGetSelectionOwner(self._display, self._atom))

    def close(self) -> None:
        """Close the X connection."""
        if self._x11 is not None and self._display is not None:
            self._x11.XCloseDisplay(self._display)
            self._display = None
