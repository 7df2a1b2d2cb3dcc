"""The Dask side of a batch scan (the optional ``dask`` extra; imported only by ``scan_dask``).

Each worker gets the keys once, from a worker plugin, and each task only a
:class:`~tracer._batch.ScanItem`: the worker reads the image itself.
"""

from __future__ import annotations

import os
from typing import Any

from distributed import WorkerPlugin, get_worker

from watermark import Key

from ._batch import ScanItem, scan_item

__all__ = ["KeysPlugin", "scan_on_worker", "restore_malloc_thresholds"]


class KeysPlugin(WorkerPlugin):
    """A Dask worker plugin holding the keys: shipped once per worker, never with a task."""

    name = "leaktrace-keys"

    def __init__(self, keys: list[Key]) -> None:
        self.keys = keys

    def setup(self, worker: Any) -> None:
        worker.leaktrace_keys = self.keys
        worker.leaktrace_malloc_restored = restore_malloc_thresholds()


def restore_malloc_thresholds() -> bool:
    """Undo a fixed ``MALLOC_TRIM_THRESHOLD_`` in this process (glibc): the trace runs twice as fast again.

    A Dask nanny starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536``
    (``distributed.nanny.pre-spawn-environ``). Setting any glibc malloc
    threshold switches off its dynamic mmap threshold, so every array over
    128 KiB is a fresh ``mmap`` whose pages fault in zeroed on first touch:
    a trace's many short-lived full-frame arrays then cost about 2x in all
    and 10x in the elementwise resampling (measured: 1080p screenshots
    2.3 s per image on a Dask worker against 1.2 s in a pool worker).
    The thresholds are set to where glibc's dynamic rule settles (mmap
    above 32 MiB, trim above 64 MiB), which bounds the heap a worker keeps.
    Returns whether it changed anything (False: the variable is unset, or
    not glibc).
    """
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, musl): its allocator ignores the variable
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    return bool(libc.mallopt(m_mmap_threshold, 32 << 20)) and bool(libc.mallopt(m_trim_threshold, 64 << 20))


def scan_on_worker(item: ScanItem, options: dict[str, Any]) -> dict[str, Any]:
    """A Dask task: :func:`~tracer._batch.scan_item` with the keys the plugin left on this worker."""
    return scan_item(item, get_worker().leaktrace_keys, **options)  # type: ignore[attr-defined]
