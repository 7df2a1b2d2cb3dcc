"""Batch scanning: folders, zip archives (a chat export) and list files, streamed, in parallel, resumable.

The unit of work is :func:`scan_item`: a pure, picklable function of one
:class:`ScanItem` (where the image is) and the keys, returning one JSON
row. The local pool (:func:`scan`), Dask (:func:`scan_dask`) and anything
else (Ray, Spark) call the same function. Rows are appended to a JSONL file
as they come, one complete line each and flushed, so a rerun reads the file,
skips what is done and an interrupted run loses nothing (a torn last line,
from a kill mid-write, is dropped and its image scanned again).
"""

from __future__ import annotations

import json
import logging
import os
import time
import zipfile
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from watermark import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, Key, LeaktraceError, OptionError, load_image

from ._search import TimeLimitExceeded
from ._trace import trace

__all__ = ["ScanItem", "iter_items", "scan_item", "scan", "scan_dask", "read_done", "IMAGE_SUFFIXES", "summary_table"]

_log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".heic", ".heif"})
"""File names a folder or archive is searched for (a list file names its images, whatever their suffix)."""
MAX_MEMBER_BYTES = 512 * 2**20
"""An archive member larger than this (uncompressed) is an error row, not read."""


@dataclass(frozen=True)
class ScanItem:
    """Where one image is: a file, or a member of a zip archive. Picklable; the image is read where it is scanned."""

    path: str
    member: str | None = None

    @property
    def id(self) -> str:
        """The row's key in the results file: the path, or ``archive.zip!member``."""
        return self.path if self.member is None else f"{self.path}!{self.member}"

    def read(self) -> bytes:
        """The image's bytes."""
        if self.member is None:
            return Path(self.path).read_bytes()
        with zipfile.ZipFile(self.path) as archive:
            info = archive.getinfo(self.member)
            if info.file_size > MAX_MEMBER_BYTES:
                raise OptionError(f"{self.id}: {info.file_size} bytes uncompressed, over the limit of {MAX_MEMBER_BYTES}",
                                  name="member", value=self.member)
            return archive.read(info)


def _zip_items(path: Path) -> Iterator[ScanItem]:
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.is_dir() and Path(info.filename).suffix.lower() in IMAGE_SUFFIXES:
                yield ScanItem(str(path), info.filename)


def iter_items(sources: Iterable[str | os.PathLike[str]], list_files: Iterable[str | os.PathLike[str]] = ()) -> Iterator[ScanItem]:
    """Every image under ``sources`` (files, folders searched recursively, zip archives) and named in ``list_files``.

    Streamed: a folder is walked and an archive's directory read as the
    items are consumed. Folders are walked in sorted order, so two runs see
    the same order. A source that does not exist is yielded as it is (its
    row will say so).
    """
    def expand(path: Path) -> Iterator[ScanItem]:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    child = Path(root) / name
                    if child.suffix.lower() == ".zip":
                        yield from _zip_or_error(child)
                    elif child.suffix.lower() in IMAGE_SUFFIXES:
                        yield ScanItem(str(child))
        elif path.suffix.lower() == ".zip" and path.is_file():
            yield from _zip_or_error(path)
        else:
            yield ScanItem(str(path))

    for source in sources:
        yield from expand(Path(source))
    for list_file in list_files:
        with open(list_file, encoding="utf-8") as lines:
            for line in lines:
                if line.strip() and not line.lstrip().startswith("#"):
                    yield from expand(Path(line.strip()))


def _zip_or_error(path: Path) -> Iterator[ScanItem]:
    if not path.is_file():  # a named pipe or device called *.zip: the loader refuses it, unopened (zipfile would block)
        yield ScanItem(str(path))
        return
    try:
        yield from _zip_items(path)
    except (zipfile.BadZipFile, OSError):
        yield ScanItem(str(path), "")  # scanned as an error row: the archive cannot be read


def scan_item(item: ScanItem, keys: Sequence[Key], *, thorough: bool = False, time_limit: float | None = None,
              max_pixels: int = DEFAULT_MAX_PIXELS, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """Trace one image and return its result row (never raises for a bad image: the row says ``error``).

    Row fields: ``id``, ``status`` (``traced``, ``clean`` - no mark found -,
    ``dismissed`` - clean, by the fast rejection -, ``timeout`` or
    ``error``), ``viewer_id``, ``timestamp``, ``key_fingerprint``,
    ``false_attribution_probability``, ``detection_score``, ``screening``
    (the fast rejection's reason), ``seconds``, ``error``.
    """
    t = time.perf_counter()
    row: dict[str, Any] = {"id": item.id, "status": "error", "viewer_id": None, "timestamp": None, "key_fingerprint": None,
                           "false_attribution_probability": None, "detection_score": None, "screening": None, "error": None}
    try:
        if item.member == "":
            raise OptionError(f"{item.path}: not a readable zip archive", name="archive", value=item.path)
        source: Any = item.path if item.member is None else item.read()
        loaded = load_image(source, max_pixels=max_pixels, max_bytes=max_bytes)
        res = trace(loaded, keys, max_pixels=max_pixels, thorough=thorough, time_limit=time_limit)
        row.update(
            status="traced" if res.found else "dismissed" if res.dismissed else "clean",
            false_attribution_probability=res.false_attribution_probability,
            detection_score=None if res.detection_score == float("-inf") else round(float(res.detection_score), 3),
            screening=None if res.screening is None else res.screening.reason,
            sha256=res.sha256,
        )
        if res.found and res.payload is not None:
            row.update(viewer_id=res.payload.viewer_id, timestamp=res.payload.timestamp.isoformat(), key_fingerprint=res.key_fingerprint)
    except TimeLimitExceeded as exc:
        row.update(status="timeout", error=str(exc))
    except (LeaktraceError, OSError, ValueError, zipfile.BadZipFile) as exc:
        row.update(status="error", error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    except MemoryError:
        row.update(status="error", error="out of memory")
    except Exception as exc:  # a bug: the row says so, and the scan of the other images goes on
        _log.exception("internal error scanning %s", item.id)
        row.update(status="error", error=f"internal error ({type(exc).__name__}: {exc})")
    row["seconds"] = round(time.perf_counter() - t, 4)
    return row


def read_done(path: Path) -> dict[str, dict[str, Any]]:
    """Rows already in a results file, by id (a torn last line is dropped, and cut off the file)."""
    done: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return done
    good = 0
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                break
            try:
                row = json.loads(line)
            except ValueError:
                break
            done[row["id"]] = row
            good += len(line)
    if good != path.stat().st_size:
        with open(path, "r+b") as f:
            f.truncate(good)
    return done


_WORKER_KEYS: list[Key] = []


def _init_worker(keys: list[Key]) -> None:
    """Process-pool initializer: the keys, once per worker."""
    _WORKER_KEYS[:] = keys


def _scan_in_worker(item: ScanItem, options: dict[str, Any]) -> dict[str, Any]:
    return scan_item(item, _WORKER_KEYS, **options)


RETRY_STATUSES = ("timeout", "error")
"""Statuses a rerun may scan again (``retry=``): an image that ran past the time limit, or could not be read."""


def _check_retry(retry: Sequence[str]) -> None:
    unknown = set(retry) - set(RETRY_STATUSES)
    if unknown:
        raise OptionError(f"retry takes statuses of {RETRY_STATUSES}, got {sorted(unknown)}", name="retry", value=retry)


def _not_done(items: Iterable[ScanItem], done: dict[str, dict[str, Any]], writer: "_Writer",
              retry: Sequence[str] = ()) -> Iterator[ScanItem]:
    """The items the results file does not hold yet, or holds with a status in ``retry``; the rows of the others
    join this run's rows unwritten."""
    for item in items:
        if item.id in done and done[item.id]["status"] not in retry:
            writer.rows.append(done.pop(item.id))
        else:
            yield item


class _Writer:
    """Appends rows to the results file (one flushed line each) and counts them."""

    def __init__(self, path: Path | None, on_row: Callable[[dict[str, Any]], None] | None) -> None:
        self.file = open(path, "a", encoding="utf-8") if path is not None else None
        self.on_row = on_row
        self.rows: list[dict[str, Any]] = []

    def write(self, row: dict[str, Any]) -> None:
        if self.file is not None:
            self.file.write(json.dumps(row, sort_keys=True) + "\n")
            self.file.flush()
        self.rows.append(row)
        if self.on_row is not None:
            self.on_row(row)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def scan(items: Iterable[ScanItem], keys: Sequence[Key], *, jobs: int = 1, out: Path | None = None,
         thorough: bool = False, time_limit: float | None = None, max_pixels: int = DEFAULT_MAX_PIXELS,
         max_bytes: int = DEFAULT_MAX_BYTES, on_row: Callable[[dict[str, Any]], None] | None = None,
         retry: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Scan images on ``jobs`` local processes, appending each row to ``out`` (JSONL) as it comes.

    Items whose id ``out`` already holds are skipped (a rerun resumes),
    unless their row's status is in ``retry`` (``"timeout"``, ``"error"``):
    those are scanned again and the new row is appended after the old one
    (:func:`read_done` keeps the last row of an id), for a second pass
    with a longer ``time_limit`` over what a quick first pass left open.
    At most ``2 * jobs`` images are in flight, so a folder of any size is
    streamed. Returns a row for every item: those ``out`` held, then this
    run's (``on_row`` sees each new one as it comes).
    """
    _check_retry(retry)
    done = read_done(out) if out is not None else {}
    options = dict(thorough=thorough, time_limit=time_limit, max_pixels=max_pixels, max_bytes=max_bytes)
    writer = _Writer(out, on_row)
    todo = _not_done(items, done, writer, retry)
    try:
        if jobs <= 1:
            for item in todo:
                writer.write(scan_item(item, keys, **options))  # type: ignore[arg-type]
            return writer.rows
        with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(list(keys),)) as pool:
            pending: set[Future[dict[str, Any]]] = set()
            for item in todo:
                pending.add(pool.submit(_scan_in_worker, item, options))
                if len(pending) >= 2 * jobs:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        writer.write(future.result())
            for future in pending:
                writer.write(future.result())
        return writer.rows
    finally:
        writer.close()


def scan_dask(client: Any, items: Iterable[ScanItem], keys: Sequence[Key], *, out: Path | None = None,
              thorough: bool = False, time_limit: float | None = None, max_pixels: int = DEFAULT_MAX_PIXELS,
              max_bytes: int = DEFAULT_MAX_BYTES, on_row: Callable[[dict[str, Any]], None] | None = None, in_flight: int | None = None,
              retry: Sequence[str] = ()) -> list[dict[str, Any]]:
    """:func:`scan` on a Dask cluster (``client``: a ``distributed.Client``).

    The keys go to each worker once (a worker plugin); each task carries
    only a :class:`ScanItem`, and the worker reads the image itself, so
    the paths must be reachable from the workers (a shared file system).
    At most ``in_flight`` tasks (default: four per worker thread) are
    submitted at a time; rows are written here as they complete.
    ``retry`` as for :func:`scan`.
    """
    from distributed import as_completed

    from ._dask import KeysPlugin, scan_on_worker

    _check_retry(retry)
    client.register_plugin(KeysPlugin(list(keys)))
    done = read_done(out) if out is not None else {}
    options = dict(thorough=thorough, time_limit=time_limit, max_pixels=max_pixels, max_bytes=max_bytes)
    limit = in_flight or 4 * max(1, sum(client.nthreads().values()))
    writer = _Writer(out, on_row)
    todo = _not_done(items, done, writer, retry)
    try:
        futures = as_completed()
        for item in todo:
            futures.add(client.submit(scan_on_worker, item, options, key=f"scan-{item.id}-{time.time_ns()}", pure=False))
            if futures.count() >= limit:
                writer.write(next(futures).result())
        for future in futures:
            writer.write(future.result())
        return writer.rows
    finally:
        writer.close()


def summary_table(rows: Sequence[dict[str, Any]], seconds: float) -> str:
    """Counts by status, images per second, and every image that traced."""
    counts = Counter(row["status"] for row in rows)
    lines = ["", f"{'status':<10} {'images':>7}"]
    for status in ("traced", "clean", "dismissed", "timeout", "error"):
        lines.append(f"{status:<10} {counts.get(status, 0):>7}")
    lines.append(f"{'total':<10} {len(rows):>7}   {seconds:.1f} s, {len(rows) / max(seconds, 1e-9):.2f} images/s")
    traced = [row for row in rows if row["status"] == "traced"]
    if traced:
        lines += ["", "traced:"] + [f"  {row['id']}: viewer {row['viewer_id']} at {row['timestamp']}" for row in traced]
    return "\n".join(lines)
