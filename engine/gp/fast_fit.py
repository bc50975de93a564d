"""Drive the fast path: start values, batched optimisation, more harmonics where l_phi needs
them, restarts for diverged or collapsed l_phi, and the prediction at the output phases."""
from __future__ import annotations

import logging

import numpy as np

from ..config import InterpConfig
from ..store import Status
from .fast import FastBatch, k_floor, k_needed
from .model import LPHI_STARTS, Band2, lphi_degenerate, log_bounds, moment_start, restart_values
from .optim import minimize_batch

logger = logging.getLogger(__name__)


def _batches(idx: np.ndarray, k: int, cfg: InterpConfig):
    size = max(8, int(cfg.batch_size * cfg.n_harmonics / k))
    for s in range(0, len(idx), size):
        yield idx[s:s + size]


def _grid_start(fb: FastBatch, x: np.ndarray, k: int, cfg: InterpConfig) -> np.ndarray:
    """Pick the l_phi start with the best likelihood for rows whose l_phi is NaN."""
    need = np.isnan(x[:, 0])
    if not need.any():
        return x
    starts = [v for v in LPHI_STARTS if v >= k_floor(k, cfg)] or [k_floor(k, cfg)]
    best = np.full(len(x), np.inf)
    chosen = x[:, 0].copy()
    for v in starts:
        trial = x.copy()
        trial[:, 0] = np.log(v)
        nll = fb.evaluate(trial, grad=False)
        better = need & (nll < best)
        best[better], chosen[better] = nll[better], np.log(v)
    out = x.copy()
    out[:, 0] = chosen
    return out


def _solve(data: list[Band2], idx: np.ndarray, x0: np.ndarray, k0: int, cfg: InterpConfig,
           phases: np.ndarray):
    """Optimise rows ``idx`` and predict; double K for fits pinned at the K's shortest l_phi."""
    lo, hi = log_bounds(cfg)
    x, f, kk = x0.copy(), np.full(len(x0), np.nan), np.full(len(x0), k0)
    mean = np.empty((len(x0), 2, len(phases)))
    std = np.empty_like(mean)
    cur, k, kmax = np.arange(len(idx)), k0, max(k0, k_needed(cfg))
    while len(cur):
        lo_k = lo.copy()
        # (a box narrower than K's floor: let the fit reach into the box rather than stall)
        lo_k[0] = min(np.log(k_floor(k, cfg)), hi[0] - np.log(2.0))
        for part in _batches(cur, k, cfg):
            fb = FastBatch([data[i] for i in idx[part]], k, cfg)
            start = _grid_start(fb, x[part], k, cfg)
            start[:, 0] = np.maximum(start[:, 0], lo_k[0])
            xs, fs, _, _ = minimize_batch(lambda xx, ii: fb.evaluate(xx, ii), start, lo_k, hi)
            x[part], f[part], kk[part] = xs, fs, k
            mean[part], std[part] = fb.predict(xs, phases)
        pinned = cur[x[cur, 0] <= lo_k[0] + np.log(1.05)] if k < kmax else cur[:0]
        cur, k = pinned, min(2 * k, kmax)
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
    # similar lengths share a batch, so little of it is padding
    order = np.argsort([len(d.y[0]) + len(d.y[1]) for d in data], kind="stable")
    x, f, kk, mean, std = np.empty((b, 4)), np.empty(b), np.empty(b, int), None, None
    xs, fs, ks, ms, ss = _solve(data, order, x0[order], cfg.n_harmonics, cfg, phases)
    x[order], f[order], kk[order] = xs, fs, ks
    mean, std = np.empty_like(ms), np.empty_like(ss)
    mean[order], std[order] = ms, ss
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
    start_lphi = {i: float(np.exp(x[i, 0])) for i in todo}
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
        k = max(cfg.n_harmonics, int(min(kk[rows].max(), k_needed(cfg))))
        xr, fr, kr, mr, sr = _solve(data, rows, xs, k, cfg, phases)
        for j, i in enumerate(rows):
            if not lphi_degenerate(float(np.exp(xr[j, 0])), cfg):
                x[i], f[i], kk[i], why[i] = xr[j], fr[j], kr[j], ""
                mean[i], std[i] = mr[j], sr[j]
        todo = [i for i in todo if why[i]]
        logger.debug("restart %d: %d fits still degenerate", attempt + 1, len(todo))
    return x, f, kk, why
