"""Batched box-constrained quasi-Newton minimisation of many small independent problems.

Each problem (one light curve, 4 hyperparameters) keeps its own BFGS inverse Hessian,
step and convergence test, as scipy's L-BFGS-B would; what is shared is only the
function evaluation, which is vectorised over all problems still running. That is what
makes hundreds of fits per second possible in numpy.

The problems advance in rounds: every round evaluates one trial point for *every*
running problem, whether that point is a new quasi-Newton step or a backtrack of a
rejected one. So the batched evaluations stay as large as the number of running
problems (numpy's per-call cost is shared by all of them) instead of shrinking to the
few problems whose line search needs another step.
"""
from __future__ import annotations

import logging
from typing import Callable

import numpy as np

logger = logging.getLogger(__name__)

Fun = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

#: Armijo constant of the sufficient-decrease test.
_ARMIJO = 1e-4
#: Backtracks allowed in one line search before the problem stops at its best point.
_MAX_BACKTRACK = 30
#: Accepted steps over which the ``stall`` test measures progress.
STALL_STEPS = 5


def _blocked(g: np.ndarray, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Components at a bound whose gradient pushes out of the box."""
    return ((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0))


def _projected(g: np.ndarray, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Gradient with the components that push out of the box set to 0."""
    return np.where(_blocked(g, x, lo, hi), 0.0, g)


def _direction(h, g, x, lo, hi, max_step):
    # A variable held at its bound leaves the quasi-Newton model: decouple it in H so it
    # does not bend the step of the free ones (what L-BFGS-B's subspace step achieves).
    blocked = _blocked(g, x, lo, hi)
    if blocked.any():
        rows, cols = np.nonzero(blocked)
        h[rows, cols, :] = 0.0
        h[rows, :, cols] = 0.0
        h[rows, cols, cols] = 1.0
    d = -(h @ g[:, :, None])[:, :, 0]
    d = np.where(((x <= lo) & (d < 0)) | ((x >= hi) & (d > 0)), 0.0, d)
    bad = (d * g).sum(1) >= 0
    if bad.any():   # not a descent direction: forget the curvature and go downhill
        h[bad] = np.eye(x.shape[1])
        d[bad] = -_projected(g[bad], x[bad], lo, hi)
    big = np.abs(d).max(axis=1)
    d *= np.minimum(1.0, max_step / np.maximum(big, 1e-300))[:, None]
    return d


def _newton(fi, g, x, lo, hi, max_step):
    """Scoring step -F^-1 g on the free variables (F: Fisher information, PSD)."""
    blocked = _blocked(g, x, lo, hi)
    dim = x.shape[1]
    f = np.where(blocked[:, :, None] | blocked[:, None, :], 0.0, fi)
    f[:, np.arange(dim), np.arange(dim)] += np.where(blocked, 1.0, 0.0)
    # a tiny ridge keeps F solvable where a parameter has no effect (rho -> 1, C at a bound)
    ridge = 1e-10 * np.abs(np.trace(f, axis1=1, axis2=2)) / dim + 1e-12
    f[:, np.arange(dim), np.arange(dim)] += ridge[:, None]
    gf = np.where(blocked, 0.0, g)
    d = -np.linalg.solve(f, gf[:, :, None])[:, :, 0]
    d = np.where(((x <= lo) & (d < 0)) | ((x >= hi) & (d > 0)) | blocked, 0.0, d)
    bad = ~((d * g).sum(1) < 0) | ~np.isfinite(d).all(1)
    if bad.any():   # no descent along the scoring step: go downhill
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


def _backtrack(t, slope, f0, fn):
    """Next step length after a rejected trial: the minimum of the quadratic through
    f(0), f'(0) and f(t), kept within [t/10, t/2] (the safeguard of Nocedal & Wright 3.5)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        curv = fn - f0 - slope * t
        tq = -slope * t * t / (2 * curv)
    tq = np.where(np.isfinite(tq) & (curv > 0), tq, 0.25 * t)
    return np.clip(tq, 0.1 * t, 0.5 * t)


def _inverse(fi: np.ndarray) -> np.ndarray:
    """Inverse of PSD curvature matrices (with the ridge of :func:`_newton`)."""
    dim = fi.shape[1]
    ridge = 1e-10 * np.abs(np.trace(fi, axis1=1, axis2=2)) / dim + 1e-12
    return np.linalg.inv(fi + ridge[:, None, None] * np.eye(dim))


def _call(fun, x, idx, curv, want):
    """f, g and, where ``want``, the curvature: one batched call per kind of row."""
    if not want.any():
        f, g = fun(x, idx)
        return f, g, None
    if want.all():
        return fun(x, idx, True)
    f, g = np.empty(len(idx)), np.empty_like(x)
    c = np.zeros((len(idx), x.shape[1], x.shape[1]))
    f[want], g[want], c[want] = fun(x[want], idx[want], True)
    f[~want], g[~want] = fun(x[~want], idx[~want])
    return f, g, c


def minimize_batch(fun: Fun, x0: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                   maxiter: int = 100, gtol: float = 1e-5, ftol: float = 1e-9,
                   max_step: float = 2.0, scoring: int = 0, stall: float = 0.0,
                   stop_at_lo: np.ndarray | None = None,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Minimise ``fun`` for every row of ``x0`` within the box [lo, hi].

    Parameters
    ----------
    fun : callable(x, idx[, curvature]) -> (f (b,), grad (b, d)[, F (b, d, d)])
        Objective of the problems ``idx`` at points ``x`` (one row per problem); called
        with ``curvature=True`` (only if ``scoring`` > 0) it also returns a positive
        semi-definite curvature matrix F, such as the Fisher information.
    x0 : ndarray (n, d)
    lo, hi : ndarray (d,)
    maxiter : accepted steps per problem at most
    gtol : stop when the largest projected gradient component is below this
    ftol : stop when a step lowers f by less than ``ftol * max(|f|, 1)``
    max_step : largest change of any coordinate in one step
    scoring : int
        The first ``scoring`` steps of each problem are scoring steps -F^-1 g; BFGS then
        goes on from F^-1 of the last point as its inverse Hessian. 0: BFGS from the
        identity (F never asked for).
    stall : float
        Stop a problem whose last :data:`STALL_STEPS` accepted steps lowered f by less
        than this in all (a flat valley: the steps are too small to matter).
    stop_at_lo : bool array (d,), optional
        Stop a problem (not converged) when one of these variables sits at its lower
        bound with the gradient pushing out: the caller will widen the box and go on.

    Returns
    -------
    x, f : the minimisers and values
    converged : bool array (n,)
    evals : number of batched evaluations made
    """
    x = np.clip(np.array(x0, dtype=float), lo, hi)
    n, dim = x.shape
    f, g, fi = _call(fun, x, np.arange(n), None, np.full(n, scoring > 0))
    left = np.full(n, scoring)    # scoring steps still to take
    h = fi if scoring > 0 else np.tile(np.eye(dim), (n, 1, 1))
    first = np.full(n, scoring == 0)   # BFGS scales an identity start at its first update
    active = np.isfinite(f) & np.isfinite(g).all(1)
    converged = np.zeros(n, bool)
    steps, tries = np.zeros(n, int), np.zeros(n, int)
    recent = np.tile(f[:, None], (1, STALL_STEPS))    # f before each of the last steps
    # step radius per problem: halved to what a line search accepted, doubled after full steps
    # (stops a quasi-Newton model that overshoots a flat direction from doing so every step)
    radius = np.full(n, float(max_step))
    d, t = np.zeros_like(x), np.ones(n)
    d[active] = _steps(h[active], g[active], x[active], lo, hi, radius[active], left[active] > 0)
    evals = 1
    while True:
        still = np.abs(d).max(axis=1) > 0
        converged |= active & ~still
        active &= still
        idx = np.flatnonzero(active)
        if len(idx) == 0:
            break
        xn = np.clip(x[idx] + t[idx, None] * d[idx], lo, hi)
        # the point after the last scoring step needs F too: BFGS starts from its inverse
        fn, gn, fin = _call(fun, xn, idx, None, left[idx] > 0)
        evals += 1
        slope = (g[idx] * (xn - x[idx])).sum(1)
        ok = np.isfinite(fn) & np.isfinite(gn).all(1) & (fn <= f[idx] + _ARMIJO * slope)
        rej = idx[~ok]
        if len(rej):
            t[rej] = _backtrack(t[rej], (g[rej] * d[rej]).sum(1), f[rej],
                                np.where(np.isfinite(fn[~ok]), fn[~ok], np.inf))
            tries[rej] += 1
            active[rej[tries[rej] > _MAX_BACKTRACK]] = False   # keep the best point found
        acc = idx[ok]
        if len(acc):
            scored = left[acc] > 0
            _accept(acc[~scored], xn[ok][~scored], gn[ok][~scored], x, g, h, first)
            if scored.any():
                sa = acc[scored]
                left[sa] -= 1
                cur = fin[ok][scored]
                h[sa] = np.where((left[sa] > 0)[:, None, None], cur, _inverse(cur))
            fo = f[acc]
            taken = np.abs(xn[ok] - x[acc]).max(1)
            radius[acc] = np.where(t[acc] >= 1, np.minimum(2 * radius[acc], max_step),
                                   np.maximum(2 * taken, 1e-3))
            x[acc], f[acc], g[acc] = xn[ok], fn[ok], gn[ok]
            done = _converged(fo, fn[ok], gn[ok], xn[ok], lo, hi, gtol, ftol)
            recent[acc, steps[acc] % STALL_STEPS] = fo
            steps[acc] += 1
            done |= (steps[acc] >= STALL_STEPS) & (recent[acc].max(1) - fn[ok] < stall)
            converged[acc[done]] = True
            if stop_at_lo is not None:
                done |= (_blocked(gn[ok], xn[ok], lo, hi) & (xn[ok] <= lo) & stop_at_lo).any(1)
            active[acc[done | (steps[acc] >= maxiter)]] = False
            nxt = acc[active[acc]]
            t[nxt], tries[nxt] = 1.0, 0
            d[nxt] = _steps(h[nxt], g[nxt], x[nxt], lo, hi, radius[nxt], left[nxt] > 0)
    return x, f, converged, evals


def _steps(h, g, x, lo, hi, max_step, scoring):
    """Scoring steps where ``scoring`` (h holds F), quasi-Newton steps elsewhere (h = H);
    ``max_step`` (b,): the largest change of any coordinate per problem."""
    d = np.empty_like(x)
    if scoring.any():
        d[scoring] = _newton(h[scoring], g[scoring], x[scoring], lo, hi, max_step[scoring])
    if not scoring.all():
        q = ~scoring
        d[q] = _direction(h[q], g[q], x[q], lo, hi, max_step[q])
    return d


def _accept(acc, xn, gn, x, g, h, first):
    """BFGS update of the inverse Hessians of the accepted quasi-Newton steps."""
    if len(acc) == 0:
        return
    hh = h[acc]
    _bfgs_update(hh, xn - x[acc], gn - g[acc], first[acc])
    h[acc], first[acc] = hh, False


def _converged(fo, fn, gn, xn, lo, hi, gtol, ftol):
    small_f = (fo - fn) <= ftol * np.maximum(np.maximum(abs(fo), abs(fn)), 1)
    small_g = np.abs(_projected(gn, xn, lo, hi)).max(1) <= gtol
    return small_f | small_g
