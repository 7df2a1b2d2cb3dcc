"""Exception hierarchy: every error this package raises derives from WatermarkError."""

from __future__ import annotations

__all__ = ["WatermarkError", "KeyFileError", "PayloadError", "ImageError"]


class WatermarkError(Exception):
    """Root of all errors raised by leaktrace."""


class KeyFileError(WatermarkError):
    """A key file is missing, unreadable, truncated or malformed."""


class PayloadError(WatermarkError, ValueError):
    """A payload field is out of range or of the wrong type."""


class ImageError(WatermarkError, ValueError):
    """An image has the wrong shape, dtype, range or size."""
