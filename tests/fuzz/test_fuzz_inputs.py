"""Fuzzing the door: damaged JPEG, PNG, WebP, TIFF, GIF and HEIC files through ``load_image`` and ``trace``.

The property, for any bytes at all: the only exceptions are
``watermark.LeaktraceError`` subclasses (an ``ImageLoadError`` naming the
problem), nothing hangs (each input has a wall-clock bound), and memory is
bounded (the header's size is checked against ``max_pixels`` before a pixel
is decoded, and the process's peak RSS grows little).

A short, deterministic run (derandomized, no example database) belongs to
the default suite; ``python -m benchmarks.fuzz --seconds 600`` runs the same
cases (``synthetic.hostile.fuzz_case``) for as long as it is given. A
failure prints the ``seed`` and ``names`` that reproduce it:
``synthetic.hostile.fuzz_case(fmt, seed, names)``.
"""

from __future__ import annotations

import contextlib
import resource
import signal
import sys
import time
from typing import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import tracer
import watermark
from synthetic import hostile

LOAD_MAX_PIXELS = 4_000_000
"""The loader may decode at most this many pixels of a fuzzed file (its memory bound here: 16 MB of RGBA)."""
TRACE_MAX_PIXELS = 250_000
"""Traced inputs are kept small (500 x 500) so that the search is quick."""
LOAD_SECONDS = 10.0
"""Wall-clock bound on one load (a small file decodes in milliseconds: more is a hang)."""
TRACE_SECONDS = 30.0
"""Wall-clock bound on one trace of a small image (``time_limit`` stops the search well before)."""
MAX_RSS_GROWTH = 1 << 30
"""The fuzz runs may raise the process's peak resident memory by at most this much (bytes)."""

LOAD_FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.too_slow], print_blob=False)
TRACE_FUZZ = settings(LOAD_FUZZ, max_examples=40)

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
NAMES = st.lists(st.sampled_from(sorted(hostile.MUTATIONS)), min_size=1, max_size=3)
"""One to three mutations; the undamaged seed images are explicit examples (``names=[]``)."""


class _Hang(BaseException):
    """Raised by the alarm; a BaseException so that no ``except Exception`` on the way swallows it."""


@contextlib.contextmanager
def _time_bound(seconds: float, what: str) -> Iterator[None]:
    """Fail (AssertionError) when the block runs past ``seconds``, interrupting it where the platform allows."""
    alarm = hasattr(signal, "setitimer")
    if alarm:
        def expire(signum: int, frame: object) -> None:
            raise _Hang()

        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    start = time.perf_counter()
    try:
        yield
    except _Hang:
        raise AssertionError(f"{what} ran past {seconds} s: a hang") from None
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    elapsed = time.perf_counter() - start
    assert elapsed <= seconds, f"{what} took {elapsed:.1f} s, over {seconds} s"


def _peak_rss() -> int:
    """Peak resident memory of this process so far, in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


@pytest.fixture
def bounded_memory() -> Iterator[None]:
    before = _peak_rss()
    yield
    grown = _peak_rss() - before
    assert grown <= MAX_RSS_GROWTH, f"peak RSS grew by {grown / 2**20:.0f} MiB"


def _needs(fmt: str) -> None:
    if fmt not in hostile.available_formats():
        pytest.skip(f"{fmt} needs the 'heic' extra (pillow-heif)")


@pytest.mark.parametrize("fmt", hostile.FORMATS)
def test_loader_raises_only_leaktrace_errors(fmt, bounded_memory):
    _needs(fmt)

    @LOAD_FUZZ
    @given(seed=SEEDS, names=NAMES)
    @example(seed=0, names=[])
    @example(seed=1, names=[])
    def check(seed: int, names: list[str]) -> None:
        case = hostile.fuzz_case(fmt, seed, names)
        with _time_bound(LOAD_SECONDS, f"load_image of fuzz_case({fmt!r}, {seed}, {names})"):
            try:
                loaded = watermark.load_image(case.data, max_pixels=LOAD_MAX_PIXELS)
            except watermark.LeaktraceError as exc:
                assert str(exc).startswith("<bytes>: ") and "\n" not in str(exc)
                return
        h, w, channels = loaded.rgb.shape
        assert loaded.rgb.dtype == np.uint8 and channels == 3
        assert min(h, w) >= watermark.MIN_IMAGE_SIDE and h * w <= LOAD_MAX_PIXELS

    check()


@pytest.mark.parametrize("fmt", hostile.FORMATS)
def test_trace_raises_only_leaktrace_errors(fmt, key, bounded_memory):
    _needs(fmt)

    @TRACE_FUZZ
    @given(seed=SEEDS, names=NAMES, thorough=st.booleans())
    @example(seed=0, names=[], thorough=True)
    def check(seed: int, names: list[str], thorough: bool) -> None:
        case = hostile.fuzz_case(fmt, seed, names)
        with _time_bound(TRACE_SECONDS, f"trace of fuzz_case({fmt!r}, {seed}, {names})"):
            try:
                result = tracer.trace(case.data, key, max_pixels=TRACE_MAX_PIXELS, thorough=thorough, time_limit=TRACE_SECONDS / 2)
            except watermark.LeaktraceError:
                return
        assert not result.found  # no mark was ever embedded: nobody may be named

    check()
