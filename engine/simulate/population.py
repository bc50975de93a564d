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
    _, par["b"] = sky.icrs_to_galactic(par["ra"], par["dec"])
    par["ebv_total"] = sky.draw_ebv_total(par["b"], rng)
    _photometry(par, names, rng, dust_model)
    return par


def _spectral_shape(par, names, rng, dust_model) -> np.ndarray:
    """L_nu / L_bol at every band of :data:`sed.BANDS`, shape (n, bands)."""
    lam = sed.wavelengths(list(sed.BANDS))
    shape = sed.blackbody_lnu(par["teff"], lam)
    n = len(names)
    chem = np.full(n, "", dtype=object)
    tau, t_inner = np.zeros(n), np.zeros(n)
    lpv = np.isin(names, ["Mira", "SR"]) & (par["kind"] != "colour_mismatch")
    chem[lpv] = np.where(rng.random(lpv.sum()) < 0.8, "O", "C")
    if dust_model is not None:
        frac = np.where(np.asarray(names) == "Mira", 0.6, 0.25)
        dusty = np.flatnonzero(lpv & (rng.random(n) < frac))
        if len(dusty):
            shape[dusty], tau[dusty], par["teff"][dusty], t_inner[dusty] = dust_model.sample(
                par["teff"][dusty], chem[dusty], np.asarray(names)[dusty] == "Mira", lam, rng)
    par["chemistry"], par["tau10"], par["tinner"] = chem, tau, t_inner
    return shape


def _photometry(par, names, rng, dust_model) -> None:
    """Mean ZTF magnitudes, distance and context photometry, consistent with each other."""
    bands = list(sed.BANDS)
    n = len(names)
    m_abs = sed.absolute_ab(_spectral_shape(par, names, rng, dust_model), par["log_l"])
    ig, ir = bands.index("ztf_g"), bands.index("ztf_r")
    r_g, r_r = sed.BANDS["ztf_g"][2], sed.BANDS["ztf_r"][2]
    ebv = 0.5 * par["ebv_total"]                      # first guess, refined below
    colour = m_abs[:, ig] - m_abs[:, ir] + (r_g - r_r) * ebv
    # large-amplitude LPVs sit fainter on average, else most of the cycle would saturate
    bright = np.maximum(MAG_RANGE[0], np.where(np.isin(names, ["Mira"]),
                                               12.5 + 0.45 * par["amp_r"], 0.0))
    faint = np.maximum(np.minimum(MAG_RANGE[1], G_FAINT - colour), bright + 0.1)
    mean_r = _draw_mags(par["bright"], bright, faint, rng)
    d_max = np.array([D_MAX.get(c, D_MAX_DEFAULT) for c in names])
    # a star too far for its class is moved in (and so brighter than drawn)
    d_far = d_max * rng.uniform(0.5, 1.0, n)
    for _ in range(4):    # distance <-> extinction along the line of sight
        dist = 10.0 * 10.0 ** ((mean_r - m_abs[:, ir] - r_r * ebv) / 5.0)
        dist = np.where(dist > d_max, d_far, dist)
        ebv = sky.ebv_at(par["ebv_total"], par["b"], dist)
    mean_r = m_abs[:, ir] + r_r * ebv + 5 * np.log10(dist / 10.0)
    colour = m_abs[:, ig] - m_abs[:, ir] + (r_g - r_r) * ebv
    mean_r = np.clip(mean_r, bright, np.maximum(np.minimum(MAG_RANGE[1], G_FAINT - colour),
                                                bright + 0.1))
    dist = 10.0 * 10.0 ** ((mean_r - m_abs[:, ir] - r_r * ebv) / 5.0)
    par["ebv"] = ebv
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
