"""Failed log-in limiting: per username and per client address, in this process.

After ``max_failures`` failed log-ins within ``window_s`` for a username (that
exists or not: the answer must not tell) or from a client address, further
attempts for it are refused with 429 and ``Retry-After`` until the oldest of
those failures leaves the window; the password is not even checked. A
successful log-in clears its username's failures, not its address's (else one
valid account would reset the count between guesses at others).

The counts live in this process's memory. A deployment that runs several
worker processes or hosts must keep them in a store the workers share
(Redis, the database) or each worker allows its own ``max_failures``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from typing import Callable, Hashable, Iterable

__all__ = ["LoginThrottle"]


class LoginThrottle:
    """Counts failed log-ins per key in a sliding window.

    Parameters
    ----------
    max_failures : int, keyword-only
        Failures allowed in the window; the next attempt is refused.
    window_s : float, keyword-only
        Length of the window in seconds.
    max_keys : int, keyword-only
        Keys tracked at most; the least recently failed are forgotten beyond it
        (bounds memory under a flood of made-up usernames).
    clock : callable, keyword-only
        Monotonic seconds (tests pass a fake).

    Examples
    --------
    >>> now = [0.0]
    >>> throttle = LoginThrottle(max_failures=2, window_s=60, clock=lambda: now[0])
    >>> for _ in range(2):
    ...     throttle.record_failure([("user", "aquist")])
    >>> throttle.retry_after([("user", "aquist"), ("address", "10.0.0.7")])
    60
    >>> now[0] = 61.0
    >>> throttle.retry_after([("user", "aquist")]) is None
    True
    """

    def __init__(self, *, max_failures: int = 5, window_s: float = 15 * 60, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_failures < 1 or window_s <= 0 or max_keys < 1:
            raise ValueError(f"max_failures, window_s and max_keys must be positive, got {max_failures}, "
                             f"{window_s}, {max_keys}")
        self.max_failures = int(max_failures)
        self.window_s = float(window_s)
        self.max_keys = int(max_keys)
        self.clock = clock
        self._failures: OrderedDict[Hashable, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: Hashable, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, keys: Iterable[Hashable]) -> int | None:
        """Seconds until an attempt for these keys is allowed again, or None when it is allowed now."""
        with self._lock:
            now = self.clock()
            waits = []
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self.max_failures:
                    waits.append(times[-self.max_failures] + self.window_s - now)
            return max(1, math.ceil(max(waits))) if waits else None

    def record_failure(self, keys: Iterable[Hashable]) -> None:
        """Count one failed attempt for each key."""
        with self._lock:
            now = self.clock()
            for key in keys:
                times = self._recent(key, now)
                times.append(now)
                while len(times) > self.max_failures:
                    times.popleft()
                self._failures[key] = times
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def reset(self, key: Hashable) -> None:
        """Forget a key's failures (a successful log-in for that username)."""
        with self._lock:
            self._failures.pop(key, None)
