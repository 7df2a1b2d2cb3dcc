"""The phone-photo parameters: their ranges per difficulty level and the sampler that draws them."""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, TypedDict

import numpy as np

from watermark import OptionError

from ._leak import plain

PHONE_LEVELS: tuple[str, ...] = ("standard", "hard")
"""Difficulty levels accepted by :func:`~synthetic.phone_photo_leak`."""



class PhoneRanges(TypedDict):
    """The parameter ranges of one level: ``(lo, hi)`` pairs, drawn uniformly unless a stage says otherwise.

    ``wb_error`` is the half-width of the white-balance gain error around 1;
    ``messenger`` whether the photo goes through a messenger.
    """

    off_axis_max_deg: float
    roll_deg: tuple[float, float]
    coverage: tuple[float, float]
    background_level: tuple[float, float]
    glare_strength: tuple[float, float]
    reflection_strength: tuple[float, float]
    lens_k1: tuple[float, float]
    defocus_radius_px: tuple[float, float]
    motion_length_px: tuple[float, float]
    vignetting: tuple[float, float]
    electrons_at_white: tuple[float, float]
    read_noise_e: tuple[float, float]
    wb_error: float
    output_white: tuple[float, float]
    luma_denoise_sigma: tuple[float, float]
    chroma_denoise_sigma: tuple[float, float]
    jpeg_quality: tuple[int, int]
    messenger: bool


# Parameter ranges per level; see phone_photo_leak's docstring for the table.
PHONE_RANGES: dict[str, PhoneRanges] = {
    "standard": {
        "off_axis_max_deg": 30.0,
        "roll_deg": (-6.0, 6.0),
        "coverage": (0.50, 0.80),
        "background_level": (0.10, 0.35),
        "glare_strength": (0.0, 0.25),
        "reflection_strength": (0.005, 0.03),
        "lens_k1": (-0.015, 0.015),
        "defocus_radius_px": (0.0, 1.0),
        "motion_length_px": (0.0, 2.0),
        "vignetting": (0.0, 0.2),
        "electrons_at_white": (1500.0, 5000.0),
        "read_noise_e": (1.5, 3.0),
        "wb_error": 0.04,
        "output_white": (0.75, 0.95),
        "luma_denoise_sigma": (3.0, 7.0),
        "chroma_denoise_sigma": (1.0, 2.5),
        "jpeg_quality": (85, 92),
        "messenger": False,
    },
    "hard": {
        "off_axis_max_deg": 45.0,
        "roll_deg": (-12.0, 12.0),
        "coverage": (0.35, 0.50),
        "background_level": (0.05, 0.40),
        "glare_strength": (0.1, 0.5),
        "reflection_strength": (0.01, 0.06),
        "lens_k1": (-0.03, 0.03),
        "defocus_radius_px": (0.5, 2.5),
        "motion_length_px": (0.0, 5.0),
        "vignetting": (0.1, 0.4),
        "electrons_at_white": (300.0, 1500.0),
        "read_noise_e": (2.0, 5.0),
        "wb_error": 0.08,
        "output_white": (0.7, 1.05),
        "luma_denoise_sigma": (6.0, 12.0),
        "chroma_denoise_sigma": (2.0, 4.0),
        "jpeg_quality": (85, 92),
        "messenger": True,
    },
}


class ParameterDraw:
    """Draw named parameters from a Generator, honouring caller overrides.

    The sampler is always called, even when overridden, so that fixing one
    parameter leaves every other draw of the same seed unchanged (a sweep
    over ``yaw_deg`` keeps the same glare, noise, etc.).
    """

    def __init__(self, rng: np.random.Generator, overrides: Mapping[str, Any]) -> None:
        self.rng = rng
        self.overrides = dict(overrides)
        self.used: set[str] = set()
        self.drawn: list[str] = []
        self.params: dict[str, Any] = {}

    def __call__(self, name: str, sampler: Callable[[np.random.Generator], Any] | Any) -> Any:
        value = sampler(self.rng) if callable(sampler) else sampler
        self.drawn.append(name)
        if name in self.overrides:
            value = self.overrides[name]
            self.used.add(name)
        self.params[name] = plain(value)
        return value

    def record(self, name: str, value: Any) -> None:
        """Record a derived (not overridable) value in the report."""
        self.params[name] = plain(value)

    def uniform(self, name: str, lo_hi: tuple[float, float]) -> float:
        """Draw ``name`` uniformly in ``[lo, hi)``."""
        lo, hi = lo_hi
        return float(self(name, lambda r: r.uniform(lo, hi)))

    def log_uniform(self, name: str, lo_hi: tuple[float, float]) -> float:
        """Draw ``name`` log-uniformly in ``[lo, hi)``."""
        lo, hi = lo_hi
        return float(self(name, lambda r: math.exp(r.uniform(math.log(lo), math.log(hi)))))

    def check_unused(self) -> None:
        """Raise if a caller override named no parameter that was drawn."""
        unknown = sorted(set(self.overrides) - self.used)
        if unknown:
            raise OptionError(
                f"unknown phone_photo_leak override(s) {unknown}; valid names: "
                f"{sorted(self.drawn)}", name="overrides", value=unknown,
            )
