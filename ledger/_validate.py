"""Field validation, time conversion and URL redaction shared by the ledger's modules."""

from __future__ import annotations

import urllib.parse
from datetime import datetime, timedelta, timezone
from typing import Any

from watermark import EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, OptionError, OptionTypeError

from ._errors import LedgerFieldError, LedgerFieldTypeError

__all__ = [
    "MAX_TEXT",
    "MAX_TIMEOUT_S",
    "MAX_VIEWER_ID",
    "MAX_WINDOW_MINUTES",
    "iso",
    "minute_of",
    "parse_iso",
    "positive_seconds",
    "redact",
    "text_field",
    "utc_field",
    "viewer_id_field",
    "window_field",
]

MAX_TEXT = 512
"""Longest accepted text field (characters): room for any name or record ID, bounded row size."""

MAX_VIEWER_ID = 2**32 - 1
"""The payload's viewer field is 32 bits."""

MAX_WINDOW_MINUTES = 1440
"""A lookup lists at most a day either side of the mark's minute."""

MAX_TIMEOUT_S = 3600.0
"""Longest lock / statement timeout accepted (an hour: longer is a configuration mistake)."""

_LAST_INSTANT = LATEST_TIMESTAMP + timedelta(seconds=59.999999)


def minute_of(when: datetime) -> int:
    """Minutes since :data:`watermark.EARLIEST_TIMESTAMP`: the payload's time field for ``when``."""
    return int((when - EARLIEST_TIMESTAMP) // timedelta(minutes=1))


def iso(when: datetime) -> str:
    """ISO 8601 UTC with microseconds and a ``Z``: how SQLite stores times and JSON shows them."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    """Inverse of :func:`iso`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def utc_field(when: Any, name: str) -> datetime:
    """A timezone-aware datetime in the payload's range, converted to UTC."""
    if not isinstance(when, datetime):
        raise LedgerFieldTypeError(f"{name} must be a datetime, got {type(when).__name__}", field=name, value=when)
    if when.tzinfo is None or when.utcoffset() is None:
        raise LedgerFieldError(f"{name} must be timezone-aware, got naive {when.isoformat()}", field=name, value=when)
    utc: datetime = when.astimezone(timezone.utc)
    if not EARLIEST_TIMESTAMP <= utc <= _LAST_INSTANT:
        raise LedgerFieldError(
            f"{name} must be between {EARLIEST_TIMESTAMP:%Y-%m-%d} and {LATEST_TIMESTAMP:%Y-%m-%d} (payload range), "
            f"got {utc.isoformat()}",
            field=name, value=when,
        )
    return utc


def text_field(value: Any, name: str) -> str:
    """A non-empty, bounded, single-line string, stripped."""
    if not isinstance(value, str):
        raise LedgerFieldTypeError(f"{name} must be a str, got {type(value).__name__}", field=name, value=value)
    text = value.strip()
    if not text:
        raise LedgerFieldError(f"{name} must not be empty", field=name, value=value)
    if len(text) > MAX_TEXT:
        raise LedgerFieldError(f"{name} must be at most {MAX_TEXT} characters, got {len(text)}", field=name, value=value)
    if any(ord(c) < 32 for c in text):
        raise LedgerFieldError(f"{name} must not contain control characters, got {text!r}", field=name, value=value)
    return text


def viewer_id_field(value: Any) -> int:
    """A viewer ID as the payload carries it (0 .. 2**32 - 1)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise LedgerFieldTypeError(
            f"viewer_id must be an int, got {type(value).__name__}", field="viewer_id", value=value
        )
    if not 0 <= value <= MAX_VIEWER_ID:
        raise LedgerFieldError(f"viewer_id must be in 0..{MAX_VIEWER_ID}, got {value}", field="viewer_id", value=value)
    return int(value)


def window_field(value: Any) -> int:
    """Minutes either side of a lookup's minute (0 .. 1440)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionTypeError(
            f"window_minutes must be an int in 0..{MAX_WINDOW_MINUTES}, got {value!r}", name="window_minutes", value=value
        )
    if not 0 <= value <= MAX_WINDOW_MINUTES:
        raise OptionError(
            f"window_minutes must be an int in 0..{MAX_WINDOW_MINUTES}, got {value!r}", name="window_minutes", value=value
        )
    return value


def positive_seconds(value: Any, name: str) -> float:
    """A timeout in (0, 3600] seconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OptionTypeError(
            f"{name} must be a number of seconds in (0, {MAX_TIMEOUT_S:g}], got {value!r}", name=name, value=value
        )
    if not 0 < value <= MAX_TIMEOUT_S:
        raise OptionError(
            f"{name} must be a number of seconds in (0, {MAX_TIMEOUT_S:g}], got {value!r}", name=name, value=value
        )
    return float(value)


def redact(url: str) -> str:
    """The URL with any password replaced by ``***``.

    >>> redact("postgresql://audit:s3cret@db:5432/emr")
    'postgresql://audit:***@db:5432/emr'
    """
    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
    except ValueError:  # e.g. a port that is not a number: hide everything between :// and @
        head, sep, rest = url.partition("://")
        return f"{head}{sep}***@{rest.rsplit('@', 1)[1]}" if sep and "@" in rest else url
    if password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))
