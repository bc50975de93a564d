"""Synthetic context photometry: a star of (Teff, L) seen at distance d through E(B-V).

The spectral energy distribution is a blackbody (``pi B_nu(Teff) (R/d)^2``), or, for
dusty Mira/SR stars, a DESK/DUSTY model (:mod:`engine.simulate.dust`), sampled at each
band's pivot wavelength (monochromatic: a simplification that is worst for Gaia G,
a wide band). Magnitudes are AB for ZTF and PS1 and Vega for Gaia, 2MASS and WISE,
converted with the AB-Vega offsets below. Extinction is ``A = R * E(B-V)``.
"""
from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

H, C, KB = 6.62607015e-34, 2.99792458e8, 1.380649e-23
LSUN, RSUN, PC, SIGMA_SB = 3.828e26, 6.957e8, 3.0856775814913673e16, 5.670374419e-8
JY = 1e-26

#: band -> (pivot wavelength in micron, AB - Vega offset in mag, R = A/E(B-V)).
#: Wavelengths: ZTF from engine.config.ZTF_LAMBDA; PS1 Tonry et al. (2012); Gaia DR3
#: pivots and AB/Vega zero points of Riello et al. (2021); 2MASS Cohen et al. (2003) with
#: AB offsets of Blanton & Roweis (2007); WISE Jarrett et al. (2011) with their offsets.
#: R: DESIGN.md (Bayestar19 for PS1/2MASS; WISE A = alpha*A_Ks, alpha = 0.591, 0.463,
#: 0.537, 0.364), ZTF g/r take the PS1 g/r values, Gaia from Casagrande & VandenBerg
#: (2018, MNRAS 479, L102): R_BP 3.374, R_G 2.740, R_RP 2.035.
BANDS: dict[str, tuple[float, float, float]] = {
    "ztf_g": (0.47465, 0.0, 3.518), "ztf_r": (0.63664, 0.0, 2.617),
    "BP": (0.5110, 0.0155, 3.374), "G": (0.6218, 0.1136, 2.740), "RP": (0.7769, 0.3561, 2.035),
    "ps1_g": (0.4849, 0.0, 3.518), "ps1_r": (0.6201, 0.0, 2.617), "ps1_i": (0.7535, 0.0, 1.971),
    "ps1_z": (0.8674, 0.0, 1.549), "ps1_y": (0.9628, 0.0, 1.263),
    "J": (1.235, 0.91, 0.7927), "H": (1.662, 1.39, 0.4690), "Ks": (2.159, 1.85, 0.3026),
    "W1": (3.368, 2.699, 0.591 * 0.3026), "W2": (4.618, 3.339, 0.463 * 0.3026),
    "W3": (12.082, 5.174, 0.537 * 0.3026), "W4": (22.194, 6.620, 0.364 * 0.3026),
}
CONTEXT_BANDS = [b for b in BANDS if not b.startswith("ztf")]
#: (bright limit, faint limit, error at the faint limit) per survey, mag.
_DEPTH = {"G": (3.0, 21.0, 0.02), "BP": (3.0, 21.0, 0.15), "RP": (3.0, 20.5, 0.10),
          "ps1": (13.5, 22.0, 0.12), "J": (4.0, 16.8, 0.15), "H": (4.0, 16.2, 0.15),
          "Ks": (4.0, 15.6, 0.15), "W1": (2.0, 17.0, 0.15), "W2": (1.5, 15.6, 0.15),
          "W3": (-3.0, 11.5, 0.20), "W4": (-4.0, 8.0, 0.25)}
_FLOOR = {"G": 0.0005, "BP": 0.002, "RP": 0.002, "ps1": 0.01}


def wavelengths(bands: list[str]) -> np.ndarray:
    return np.array([BANDS[b][0] for b in bands])


def blackbody_lnu(teff: np.ndarray, lam_um: np.ndarray) -> np.ndarray:
    """L_nu / L_bol (per Hz) of a blackbody at ``lam_um``, shape (n, bands)."""
    nu = C / (lam_um * 1e-6)
    x = np.minimum(H * nu[None, :] / (KB * teff[:, None]), 700.0)
    b_nu = 2 * H * nu[None, :] ** 3 / C ** 2 / np.expm1(x)
    return np.pi * b_nu / (SIGMA_SB * teff[:, None] ** 4)   # pi B_nu / (sigma T^4)


def absolute_ab(lnu_per_lbol: np.ndarray, log_l: np.ndarray) -> np.ndarray:
    """AB magnitude at 10 pc of a source with ``L_nu / L_bol`` and log10 L/Lsun."""
    lnu = lnu_per_lbol * (LSUN * 10.0 ** log_l)[:, None]
    fnu = lnu / (4 * np.pi * (10 * PC) ** 2)
    return -2.5 * np.log10(np.maximum(fnu, 1e-300) / (3631 * JY))


def observed(m_abs_ab: np.ndarray, bands: list[str], dist_pc: np.ndarray,
             ebv: np.ndarray) -> np.ndarray:
    """Apparent magnitudes (AB or Vega per band) at ``dist_pc`` through ``ebv``."""
    mu = 5 * np.log10(dist_pc / 10.0)
    offs = np.array([BANDS[b][1] for b in bands])
    r_ext = np.array([BANDS[b][2] for b in bands])
    return m_abs_ab + mu[:, None] - offs[None, :] + ebv[:, None] * r_ext[None, :]


def _survey(band: str) -> str:
    return "ps1" if band.startswith("ps1") else band


def add_errors(mags: np.ndarray, bands: list[str], rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray]:
    """Measured magnitudes and errors; NaN outside each survey's bright/faint limits."""
    out, err = np.empty_like(mags), np.empty_like(mags)
    for j, band in enumerate(bands):
        lo, hi, e_hi = _DEPTH[_survey(band)]
        floor = _FLOOR.get(_survey(band), 0.02)
        e = np.sqrt(floor ** 2 + (e_hi * 10 ** (0.4 * (mags[:, j] - hi))) ** 2)
        val = mags[:, j] + e * rng.standard_normal(len(mags))
        seen = (mags[:, j] > lo) & (mags[:, j] < hi)
        out[:, j] = np.where(seen, val, np.nan)
        err[:, j] = np.where(seen, e, np.nan)
    return out, err
