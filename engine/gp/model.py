"""What both interpolation methods share: the data preparation, the hyperparameter box,
initial values and the checks that flag failed or unphysical fits.

Hyperparameters are always reported in the paper's convention (eqs. 2-5): kernel
``C exp(-dphi^2/l_phi^2) exp(-dlam^2/l_lam^2) + delta``, so ``hyper = (l_phi, l_lam, C, delta)``
with l_phi in phase units, l_lam in normalised wavelength, C and delta in mag^2.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..config import InterpConfig
from ..fold import band_coordinates, fold
from ..store import Status

logger = logging.getLogger(__name__)

#: l_phi start values tried (best likelihood wins) and used for restarts.
LPHI_STARTS = (0.03, 0.06, 0.12, 0.25, 0.5)
#: Start value of the band correlation rho = exp(-dlam^2/l_lam^2).
RHO_START = 0.9


@dataclass
class Band2:
    """One object's folded photometry, the mean of each band removed.

    Attributes
    ----------
    phase : list of two ndarrays, phase in [0, 1) for g and r
    y : list of two ndarrays, mag minus the band mean
    var : list of two ndarrays, magerr^2 (mag^2)
    offset : ndarray (2,), the removed band means (mag)
    """

    phase: list
    y: list
    var: list
    offset: np.ndarray


def prepare(time, mag, magerr, band, period: float, min_points: int) -> tuple[Band2 | None, int, str]:
    """Fold one light curve and centre each band; return (data, status bits, message).

    Points with non-finite values or non-positive errors are dropped first. An object
    with no g or r point, fewer than ``min_points`` in a band or a bad period gives
    ``None`` and the matching :class:`~engine.store.Status` bit.
    """
    if not np.isfinite(period) or period <= 0:
        return None, int(Status.BAD_PERIOD), f"period {period!r} d is not positive"
    ok = np.isfinite(time) & np.isfinite(mag) & np.isfinite(magerr) & (magerr > 0)
    phase = fold(time[ok], period)
    out = Band2([], [], [], np.zeros(2))
    for b in (0, 1):
        sel = band[ok] == b
        n = int(sel.sum())
        name = "gr"[b]
        if n == 0:
            return None, int(Status.MISSING_BAND), f"no {name} points"
        if n < min_points:
            return None, int(Status.FEW_POINTS), f"{n} {name} points (< {min_points})"
        m = mag[ok][sel].astype(np.float64)
        out.offset[b] = m.mean()
        out.phase.append(phase[sel])
        out.y.append(m - out.offset[b])
        out.var.append(magerr[ok][sel].astype(np.float64) ** 2)
    return out, 0, ""


def rho_of(llam: np.ndarray, cfg: InterpConfig) -> np.ndarray:
    """Band correlation exp(-dlam^2/l_lam^2) of ZTF g and r for length scale(s) l_lam."""
    dlam = np.diff(band_coordinates(cfg.lambda_low, cfg.lambda_high))[0]
    return np.exp(-(dlam / llam) ** 2)


def llam_of(rho: float, cfg: InterpConfig) -> float:
    dlam = np.diff(band_coordinates(cfg.lambda_low, cfg.lambda_high))[0]
    return float(dlam / np.sqrt(-np.log(rho)))


def log_bounds(cfg: InterpConfig) -> tuple[np.ndarray, np.ndarray]:
    """Box of x = log(l_phi, l_lam, C, delta)."""
    lo = np.log([cfg.lphi_bounds[0], cfg.llam_bounds[0], cfg.amp_bounds[0], cfg.noise_bounds[0]])
    hi = np.log([cfg.lphi_bounds[1], cfg.llam_bounds[1], cfg.amp_bounds[1], cfg.noise_bounds[1]])
    return lo, hi


def moment_start(data: Band2, cfg: InterpConfig) -> np.ndarray:
    """Start values log(l_lam, C, delta) from the data's moments (l_phi is chosen separately).

    C starts at the variance of the centred magnitudes; delta at the extra scatter of
    phase-neighbours beyond the quoted errors (half the mean squared difference of
    consecutive points in phase, minus the mean error variance), kept >= 1e-3 C.
    """
    y = np.concatenate(data.y)
    var_y = max(float(np.var(y)), 1e-6)
    extra = []
    for ph, yy, vv in zip(data.phase, data.y, data.var):
        order = np.argsort(ph)
        d = np.diff(yy[order])
        extra.append(0.5 * np.mean(d ** 2) - np.mean(vv))
    delta = float(np.clip(np.mean(extra), 1e-3 * var_y, 0.5 * var_y))
    lo, hi = log_bounds(cfg)
    x = np.log([llam_of(RHO_START, cfg), var_y, delta])
    return np.clip(x, lo[1:], hi[1:])


def restart_values(best: float, cfg: InterpConfig) -> list[float]:
    """Other l_phi starts for a fit whose l_phi diverged or collapsed (nearest first)."""
    starts = [v for v in LPHI_STARTS if abs(np.log(v / best)) > 0.1]
    starts.sort(key=lambda v: abs(np.log(v / best)))
    return starts[:cfg.n_restarts]


def lphi_degenerate(lphi: float, cfg: InterpConfig) -> str:
    """Why l_phi is unusable ('' if fine): pinned at the upper (diverged) or lower edge."""
    lo, hi = cfg.lphi_bounds
    if not np.isfinite(lphi):
        return "l_phi is not finite"
    if lphi >= hi * 0.98:
        return f"l_phi diverged (reached the upper bound {hi:g})"
    if lphi <= lo * 1.02:
        return f"l_phi collapsed (reached the lower bound {lo:g})"
    return ""


def check_physical(mean_mag: np.ndarray, std_mag: np.ndarray, data: Band2,
                   tolerance: float = 3.0) -> str:
    """Why an interpolation is unphysical ('' if it is fine).

    Parameters
    ----------
    mean_mag, std_mag : ndarray (2, n_phase), mag, centred like ``data.y``
    data : the folded input
    tolerance : how many times the data's scatter the mean may leave the data's range
        (a GP legitimately extrapolates a little into unobserved phases)
    """
    if not (np.all(np.isfinite(mean_mag)) and np.all(np.isfinite(std_mag))):
        return "non-finite GP mean or sigma"
    for b, name in enumerate("gr"):
        y, err = data.y[b], np.sqrt(data.var[b])
        scatter = max(float(np.std(y)), float(np.median(err)))
        margin = tolerance * scatter
        if mean_mag[b].max() > y.max() + margin or mean_mag[b].min() < y.min() - margin:
            return (f"{name} mean leaves the data range by more than {tolerance:g}x its "
                    f"scatter ({margin:.3g} mag)")
        if std_mag[b].max() > max(float(np.ptp(y)), 3 * float(np.median(err))):
            return f"{name} sigma exploded (max {std_mag[b].max():.3g} mag)"
        if np.median(std_mag[b]) < 1e-2 * float(np.median(err)):
            return f"{name} sigma collapsed (median {np.median(std_mag[b]):.2g} mag)"
        if np.ptp(mean_mag[b]) <= 0:
            return f"{name} mean is flat"
    return ""
