"""The paper-faithful reference: george's 2-D GP, 3x stacking, L-BFGS-B (section 2.1).

george's ``ExpSquaredKernel`` is ``exp(-r^2/2)`` with ``r^2 = dx^T M^-1 dx``, so the paper's
``exp(-dphi^2/l_phi^2)`` is ``M_phi = l_phi^2/2``; george's ``white_noise`` is ``log delta``.
george's ``ConstantKernel`` sums its constant over the input axes (value ``ndim * exp(log_constant)``,
george 0.4), so in 2-D ``log_constant = log(C/2)``. The parameter vector is
``(log delta, log C/2, log M_phi, log M_lam)``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..config import InterpConfig
from ..fold import band_coordinates
from ..store import Status
from .model import (LPHI_STARTS, Band2, lphi_degenerate, log_bounds, moment_start,
                    restart_values)

logger = logging.getLogger(__name__)
_LN2 = np.log(2.0)


@dataclass
class Fit:
    """Result of one object's interpolation (magnitudes relative to the band means)."""

    mean: np.ndarray     # (2, n_phase) mag
    std: np.ndarray      # (2, n_phase) mag
    hyper: np.ndarray    # (4,) l_phi, l_lam, C, delta
    nll: float
    status: int = 0
    msg: str = ""


def to_george(x: np.ndarray) -> np.ndarray:
    """log(l_phi, l_lam, C, delta) -> george's parameter vector."""
    return np.array([x[3], x[2] - _LN2, 2 * x[0] - _LN2, 2 * x[1] - _LN2])


def from_george(p: np.ndarray) -> np.ndarray:
    return np.array([0.5 * (p[2] + _LN2), 0.5 * (p[3] + _LN2), p[1] + _LN2, p[0]])


def _stacked(data: Band2, cfg: InterpConfig):
    """Inputs repeated ``cfg.stack`` times along phase (phi-1, phi, phi+1 for 3)."""
    lam = band_coordinates(cfg.lambda_low, cfg.lambda_high)
    shifts = np.arange(cfg.stack) - (cfg.stack - 1) // 2
    xs, ys, es = [], [], []
    for b in (0, 1):
        for s in shifts:
            xs.append(np.column_stack([data.phase[b] + s, np.full(len(data.y[b]), lam[b])]))
            ys.append(data.y[b])
            es.append(np.sqrt(data.var[b]))
    return np.vstack(xs), np.concatenate(ys), np.concatenate(es), lam


def _make_gp(x0: np.ndarray):
    import george
    from george import kernels

    p = to_george(x0)
    kernel = (kernels.ConstantKernel(log_constant=p[1], ndim=2)
              * kernels.ExpSquaredKernel(metric=np.exp(p[2:]).tolist(), ndim=2))
    return george.GP(kernel, mean=0.0, white_noise=p[0], fit_white_noise=True)


def _optimise(gp, y: np.ndarray, x0: np.ndarray, cfg: InterpConfig):
    from scipy.optimize import minimize

    def nll(p):
        gp.set_parameter_vector(p)
        val = -gp.log_likelihood(y, quiet=True)
        return val if np.isfinite(val) else 1e25

    def grad(p):
        gp.set_parameter_vector(p)
        return -gp.grad_log_likelihood(y, quiet=True)

    lo, hi = log_bounds(cfg)
    glo, ghi = to_george(lo), to_george(hi)
    res = minimize(nll, to_george(x0), jac=grad, method="L-BFGS-B",
                   bounds=list(zip(glo, ghi)))
    return from_george(res.x), float(res.fun), res


def _best_start(gp, y: np.ndarray, xrest: np.ndarray) -> np.ndarray:
    best, best_nll = None, np.inf
    for lphi in LPHI_STARTS:
        x = np.concatenate([[np.log(lphi)], xrest])
        gp.set_parameter_vector(to_george(x))
        val = -gp.log_likelihood(y, quiet=True)
        if val < best_nll:
            best, best_nll = x, val
    return best


def fit_george(data: Band2, cfg: InterpConfig, phases: np.ndarray) -> Fit:
    """Fit and predict one object with george; restart when l_phi diverges or collapses."""
    X, y, yerr, lam = _stacked(data, cfg)
    x0 = _best_start(_gp_for(X, yerr, cfg), y, moment_start(data, cfg))
    gp = _gp_for(X, yerr, cfg, x0)
    x, nll, _ = _optimise(gp, y, x0, cfg)
    why = lphi_degenerate(float(np.exp(x[0])), cfg)
    for lphi in restart_values(float(np.exp(x0[0])), cfg) if why else []:
        logger.debug("george restart from l_phi=%g (%s)", lphi, why)
        xs, nlls, _ = _optimise(gp, y, np.concatenate([[np.log(lphi)], x0[1:]]), cfg)
        if not lphi_degenerate(float(np.exp(xs[0])), cfg):
            x, nll, why = xs, nlls, ""
            break
    gp.set_parameter_vector(to_george(x))
    gp.compute(X, yerr)
    grid = np.vstack([np.column_stack([phases, np.full(len(phases), lam[b])]) for b in (0, 1)])
    mu, var = gp.predict(y, grid, return_var=True)
    fit = Fit(mu.reshape(2, -1), np.sqrt(np.clip(var, 0, None)).reshape(2, -1), np.exp(x), nll)
    if why:
        fit.status, fit.msg = int(Status.GP_FAILED), f"george: {why} after restarts"
    return fit


def _gp_for(X, yerr, cfg, x0=None):
    if x0 is None:
        lo, hi = log_bounds(cfg)
        x0 = 0.5 * (lo + hi)
    gp = _make_gp(x0)
    gp.compute(X, yerr)
    return gp
