"""Phase folding (eq. 1), the normalised wavelength axis (eq. 3) and the scaling of eq. 6.

Pure numpy helpers shared by the interpolation stage, the GUI and the tests.
"""
from __future__ import annotations

import logging

import numpy as np

from .config import ZTF_LAMBDA

logger = logging.getLogger(__name__)


def fold(time: np.ndarray, period: float, epoch: float = 0.0) -> np.ndarray:
    """Phase of each epoch, eq. 1: ``phi = t/tau - floor(t/tau)``.

    Parameters
    ----------
    time : array_like, days (MJD)
    period : float or array_like broadcasting with ``time``, days
        The catalogue period tau (one per point for the points of many objects).
    epoch : float, days (MJD)
        Time of phase zero; the paper uses 0 (phases relative to MJD 0).

    Returns
    -------
    ndarray in [0, 1)
    """
    tau = np.asarray(period, dtype=np.float64)
    if not (np.isfinite(tau) & (tau > 0)).all():
        raise ValueError(f"period must be positive and finite, got {period!r}")
    x = (np.asarray(time, dtype=np.float64) - epoch) / tau
    phase = x - np.floor(x)
    # x - floor(x) can round up to exactly 1.0 for tiny negative remainders
    phase[phase >= 1.0] = 0.0
    return phase


def epoch_phase(epoch: float, period: float) -> float:
    """Phase (eq. 1) of one epoch, e.g. a published time of maximum light (MJD, days)."""
    return float(fold(np.array([epoch]), period)[0])


def phase_distance(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """Circular distance between phases, in [0, 0.5]."""
    d = np.abs(np.asarray(a) - np.asarray(b)) % 1.0
    return np.minimum(d, 1.0 - d)


def phase_grid(n: int = 160) -> np.ndarray:
    """``n`` evenly spaced output phases in [0, 1) (the paper's 160)."""
    return np.arange(n, dtype=np.float64) / n


def normalised_wavelength(lam: float | np.ndarray, low: float, high: float) -> np.ndarray:
    """Eq. 3: ``(lambda - lambda_l) / (lambda_h - lambda_l)`` (Angstrom in, unitless out)."""
    return (np.asarray(lam, dtype=np.float64) - low) / (high - low)


def band_coordinates(low: float, high: float) -> np.ndarray:
    """Normalised wavelengths of ZTF g and r, shape (2,)."""
    return normalised_wavelength(np.array([ZTF_LAMBDA["g"], ZTF_LAMBDA["r"]]), low, high)


def scale(mean_mag: np.ndarray, std_mag: np.ndarray) -> tuple[np.ndarray, ...]:
    """Eq. 6 per band on interpolated curves: ``m -> (m - mbar)/sigma``, ``dm -> dm/sigma``.

    Parameters
    ----------
    mean_mag, std_mag : ndarray (..., 2, n_phase), mag
        GP mean and standard deviation per band.

    Returns
    -------
    mean, std : ndarray (..., 2, n_phase), scaled (unitless)
    mbar, sigma : ndarray (..., 2), mag
        Mean and standard deviation of the interpolated mean curve per band; the
        inverse is :func:`unscale`. A flat band (sigma 0) gives NaN scaled values.
    """
    mbar = mean_mag.mean(axis=-1)
    sigma = mean_mag.std(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        safe = np.where(sigma > 0, sigma, np.nan)[..., None]
        return (mean_mag - mbar[..., None]) / safe, std_mag / safe, mbar, sigma


def unscale(mean: np.ndarray, std: np.ndarray | None, mbar: np.ndarray,
            sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Inverse of :func:`scale`: magnitudes from scaled curves and the stored mbar, sigma
    (``std`` None: the curves only)."""
    return (mean * sigma[..., None] + mbar[..., None],
            None if std is None else std * sigma[..., None])
