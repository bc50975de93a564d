"""Pure-numpy geometry for the latent pane: lasso tests (the spherical transform is the
engine's, :func:`engine.anomaly.features.to_spherical`)."""
from __future__ import annotations

import numpy as np


def points_in_polygon(px: np.ndarray, py: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Boolean mask of the points inside a closed polygon (even-odd rule).

    Parameters
    ----------
    px, py : (N,) point coordinates
    poly : (M, 2) polygon vertices, in the same units; closed implicitly
    """
    poly = np.asarray(poly, dtype="f8")
    px, py = np.asarray(px, "f8"), np.asarray(py, "f8")
    inside = np.zeros(len(px), bool)
    if len(poly) < 3:
        return inside
    lo, hi = poly.min(0), poly.max(0)
    cand = np.flatnonzero((px >= lo[0]) & (px <= hi[0]) & (py >= lo[1]) & (py <= hi[1]))
    x, y = px[cand], py[cand]
    hit = np.zeros(len(cand), bool)
    x1, y1 = poly[:, 0], poly[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    for a, b, c, d in zip(x1, y1, x2, y2):
        crosses = (b > y) != (d > y)
        if not crosses.any():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            xint = a + (y - b) * (c - a) / (d - b)
        hit ^= crosses & (x < xint)
    inside[cand] = hit
    return inside


def simplify(poly: np.ndarray, max_vertices: int = 256) -> np.ndarray:
    """Keep at most ``max_vertices`` evenly spaced vertices of a mouse-drawn path."""
    poly = np.asarray(poly, dtype="f8")
    if len(poly) <= max_vertices:
        return poly
    return poly[np.linspace(0, len(poly) - 1, max_vertices).astype(int)]
