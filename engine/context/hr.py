"""The Gaia HR diagram of the context stage (Fig. 9 of the paper).

M_G = G - 5 log10(d / 10 pc) with G from Gaia DR3 and d the geometric distance of
Bailer-Jones et al. 2021 (no extinction correction, as in the paper's Fig. 9).

The dashed line of Fig. 9 separates young stellar objects from long-period variables
(Mowlavi et al. 2018, A&A 618, A58): a straight line in the (BP-RP, M_G) plane; objects
fainter than it (larger M_G) at a given colour are YSO candidates. The one definition of its
coefficients is :class:`engine.config.ContextConfig` (``mowlavi_slope``,
``mowlavi_intercept``; :data:`MOWLAVI_SLOPE`, :data:`MOWLAVI_INTERCEPT` are its defaults,
also used by the GUI's synthetic stores). M_G = 2.5 (BP-RP) - 1 could not be checked
against Mowlavi et al. 2018 offline (no copy of the paper's text was reachable); the reader
returns whatever the run used.
"""
from __future__ import annotations

import logging

import numpy as np

from ..config import ContextConfig

logger = logging.getLogger(__name__)

MOWLAVI_SLOPE = ContextConfig.mowlavi_slope          # mag of M_G per mag of BP-RP
MOWLAVI_INTERCEPT = ContextConfig.mowlavi_intercept  # M_G at BP-RP = 0

#: Gaia DR3 field stars for the background: bright, precise parallaxes (cached query).
BACKGROUND_FILTERS = {"Plx": ">5", "RPlx": ">20", "Gmag": "<15"}


def absolute_g(g_mag, distance_pc):
    """M_G (mag) from apparent G (mag) and distance (pc); NaN without a distance."""
    d = np.asarray(distance_pc, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(g_mag, float) - 5.0 * np.log10(np.where(d > 0, d, np.nan) / 10.0)


def mowlavi_line(slope: float = MOWLAVI_SLOPE, intercept: float = MOWLAVI_INTERCEPT,
                 bp_rp_range: tuple[float, float] = (0.0, 8.0)) -> dict:
    """The YSO/LPV separation line: end points for plotting and its coefficients.

    Returns
    -------
    dict with ``bp_rp`` (2,), ``M_G`` (2,), ``slope``, ``intercept`` and ``reference``.
    """
    x = np.asarray(bp_rp_range, float)
    return {"bp_rp": x, "M_G": slope * x + intercept, "slope": slope, "intercept": intercept,
            "reference": "Mowlavi et al. 2018, A&A 618, A58 (YSOs fainter than the line)"}


def is_yso_side(m_g, bp_rp, slope: float = MOWLAVI_SLOPE,
                intercept: float = MOWLAVI_INTERCEPT) -> np.ndarray:
    """True where a point lies on the YSO side (fainter) of the line."""
    return np.asarray(m_g, float) > slope * np.asarray(bp_rp, float) + intercept


def background_from_table(table) -> dict:
    """M_G and BP-RP of field stars from a Gaia DR3 VizieR table (parallax distances)."""
    plx = np.asarray(table["Plx"], float)          # mas
    g = np.asarray(table["Gmag"], float)
    m_g = g + 5.0 * np.log10(np.where(plx > 0, plx, np.nan) / 100.0)
    bp_rp = np.asarray(table["BPmag"], float) - np.asarray(table["RPmag"], float)
    ok = np.isfinite(m_g) & np.isfinite(bp_rp)
    return {"M_G": m_g[ok], "bp_rp": bp_rp[ok]}
