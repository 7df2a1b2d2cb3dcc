"""The overlay windows (Qt for Python): one frameless, click-through, always-on-top layer per monitor.

Each monitor gets a top-level window covering its geometry, per-pixel
translucent, transparent for input (``Qt.WindowTransparentForInput``: on
X11 an empty input shape, on Windows ``WS_EX_TRANSPARENT``, on macOS
``ignoresMouseEvents``), never focused, not in the task bar. Its image is
the overlay at the monitor's *device* resolution (geometry times the
device pixel ratio, 100 % to 200 % and between), drawn with that ratio so
that one overlay pixel lands on one device pixel; the tile origin is the
monitor's top-left corner. Windows follow monitors being added, removed,
moved or rescaled (checked at every poll, so a change Qt reports only as a
new ratio is caught too).

The timestamp renews by drawing the next minute's image into the same
mapped window: the compositor shows the old frame until the new one is
complete, so the screen is never unmarked in between (no hide and show).
The overlay's premultiplied colour is the tile's level itself (0 .. 2h) at
alpha 2h, which adds exactly the mark's levels (see :func:`watermark.overlay`).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

import watermark

from ._compositor import Compositor
from ._marks import MarkTile
from ._state import Marking, MarkingStatus

__all__ = ["run_overlay"]

log = logging.getLogger("leaktrace.agent")

POLL_MS = 250
"""How often the session, the clock, the compositor and the monitors are checked."""

HEARTBEAT_S = 2.0
"""Seconds between heartbeats to the watchdog."""


def _visible_layer(text: str, width: int, height: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """(alpha, premultiplied RGB) of :func:`watermark.visible_mark` at this size, from two renderings.

    Over black the mark gives ``o c k``; over white ``255 - o c (255 - k)``; their difference is ``255 (1 - o c)``.
    """
    black = watermark.visible_mark(np.zeros((height, width, 3), np.uint8), text).astype(np.float32)
    white = watermark.visible_mark(np.full((height, width, 3), 255, np.uint8), text).astype(np.float32)
    alpha = np.clip(1.0 - (white - black).mean(axis=2) / 255.0, 0.0, 1.0)
    return alpha, black


def compose(tile: MarkTile, width: int, height: int, visible_text: str | None = None) -> NDArray[np.uint8]:
    """The premultiplied RGBA image of one monitor: the invisible overlay, over the visible mark when asked."""
    image = tile.premultiplied(width, height)
    if visible_text is None:
        return image
    a = 2.0 * tile.half / 255.0
    alpha_v, premult_v = _visible_layer(visible_text, width, height)
    out = np.empty_like(image)
    out[:, :, :3] = np.clip(np.rint(premult_v * (1.0 - a) + image[:, :, :3]), 0, 255).astype(np.uint8)
    out[:, :, 3] = np.clip(np.rint(255.0 * (alpha_v + a - alpha_v * a)), 0, 255).astype(np.uint8)
    return out


Rect = tuple[int, int, int, int]


def _overlap(a: Rect, b: Rect) -> Rect | None:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    return (x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


def covered_parts(geometries: list[Rect]) -> list[tuple[Rect, ...] | None]:
    """For each monitor (device pixels: x, y, w, h), the parts another monitor's window already marks; None if all.

    Mirrored monitors, and X servers that list a whole screen beside its
    monitors, give overlapping geometries; two overlays composited on one
    pixel would add the mark twice, with two tile origins. Smaller monitors
    are drawn first; each later one leaves what they cover transparent.

    >>> covered_parts([(0, 0, 2560, 800), (0, 0, 1280, 800), (1280, 0, 1280, 800)])
    [None, (), ()]
    >>> covered_parts([(0, 0, 2560, 800), (0, 0, 1280, 800)])
    [((0, 0, 1280, 800),), ()]
    """
    order = sorted(range(len(geometries)), key=lambda i: (geometries[i][2] * geometries[i][3], i))
    done: list[Rect] = []
    out: list[tuple[Rect, ...] | None] = [None] * len(geometries)
    for i in order:
        g = geometries[i]
        parts = tuple(p for p in (_overlap(g, d) for d in done) if p is not None)
        mask = np.zeros((g[3], g[2]), bool)
        for x, y, w, h in parts:
            mask[y - g[1]:y - g[1] + h, x - g[0]:x - g[0] + w] = True
        out[i] = None if mask.all() else parts
        done.append(g)
    return out


def native_rect(layout: tuple[Any, ...]) -> Rect:
    """A monitor's rectangle in device pixels from Qt's (logical x, y, w, h, ratio).

    Qt keeps a monitor's origin in device pixels and divides only its size by
    the ratio, so monitors of different scales are compared in device pixels.
    """
    x, y, w, h, dpr = layout
    return (int(x), int(y), max(1, round(w * dpr)), max(1, round(h * dpr)))


def _arrange(windows: Any) -> list[tuple[Any, tuple[Rect, ...] | None]]:
    ordered = list(windows)
    return list(zip(ordered, covered_parts([native_rect(w.layout_key()) for w in ordered])))


def _clear(image: NDArray[np.uint8], covered: tuple[Rect, ...], origin: tuple[int, int]) -> NDArray[np.uint8]:
    """``image`` (a monitor's, device pixels) made transparent over the ``covered`` device-pixel rectangles."""
    for x, y, w, h in covered:
        x0, y0 = x - origin[0], y - origin[1]
        image[y0:y0 + h, x0:x0 + w] = 0
    return image


def run_overlay(marking: Marking, *, visible: bool = False, status_file: Path | None = None,
                heartbeat: bool = False, argv: list[str] | None = None) -> int:
    """Show the overlay until SIGTERM / SIGINT; returns the exit status (0 on a clean stop).

    Raises
    ------
    ImportError
        If Qt for Python (PySide6, the ``agent`` extra) is not installed.
    """
    from PySide6 import QtCore, QtGui, QtWidgets

    QtGui.QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        QtCore.Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app: Any = QtWidgets.QApplication.instance() or QtWidgets.QApplication(argv or [sys.argv[0]])
    app.setQuitOnLastWindowClosed(False)
    platform = QtGui.QGuiApplication.platformName()
    compositor = Compositor(platform)
    if platform.startswith("wayland"):
        log.warning("Wayland: windows cannot be placed or kept above others; run the agent under X11 (XWayland)")

    flags = (QtCore.Qt.WindowType.FramelessWindowHint | QtCore.Qt.WindowType.WindowStaysOnTopHint
             | QtCore.Qt.WindowType.Tool | QtCore.Qt.WindowType.WindowTransparentForInput
             | QtCore.Qt.WindowType.WindowDoesNotAcceptFocus)
    if platform == "xcb":
        flags |= QtCore.Qt.WindowType.X11BypassWindowManagerHint

    class ScreenWindow(QtWidgets.QWidget):
        def __init__(self, screen: Any) -> None:
            super().__init__(None, flags)
            self.screen_ = screen
            self.image: Any = None
            self.shown_key: tuple[Any, ...] | None = None
            for attribute in (QtCore.Qt.WidgetAttribute.WA_TranslucentBackground,
                              QtCore.Qt.WidgetAttribute.WA_ShowWithoutActivating,
                              QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents):
                self.setAttribute(attribute)
            self.setWindowTitle("leaktrace screen mark")

        def layout_key(self) -> tuple[Any, ...]:
            g = self.screen_.geometry()
            return (g.x(), g.y(), g.width(), g.height(), float(self.screen_.devicePixelRatio()))

        def device_size(self) -> tuple[int, int]:
            return native_rect(self.layout_key())[2:]

        def show_image(self, rgba: NDArray[np.uint8], key: tuple[Any, ...]) -> None:
            h, w = rgba.shape[:2]
            image = QtGui.QImage(rgba.data, w, h, 4 * w, QtGui.QImage.Format.Format_RGBA8888_Premultiplied).copy()
            image.setDevicePixelRatio(self.layout_key()[4])
            self.image = image
            geometry = self.screen_.geometry()
            if self.geometry() != geometry or self.shown_key is None or self.shown_key[1:] != key[1:]:
                self.setScreen(self.screen_)
                self.setGeometry(geometry)
            self.shown_key = key
            if not self.isVisible():
                self.show()
            self.update()

        def paintEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
            painter = QtGui.QPainter(self)
            painter.setCompositionMode(QtGui.QPainter.CompositionMode.CompositionMode_Source)
            if self.image is not None:
                painter.drawImage(QtCore.QPointF(0, 0), self.image)
            else:
                painter.fillRect(self.rect(), QtCore.Qt.GlobalColor.transparent)
            painter.end()

    class Notice(QtWidgets.QLabel):
        """Told to the user at the screen: marking is off (the administrator reads the log and the ledger)."""

        def __init__(self) -> None:
            super().__init__(None, QtCore.Qt.WindowType.FramelessWindowHint
                             | QtCore.Qt.WindowType.WindowStaysOnTopHint | QtCore.Qt.WindowType.Tool
                             | QtCore.Qt.WindowType.WindowDoesNotAcceptFocus)
            self.setAttribute(QtCore.Qt.WidgetAttribute.WA_ShowWithoutActivating)
            self.setStyleSheet("background:#b00020;color:white;padding:8px;font-size:13px;")
            self.setWordWrap(True)
            self.setFixedWidth(380)

        def tell(self, reason: str) -> None:
            self.setText(f"<b>Screen marking is OFF.</b><br>{reason}<br>IT has been notified.")
            self.adjustSize()
            geometry = QtGui.QGuiApplication.primaryScreen().availableGeometry()
            self.move(geometry.right() - self.width() - 16, geometry.top() + 16)
            if not self.isVisible():
                self.show()
            self.raise_()

    windows: dict[Any, ScreenWindow] = {}
    notice = Notice()
    last: dict[str, Any] = {"status": None, "beat": 0.0, "compositor": None}
    stopping: list[int] = []

    def sync_screens() -> None:
        screens = list(QtGui.QGuiApplication.screens())
        for screen in list(windows):
            if screen not in screens:
                windows.pop(screen).close()
                log.info("monitor removed")
        for screen in screens:
            if screen not in windows:
                windows[screen] = ScreenWindow(screen)
                log.info("monitor %s: %s at scale %s", screen.name(), screen.geometry().getRect(),
                         screen.devicePixelRatio())

    def write_status(status: MarkingStatus) -> None:
        summary = (status.state, status.reason, status.tile.viewer_id if status.tile else None,
                   status.tile.minute if status.tile else None, len(windows))
        if summary == last["status"]:
            return
        last["status"] = summary
        if status_file is not None:
            doc = {"state": status.state, "reason": status.reason, "pid": os.getpid(),
                   "viewer_id": status.tile.viewer_id if status.tile else None,
                   "minute": status.tile.minute.isoformat() if status.tile else None,
                   "screens": [{"name": w.screen_.name(), "device_size": list(w.device_size()),
                                "scale": w.layout_key()[4], "origin": list(w.layout_key()[:2])}
                               for w in windows.values()]}
            tmp = status_file.with_name(status_file.name + ".tmp")
            tmp.write_text(json.dumps(doc), encoding="utf-8")
            os.replace(tmp, status_file)
        if status.state == "marking" and status.tile is not None:
            log.info("marking viewer %s, minute %s, on %d monitor(s)", status.tile.viewer_id,
                     status.tile.minute.strftime("%H:%MZ"), len(windows))

    def tick() -> None:
        if stopping:
            return
        sync_screens()
        composited = compositor.running()
        if composited != last["compositor"]:
            last["compositor"] = composited
            if not composited:
                log.error("no compositing manager: a translucent overlay cannot be shown")
        status = marking.poll(can_show=composited, cannot_show_reason=(
            "" if composited else "no compositing manager is running, so the overlay cannot be drawn"))
        if status.state == "marking" and status.tile is not None:
            tile = status.tile
            text = None
            if visible and status.session is not None:
                text = watermark.visible_mark_text(status.session.identity.display_name, tile.viewer_id, tile.minute)
            for window, covered in _arrange(windows.values()):
                key = (tile.viewer_id, tile.minute, *window.layout_key(), text is not None, covered)
                if key != window.shown_key:
                    w, h = window.device_size()
                    if covered is None:
                        # Wholly under other monitors' windows (a mirror, or an X screen listed beside its
                        # monitors): mapped but clear. Unmapping it, picom 9 (xrender) painted the screen
                        # black under the other windows when they tiled it exactly; a clear window does not.
                        image = np.zeros((h, w, 4), np.uint8)
                    else:
                        image = _clear(compose(tile, w, h, text), covered, key[2:4])
                    window.show_image(image, key)
                window.raise_()  # above windows mapped after it (no window manager keeps it there)
            notice.hide()
        else:
            for window in windows.values():
                window.hide()
                window.shown_key = None
            if status.state == "off":
                notice.tell(status.reason)
            else:
                notice.hide()
        write_status(status)
        if heartbeat and time.monotonic() - last["beat"] >= HEARTBEAT_S:
            last["beat"] = time.monotonic()
            try:
                sys.stdout.write(f"alive {status.state}\n")
                sys.stdout.flush()
            except OSError:  # the watchdog is gone
                stop(signal.SIGTERM)

    def stop(signum: int, *_: Any) -> None:
        stopping.append(signum)
        app.quit()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    timer = QtCore.QTimer()
    timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
    timer.timeout.connect(tick)
    timer.start(POLL_MS)
    QtCore.QTimer.singleShot(0, tick)
    try:
        app.exec()
    finally:
        timer.stop()
        for window in windows.values():
            window.hide()
        marking.close("agent stopped" if stopping else "agent exited")
        compositor.close()
    return 0
