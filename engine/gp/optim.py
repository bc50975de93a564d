"""Batched box-constrained quasi-Newton minimisation of many small independent problems.

Each problem (one light curve, 4 hyperparameters) keeps its own BFGS inverse Hessian,
step and convergence test, as scipy's L-BFGS-B would; what is shared is only the
function evaluation, which is vectorised over all problems still running. That is what
makes hundreds of fits per second possible in numpy.
"""
from __future__ import annotations

import logging
from typing import Callable

import numpy as np

logger = logging.getLogger(__name__)

Fun = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _projected(g: np.ndarray, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Gradient with the components that push out of the box set to 0."""
    blocked = ((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0))
    return np.where(blocked, 0.0, g)


def _direction(h, g, x, lo, hi, max_step):
    # A variable held at its bound leaves the quasi-Newton model: decouple it in H so it
    # does not bend the step of the free ones (what L-BFGS-B's subspace step achieves).
    blocked = ((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0))
    if blocked.any():
        rows, cols = np.nonzero(blocked)
        h[rows, cols, :] = 0.0
        h[rows, :, cols] = 0.0
        h[rows, cols, cols] = 1.0
    d = -np.einsum("bij,bj->bi", h, g)
    d = np.where(((x <= lo) & (d < 0)) | ((x >= hi) & (d > 0)), 0.0, d)
    bad = (d * g).sum(1) >= 0
    if bad.any():   # not a descent direction: forget the curvature and go downhill
        h[bad] = np.eye(x.shape[1])
        d[bad] = -_projected(g[bad], x[bad], lo, hi)
    big = np.abs(d).max(axis=1)
    d *= np.minimum(1.0, max_step / np.maximum(big, 1e-300))[:, None]
    return d


def _bfgs_update(h, s, yk, first):
    sy = (s * yk).sum(1)
    ok = sy > 1e-12 * np.sqrt((s * s).sum(1) * (yk * yk).sum(1))
    if not ok.any():
        return
    h_, s_, y_, sy_ = h[ok], s[ok], yk[ok], sy[ok]
    scale = np.where(first[ok], sy_ / (y_ * y_).sum(1), 1.0)
    h_ = h_ * scale[:, None, None]
    eye = np.eye(h.shape[1])[None]
    r = 1.0 / sy_[:, None, None]
    left = eye - r * s_[:, :, None] * y_[:, None, :]
    h[ok] = left @ h_ @ left.transpose(0, 2, 1) + r * s_[:, :, None] * s_[:, None, :]


def minimize_batch(fun: Fun, x0: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                   maxiter: int = 100, gtol: float = 1e-5, ftol: float = 1e-9,
                   max_step: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Minimise ``fun`` for every row of ``x0`` within the box [lo, hi].

    Parameters
    ----------
    fun : callable(x, idx) -> (f (b,), grad (b, d))
        Objective of the problems ``idx`` at points ``x`` (one row per problem).
    x0 : ndarray (n, d)
    lo, hi : ndarray (d,)

    Returns
    -------
    x, f : the minimisers and values
    converged : bool array (n,)
    evals : number of batched evaluations made
    """
    x = np.clip(np.array(x0, dtype=float), lo, hi)
    n, dim = x.shape
    f, g = fun(x, np.arange(n))
    h = np.tile(np.eye(dim), (n, 1, 1))
    first = np.ones(n, bool)
    active = np.isfinite(f)
    converged = np.zeros(n, bool)
    evals = 1
    for _ in range(maxiter):
        idx = np.flatnonzero(active)
        if len(idx) == 0:
            break
        d = np.zeros_like(x)
        d[idx] = _direction(h[idx], g[idx], x[idx], lo, hi, max_step)
        t = np.ones(n)
        pending = idx[np.abs(d[idx]).max(axis=1) > 0]
        converged[np.setdiff1d(idx, pending)] = True
        active[np.setdiff1d(idx, pending)] = False
        for _ls in range(30):
            if len(pending) == 0:
                break
            xn = np.clip(x[pending] + t[pending, None] * d[pending], lo, hi)
            fn, gn = fun(xn, pending)
            evals += 1
            ok = np.isfinite(fn) & (fn <= f[pending] + 1e-4 * (g[pending] * (xn - x[pending])).sum(1))
            acc = pending[ok]
            if len(acc):
                s, yk = xn[ok] - x[acc], gn[ok] - g[acc]
                hh = h[acc]
                _bfgs_update(hh, s, yk, first[acc])
                h[acc], first[acc] = hh, False
                fo = f[acc]
                x[acc], f[acc], g[acc] = xn[ok], fn[ok], gn[ok]
                small_f = (fo - f[acc]) <= ftol * np.maximum(np.maximum(abs(fo), abs(f[acc])), 1)
                small_g = np.abs(_projected(g[acc], x[acc], lo, hi)).max(1) <= gtol
                done = small_f | small_g
                converged[acc[done]] = True
                active[acc[done]] = False
            pending = pending[~ok]
            t[pending] *= 0.25
        else:
            active[pending] = False   # line search failed: keep the best point found
    return x, f, converged, evals
