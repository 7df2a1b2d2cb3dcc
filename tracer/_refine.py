"""Refining a measured geometry on the strength of its tile-phase peak.

A scale measured from the spectrum is good to a few tenths of a percent and
a quadrilateral's corners to a few pixels; over a 2000 px screen either
smears the fold. So, about the screen centre, each axis's scale, the two
perspective terms and the two shears (a bezel's outline or a vanishing-point
fit can be a fraction of a degree off the screen's axes) are refined on the
phase-peak strength. Trials warp the base geometry's content-suppressed
residual (the suppression, the costly part, is nearly invariant to a 1 %
warp); the winner is resampled from the input and suppressed afresh for
decoding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np
from numpy.typing import NDArray

from watermark.decoding import TILE

from ._geometry import DIHEDRAL, MAX_SCREEN_SIDE, Geometry

if TYPE_CHECKING:
    from ._search import Evaluation, Search

__all__ = ["Refinement", "worth_refining", "REFINE_ABOVE", "REFINE_BELOW"]

REFINE_BELOW = 15.0
"""A measured geometry whose best phase peak is weaker than this gets a per-axis scale search."""
REFINE_ABOVE = 4.5
"""Below this the geometry is most likely wrong (the field's own maxima reach about 4): no refinement."""
REFINE_STEPS = (0.01, 0.005, 0.0025)
"""Hill-climb steps, coarse to fine: scale and shear change by this fraction."""
REFINE_ROUNDS = 4
"""Climb rounds per step size."""
AXIS_SCAN_TILES = 0.2
"""Per-axis scale scan half-width before refinement: this many tiles over the axis's extent (the comb's resolution)."""
AXIS_SCAN_EDGE_PX = 6.0
"""Scan step: the scale change that moves the far edge by this many screen pixels (the phase peak is about +-8 px wide at the edge)."""
N_PARAMS = 6
"""log scale x, y; perspective x, y; shear x, y (about the screen centre)."""


def worth_refining(geometry: Geometry, evaluation: Evaluation, *, weak: bool = False) -> bool:
    """A measured geometry whose peak is unclear (between REFINE_ABOVE, or any with ``weak``, and REFINE_BELOW)."""
    best = evaluation.best
    return bool(evaluation.candidates) and geometry.to_screen is not None and (best >= REFINE_ABOVE or weak) and best < REFINE_BELOW


class Refinement:
    """Climb and scan the six correction parameters of one geometry.

    A weak first peak may sit in a noise orientation, so the axis scan also
    tries the upright one (a photographed screen is usually upright once
    EXIF orientation is applied), or all eight below ``REFINE_ABOVE``.
    """

    def __init__(self, search: Search, geometry: Geometry, evaluation: Evaluation) -> None:
        if geometry.to_screen is None or evaluation.out_hom is None:
            raise ValueError("only a resampled geometry can be refined")
        self.search = search
        self.base = geometry
        self.evaluation = evaluation
        self.initial_best = evaluation.best
        self.best = evaluation.best
        self.geometry = geometry
        self.params = np.zeros(N_PARAMS)
        first = evaluation.candidates[0]
        self.winner = first.orientation
        self.orientations = [self.winner]
        credible = self.initial_best >= REFINE_ABOVE
        self.scan_orientations = list(dict.fromkeys([self.winner, (0, False)])) if credible else DIHEDRAL
        self.size = (evaluation.residual.shape[1], evaluation.residual.shape[0])
        self.frame = evaluation.out_hom @ np.linalg.inv(geometry.to_screen)  # screen -> base output pixels
        corners = geometry.ideal(geometry.outline(search.y.shape), search.y.shape)
        self.mapped = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), geometry.to_screen).reshape(-1, 2)
        cx, cy = self.mapped.mean(axis=0)
        self.half = max(float(np.ptp(self.mapped[:, 0])), float(np.ptp(self.mapped[:, 1])), 1.0) / 2
        self.centre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], dtype=np.float64)

    def correction(self, v: NDArray[np.float64]) -> NDArray[np.float64]:
        """The screen-space correction for parameters ``v``, about the screen centre."""
        m = np.array([[np.exp(v[0]), v[4], 0], [v[5], np.exp(v[1]), 0], [v[2], v[3], 1.0]])
        return np.linalg.inv(self.centre) @ m @ self.centre

    def variant(self, v: NDArray[np.float64]) -> Geometry:
        base = self.base
        assert base.to_screen is not None  # checked in __init__
        scale = base.scale / np.exp(0.5 * (v[0] + v[1]))
        return Geometry(f"{base.name}~refined", self.correction(v) @ base.to_screen, scale, base.quad, base.photo, base.region, base.lens)

    def score(self, v: NDArray[np.float64]) -> float:
        """Phase-peak strength of the base residual warped by ``v``; remembers the orientation of an improvement."""
        warp = self.frame @ self.correction(v) @ np.linalg.inv(self.frame)
        border = dict(flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        residual = cv2.warpPerspective(self.evaluation.residual, warp, self.size, **border)
        weight = cv2.warpPerspective(self.evaluation.weight, warp, self.size, **border)
        ranked = self.search.rank(residual, weight, self.orientations)
        best = ranked[0].score if ranked else -np.inf
        if ranked and best > self.best:
            self.winner = ranked[0].orientation
        return best

    def climb(self) -> None:
        """Hill-climb, coarse to fine: scale and shear steps of 1 %, 0.5 %, 0.25 %;
        perspective steps that change the scale at the edge by twice as much.
        Along each axis the first improving direction is taken, then the next axis."""
        for step in REFINE_STEPS:
            steps = np.array([step, step, 2 * step / self.half, 2 * step / self.half, step, step])
            for _ in range(REFINE_ROUNDS):
                moved = False
                for axis in range(N_PARAMS):
                    for sign in (1.0, -1.0):
                        v = self.params.copy()
                        v[axis] += sign * steps[axis]
                        b = self.score(v)
                        if b > self.best:
                            self.best, self.geometry, self.params = b, self.variant(v), v
                            moved = True
                            break
                if not moved or self.best >= REFINE_BELOW:
                    break
            if self.best >= REFINE_BELOW:
                return  # as clear as a geometry that needs no refinement

    def scan_axes(self) -> None:
        """Scan each axis's scale over the comb's uncertainty.

        The comb resolves an axis's scale only to about a fifth of a tile
        over the axis's extent (its lines are a few FFT bins apart on a
        screen a few tiles across), while the phase peak is about a percent
        wide: a climb may have started outside it.
        """
        for axis in (0, 1):
            extent = min(max(float(np.ptp(self.mapped[:, axis])), 1.0), float(MAX_SCREEN_SIDE))
            step, span = AXIS_SCAN_EDGE_PX / extent, AXIS_SCAN_TILES * TILE / extent
            best_v, centre_v = self.params, self.params[axis]
            for d in np.arange(step, span + 1e-9, step):
                for signed in (d, -d):
                    v = self.params.copy()
                    v[axis] = centre_v + signed
                    b = self.score(v)
                    if b > self.best:
                        self.best, best_v = b, v
            if best_v is not self.params:
                self.params = best_v
                self.geometry = self.variant(self.params)

    def run(self) -> tuple[Geometry, Evaluation]:
        """Climb (when the peak is credible), scan the axes when still unclear, climb again; re-evaluate the winner."""
        if self.initial_best >= REFINE_ABOVE:
            self.climb()
        if self.best < REFINE_BELOW:
            self.orientations = self.scan_orientations
            self.scan_axes()
            self.orientations = [self.winner]
            if REFINE_ABOVE <= self.best < REFINE_BELOW:
                self.climb()
        if not self.params.any():
            return self.base, self.evaluation
        return self.geometry, self.search.evaluate(self.geometry)
