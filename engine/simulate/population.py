"""Draw a chunk of synthetic stars: class, period, sky position, distance, photometry."""
from __future__ import annotations

import logging

import numpy as np

from . import anomalies, sed, sky
from .classes import CLASS_NAMES, CLASSES, draw_classes, draw_parameters

logger = logging.getLogger(__name__)

MAG_RANGE = (13.0, 20.6)     # ZTF r range of the CPVS
G_FAINT = 20.9               # mean g of a catalogued object stays above the g depth
#: farthest distance per class, pc (beyond it the star would be fainter than ZTF sees)
D_MAX = {"RR": 80e3, "RRc": 80e3, "CEPII": 60e3, "CEP": 30e3, "Mira": 40e3, "SR": 30e3}
D_MAX_DEFAULT = 15e3


def draw(n: int, rng: np.random.Generator, dust_model=None) -> dict[str, np.ndarray]:
    """All per-object quantities of ``n`` synthetic stars.

    Parameters
    ----------
    n : int
    rng : numpy Generator
    dust_model : :class:`engine.simulate.dust.DustGrid` or None
        Gives dusty Mira/SR their DESK SEDs; None: blackbodies only.

    Returns
    -------
    dict of arrays (see :mod:`engine.simulate` for the columns).
    """
    cls = draw_classes(n, rng)
    par = draw_parameters(cls, rng)
    kinds = anomalies.choose(cls, rng)
    anomalies.apply_to_parameters(kinds, cls, par, rng)
    par["class_code"], par["kind"] = cls, kinds
    names = [CLASS_NAMES[c] for c in cls]
    disk = np.array([CLASSES[c].disk_scale for c in names])
    halo = np.array([CLASSES[c].halo for c in names])
    par["ra"], par["dec"] = sky.draw_positions(disk, halo, rng)
    _, b = sky.icrs_to_galactic(par["ra"], par["dec"])
    par["ebv"] = sky.draw_ebv_total(b, rng) * np.where(rng.random(n) < 0.8,
                                                       rng.uniform(0.1, 1.0, n), 1.0)
    _photometry(par, names, rng, dust_model)
    return par


def _spectral_shape(par, names, rng, dust_model) -> np.ndarray:
    """L_nu / L_bol at every band of :data:`sed.BANDS`, shape (n, bands)."""
    lam = sed.wavelengths(list(sed.BANDS))
    shape = sed.blackbody_lnu(par["teff"], lam)
    n = len(names)
    chem = np.full(n, "", dtype=object)
    tau = np.zeros(n)
    lpv = np.isin(names, ["Mira", "SR"]) & (par["kind"] != "colour_mismatch")
    chem[lpv] = np.where(rng.random(lpv.sum()) < 0.8, "O", "C")
    if dust_model is not None:
        frac = np.where(np.asarray(names) == "Mira", 0.6, 0.25)
        dusty = np.flatnonzero(lpv & (rng.random(n) < frac))
        if len(dusty):
            shape[dusty], tau[dusty], par["teff"][dusty] = dust_model.sample(
                par["teff"][dusty], chem[dusty], np.asarray(names)[dusty] == "Mira", lam, rng)
    par["chemistry"], par["tau10"] = chem, tau
    return shape


def _photometry(par, names, rng, dust_model) -> None:
    """Mean ZTF magnitudes, distance and context photometry, consistent with each other."""
    bands = list(sed.BANDS)
    m_abs = sed.absolute_ab(_spectral_shape(par, names, rng, dust_model), par["log_l"])
    ig, ir = bands.index("ztf_g"), bands.index("ztf_r")
    colour = m_abs[:, ig] - m_abs[:, ir] + (sed.BANDS["ztf_g"][2] - sed.BANDS["ztf_r"][2]) * par["ebv"]
    faint = np.clip(np.minimum(MAG_RANGE[1], G_FAINT - colour), MAG_RANGE[0] + 0.1, None)
    mean_r = _draw_mags(par["bright"], MAG_RANGE[0], faint, rng)
    a_r = sed.BANDS["ztf_r"][2] * par["ebv"]
    dist = 10.0 * 10.0 ** ((mean_r - m_abs[:, ir] - a_r) / 5.0)
    d_max = np.array([D_MAX.get(c, D_MAX_DEFAULT) for c in names])
    far = dist > d_max
    # too far for its class: move it closer (brighter), never above the bright limit
    dist[far] = d_max[far] * rng.uniform(0.4, 1.0, far.sum())
    mean_r = np.maximum(m_abs[:, ir] + a_r + 5 * np.log10(dist / 10.0), MAG_RANGE[0])
    dist = 10.0 * 10.0 ** ((mean_r - m_abs[:, ir] - a_r) / 5.0)
    mags = sed.observed(m_abs, bands, dist, par["ebv"])
    par["mean_g"], par["mean_r"] = mags[:, ig], mags[:, ir]
    par["distance_pc"] = dist
    ctx = [bands.index(b) for b in sed.CONTEXT_BANDS]
    par["context_mag"], par["context_err"] = sed.add_errors(mags[:, ctx], sed.CONTEXT_BANDS, rng)


def _draw_mags(slope: np.ndarray, low: float, high: np.ndarray,
               rng: np.random.Generator) -> np.ndarray:
    """Magnitudes with dN/dm ~ 10**(slope*m) on [low, high] (inverse CDF)."""
    a, b = 10.0 ** (slope * low), 10.0 ** (slope * high)
    return np.log10(a + rng.random(len(slope)) * (b - a)) / slope
