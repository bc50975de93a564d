"""Pure-numpy geometry for the latent pane: spherical coordinates and lasso tests."""
from __future__ import annotations

import numpy as np


def blumenson(x: np.ndarray) -> np.ndarray:
    """Hyperspherical coordinates (r, θ1…θ_{n−1}) of points ``x`` (N, n) (eq. 9).

    θ1…θ_{n−2} lie in [0, π], the last angle in [0, 2π) (radians).
    """
    x = np.asarray(x, dtype="f8")
    n = x.shape[1]
    tail = np.sqrt(np.cumsum(x[:, ::-1] ** 2, axis=1)[:, ::-1])   # |x_i..x_n|
    out = np.empty_like(x)
    out[:, 0] = tail[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        for i in range(n - 2):
            out[:, i + 1] = np.arccos(np.clip(np.nan_to_num(x[:, i] / tail[:, i], nan=1.0),
                                              -1, 1))
    out[:, n - 1] = np.mod(np.arctan2(x[:, n - 1], x[:, n - 2]), 2 * np.pi)
    return out


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
