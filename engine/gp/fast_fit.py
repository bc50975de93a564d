"""Drive the fast path: start values, batched optimisation with as many harmonics as each
curve's l_phi needs, more harmonics where a fit still reaches its K's shortest l_phi,
restarts for diverged or collapsed l_phi, and the prediction at the output phases.

Why K per curve. The basis of the weight-space GP (:mod:`engine.gp.fast`) needs
``K >= 3 / (pi l_phi)`` harmonics; the small matrices of every likelihood evaluation
have 2(2K+1) rows and cost ~K^3. A smooth curve (l_phi ~ 0.3) needs K = 4, an
eclipsing binary (l_phi ~ 0.03) K = 32. So the l_phi start is found first, on the
george reference's grid of starts, each grid value with its own K, and each curve is then
fitted with the K for a floor a factor :data:`SLACK` below its start, in batches of
curves with the same K: a few Fisher-scoring steps, then BFGS (:mod:`engine.gp.optim`).
"""
from __future__ import annotations

import logging

import numpy as np

from ..config import InterpConfig
from ..store import Status
from .fast import FastBatch, k_floor, k_needed
from .model import LPHI_STARTS, Band2, lphi_degenerate, log_bounds, moment_start, restart_values
from .optim import minimize_batch

logger = logging.getLogger(__name__)

#: The fit's l_phi floor is its start divided by this (the box it can move in before a
#: rerun with more harmonics is needed; a rerun lowers the floor by the same factor).
SLACK = 1.5
#: l_phi starts tried, long to short: the george reference's (the NLL has more than one
#: minimum in l_phi for many curves, so the fast fit starts where george starts, to end
#: in the same one; a finer grid lands in other minima as often as it helps).
GRID = tuple(sorted(LPHI_STARTS, reverse=True))
#: Largest basis table of one batch (bytes, with the complex powers it is built from).
BATCH_BYTES = 256e6
#: Harmonic counts used up to 24 (fewer distinct K: larger batches); above, K is rounded
#: up to a multiple of 4 only (few curves need so many, and their cost grows as K^3).
K_LEVELS = (2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24)
#: Fisher-scoring steps before BFGS takes over (from the inverse Fisher information):
#: scoring gets the scales of the four hyperparameters right from the first step, BFGS
#: the last digits (the Fisher information is not the Hessian away from the data's model).
SCORING = 3
#: A fit stops when five steps together lowered the NLL by less than this: far below
#: anything that changes the curve (a change of 0.5 in the NLL is one standard error).
STALL = 1e-3
#: A fit that reaches its K's shortest l_phi stops there; it goes on with more harmonics.
PINNED = np.array([True, False, False, False])


def k_for(lphi: np.ndarray, cfg: InterpConfig) -> np.ndarray:
    """Harmonics (see :data:`K_LEVELS`) that represent l_phi >= ``lphi`` faithfully."""
    need = np.ceil(3.0 / (np.pi * np.maximum(lphi, cfg.lphi_bounds[0]))).astype(int)
    levels = np.array(K_LEVELS)
    k = np.where(need <= levels[-1], levels[np.minimum(np.searchsorted(levels, need),
                                                       len(levels) - 1)], -(-need // 4) * 4)
    return np.minimum(k, k_needed(cfg))


def _batches(rows: np.ndarray, k: int, cfg: InterpConfig, data: list[Band2]):
    """Batches of ``rows`` (sorted by length): batch_size curves at n_harmonics, fewer at
    larger K, and few enough that the basis table (curves x 2 bands x longest band x
    2(2K+1) reals, and the complex powers it is built from) stays within
    :data:`BATCH_BYTES` for long light curves."""
    size = max(8, int(cfg.batch_size * cfg.n_harmonics / max(k, cfg.n_harmonics)))
    start = 0
    while start < len(rows):
        part = rows[start:start + size]
        longest = np.maximum.accumulate([max(len(data[i].y[0]), len(data[i].y[1])) for i in part])
        fits = (np.arange(1, len(part) + 1) * longest * (4 * k + 2) * 32) <= BATCH_BYTES
        n = max(1, int(fits.sum()) if fits.all() else int(np.argmin(fits)))
        yield part[:n]
        start += n


def _grid_start(data: list[Band2], x: np.ndarray, cfg: InterpConfig) -> np.ndarray:
    """l_phi start: the best of the reference's starts :data:`GRID`.

    The grid is tried from long to short l_phi, each value with its own K: the long
    ones (cheap) for all curves together, the shorter ones only for the curves whose
    likelihood still improved at the previous value, so the costly short-l_phi
    evaluations are made only for the curves that need them.
    """
    lo, hi = cfg.lphi_bounds
    grid = sorted({min(max(v, lo), hi) for v in GRID}, reverse=True)
    best, chosen = np.full(len(x), np.inf), np.full(len(x), np.log(grid[0]))
    cheap = [v for v in grid if k_for(np.array([v]), cfg)[0] <= cfg.n_harmonics] or grid[:1]
    _try(data, x, np.arange(len(x)), cheap, best, chosen, cfg)
    prev = cheap[-1]
    for v in grid[len(cheap):]:
        going = np.flatnonzero(chosen == np.log(prev))   # still improving at the last one
        if len(going) == 0:
            break
        _try(data, x, going, [v], best, chosen, cfg)
        logger.debug("l_phi start %g tried for %d curves", v, len(going))
        prev = v
    out = x.copy()
    out[:, 0] = chosen
    return out


def _try(data, x, rows, values, best, chosen, cfg) -> None:
    """Evaluate rows at each l_phi in ``values``; keep the best per row (in place)."""
    k = int(k_for(np.array([min(values)]), cfg)[0])
    rows = rows[np.argsort([len(data[i].y[0]) + len(data[i].y[1]) for i in rows], kind="stable")]
    for part in _batches(rows, k, cfg, data):
        fb = FastBatch([data[i] for i in part], k, cfg)
        for v, nll in zip(values, fb.nll_lphi(x[part], values, k_for(np.array(values), cfg))):
            better = nll < best[part]
            best[part[better]], chosen[part[better]] = nll[better], np.log(v)


def _solve(data: list[Band2], x0: np.ndarray, cfg: InterpConfig, phases: np.ndarray):
    """Optimise every row of ``x0`` with its own K; more K for fits pinned at their floor."""
    lo, hi = log_bounds(cfg)
    x, f = x0.copy(), np.full(len(x0), np.nan)
    kk = k_for(np.exp(x0[:, 0]) / SLACK, cfg)
    mean = np.empty((len(x0), 2, len(phases)))
    std = np.empty_like(mean)
    lens = np.array([len(d.y[0]) + len(d.y[1]) for d in data])
    cur, kmax = np.arange(len(x0)), k_needed(cfg)
    while len(cur):
        pinned = []
        for k in np.unique(kk[cur]):
            rows = cur[kk[cur] == k]
            rows = rows[np.argsort(lens[rows], kind="stable")]   # little padding per batch
            lo_k = lo.copy()
            # (a box narrower than K's floor: let the fit reach into the box rather than stall)
            lo_k[0] = min(np.log(k_floor(k, cfg)), hi[0] - np.log(2.0))
            for part in _batches(rows, k, cfg, data):
                fb = FastBatch([data[i] for i in part], k, cfg)
                start = x[part].copy()
                start[:, 0] = np.maximum(start[:, 0], lo_k[0])
                xs, fs, _, _ = minimize_batch(
                    lambda xx, ii, curv=False: fb.evaluate(xx, ii, fisher=curv), start, lo_k, hi,
                    scoring=SCORING, stall=STALL, stop_at_lo=PINNED if k < kmax else None)
                x[part], f[part] = xs, fs
                mean[part], std[part] = fb.predict(xs, phases)
            if k < kmax:
                pinned.append(rows[x[rows, 0] <= lo_k[0] + np.log(1.05)])
        cur = np.concatenate(pinned) if pinned else cur[:0]
        kk[cur] = k_for(np.array([k_floor(k, cfg) / SLACK for k in kk[cur]]), cfg)
        if len(cur):
            logger.debug("%d fits at their K's shortest l_phi: more harmonics", len(cur))
    return x, f, kk, mean, std


def fit_fast(data: list[Band2], cfg: InterpConfig, phases: np.ndarray):
    """Fit a list of prepared light curves; return arrays for all of them.

    Returns
    -------
    mean, std : ndarray (b, 2, len(phases)), mag relative to the band means
    hyper : ndarray (b, 4), l_phi, l_lam, C, delta
    nll : ndarray (b,)
    status : ndarray (b,) of Status bits, msgs : list of str
    """
    b = len(data)
    x0 = np.column_stack([np.full(b, np.nan), np.array([moment_start(d, cfg) for d in data])])
    x0 = _grid_start(data, x0, cfg)
    x, f, kk, mean, std = _solve(data, x0, cfg, phases)
    why = [lphi_degenerate(float(np.exp(v)), cfg) for v in x[:, 0]]
    if any(why):
        x, f, kk, why = _restart(data, x, f, kk, x0, why, cfg, phases, mean, std)
    status = np.array([int(Status.GP_FAILED) if w else 0 for w in why], dtype=np.uint32)
    msgs = [f"fast: {w} after restarts" if w else "" for w in why]
    return mean, std, np.exp(x), f, status, msgs


def _restart(data, x, f, kk, x0, why, cfg, phases, mean, std):
    """Rerun diverged/collapsed fits from other l_phi starts; keep the first sound one."""
    why = list(why)
    todo = [i for i, w in enumerate(why) if w]
    start_lphi = {i: float(np.exp(x0[i, 0])) for i in todo}
    for attempt in range(cfg.n_restarts):
        rows, starts = [], []
        for i in todo:
            values = restart_values(start_lphi[i], cfg)
            if attempt < len(values):
                rows.append(i)
                starts.append(values[attempt])
        if not rows:
            break
        rows = np.array(rows)
        xs = x0[rows].copy()
        xs[:, 0] = np.log(starts)
        xr, fr, kr, mr, sr = _solve([data[i] for i in rows], xs, cfg, phases)
        for j, i in enumerate(rows):
            if not lphi_degenerate(float(np.exp(xr[j, 0])), cfg):
                x[i], f[i], kk[i], why[i] = xr[j], fr[j], kr[j], ""
                mean[i], std[i] = mr[j], sr[j]
        todo = [i for i in todo if why[i]]
        logger.debug("restart %d: %d fits still degenerate", attempt + 1, len(todo))
    return x, f, kk, why
