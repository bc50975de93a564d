"""Spectral energy distributions: magnitudes to dereddened flux densities, and alpha_IR.

Bands of the paper's SED (section 3.4, Fig. 10): Pan-STARRS1 grizy (AB), 2MASS JHKs
(Vega, zero points of Cohen et al. 2003, AJ 126, 1090) and AllWISE W1-W4 (Vega, zero
points of Jarrett et al. 2011, ApJ 735, 112 / Wright et al. 2010). Effective
wavelengths: PS1 from Tonry et al. 2012 (ApJ 750, 99), 2MASS from Cohen et al. 2003,
WISE from Wright et al. 2010 (AJ 140, 1868).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

C_UM_HZ = 2.99792458e14   # speed of light in micron * Hz
JY = 1e-26                # W m^-2 Hz^-1


@dataclass(frozen=True)
class Band:
    """One photometric band.

    Parameters
    ----------
    name : str
        Band name used throughout the context stage (``"g"``, ``"Ks"``, ``"W1"`` ...).
    survey : str
        ``"ps1"``, ``"2mass"`` or ``"wise"``.
    wavelength_um : float, micron
        Effective wavelength.
    zero_point_jy : float, Jy
        Flux density of magnitude 0.
    """

    name: str
    survey: str
    wavelength_um: float
    zero_point_jy: float


#: The 12 SED bands, blue to red.
BANDS: tuple[Band, ...] = (
    Band("g", "ps1", 0.481, 3631.0), Band("r", "ps1", 0.617, 3631.0),
    Band("i", "ps1", 0.752, 3631.0), Band("z", "ps1", 0.866, 3631.0),
    Band("y", "ps1", 0.962, 3631.0),
    Band("J", "2mass", 1.235, 1594.0), Band("H", "2mass", 1.662, 1024.0),
    Band("Ks", "2mass", 2.159, 666.7),
    Band("W1", "wise", 3.353, 309.54), Band("W2", "wise", 4.603, 171.787),
    Band("W3", "wise", 11.561, 31.674), Band("W4", "wise", 22.088, 8.363),
)
BAND_NAMES: tuple[str, ...] = tuple(b.name for b in BANDS)
WAVELENGTH_UM = np.array([b.wavelength_um for b in BANDS])
ZERO_POINT_JY = np.array([b.zero_point_jy for b in BANDS])


def mag_to_jy(mag: np.ndarray, mag_err: np.ndarray, extinction: np.ndarray | float = 0.0):
    """Magnitudes of the 12 :data:`BANDS` to flux densities, dereddened by ``extinction``.

    Parameters
    ----------
    mag, mag_err : array (..., 12), mag
        NaN where a band is missing; a missing or non-positive error gives a NaN error.
    extinction : array (..., 12) or float, mag
        A(lambda) subtracted before the conversion.

    Returns
    -------
    flux, flux_err : arrays (..., 12), Jy
    """
    mag = np.asarray(mag, float)
    m0 = mag - np.asarray(extinction, float)
    flux = ZERO_POINT_JY * 10.0 ** (-0.4 * m0)
    err = np.asarray(mag_err, float)
    err = np.where(err > 0, err, np.nan)
    return flux, flux * 0.4 * np.log(10.0) * err


def jy_to_mag(flux_jy: np.ndarray) -> np.ndarray:
    """Flux densities (Jy) of the 12 bands to magnitudes (inverse of :func:`mag_to_jy`)."""
    return -2.5 * np.log10(np.asarray(flux_jy, float) / ZERO_POINT_JY)


def jy_to_lam_flam(flux_jy: np.ndarray, wavelength_um: np.ndarray = WAVELENGTH_UM) -> np.ndarray:
    """lambda F_lambda = nu F_nu in W m^-2 from F_nu in Jy."""
    return np.asarray(flux_jy, float) * JY * C_UM_HZ / wavelength_um


def lam_flam_to_jy(lam_flam: np.ndarray, wavelength_um: np.ndarray = WAVELENGTH_UM) -> np.ndarray:
    """F_nu in Jy from lambda F_lambda in W m^-2."""
    return np.asarray(lam_flam, float) * wavelength_um / (JY * C_UM_HZ)


def alpha_ir(lam_flam: np.ndarray) -> np.ndarray:
    """Slope d log(lambda F_lambda) / d log(lambda) at 2.2 micron (eq. 12).

    As in the paper, the SED is interpolated linearly (in log-log) between Ks and W1,
    so the slope is that of the Ks-W1 segment. NaN where either band is missing.

    Parameters
    ----------
    lam_flam : array (..., 12), W m^-2
    """
    lf = np.asarray(lam_flam, float)
    ks, w1 = BAND_NAMES.index("Ks"), BAND_NAMES.index("W1")
    with np.errstate(divide="ignore", invalid="ignore"):
        num = np.log10(lf[..., w1]) - np.log10(lf[..., ks])
    return num / np.log10(WAVELENGTH_UM[w1] / WAVELENGTH_UM[ks])


def build_sed(mag: np.ndarray, mag_err: np.ndarray, extinction: np.ndarray | None) -> dict:
    """The SED table of one object.

    Parameters
    ----------
    mag, mag_err : array (12,), mag
    extinction : array (12,) of A(lambda) in mag, or None (not dereddened)

    Returns
    -------
    dict with ``flux_jy``, ``flux_err_jy``, ``lam_flam``, ``lam_flam_err`` (W m^-2),
    ``dereddened`` (bool) and ``alpha_ir``.
    """
    ext = np.zeros(len(BANDS)) if extinction is None else np.nan_to_num(extinction)
    flux, ferr = mag_to_jy(mag, mag_err, ext)
    lf = jy_to_lam_flam(flux)
    return {"flux_jy": flux, "flux_err_jy": ferr, "lam_flam": lf,
            "lam_flam_err": jy_to_lam_flam(ferr), "dereddened": extinction is not None,
            "alpha_ir": float(alpha_ir(lf))}
