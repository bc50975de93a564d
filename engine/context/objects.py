"""Context of one object: cross-match record, then HR, extinction, SED and fit."""
from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field

import numpy as np

from ..errors import StageError
from . import dusty, hr, sed
from .crossmatch import (CATALOGS, PHOT_BANDS, NotCached, QueryFailed, VizierClient,
                         nearest, row_value)
from .extinction import extinction

logger = logging.getLogger(__name__)


class ContextStatus(enum.IntFlag):
    """Bit flags of ``/context/status``; ``status_msg`` says the same in words."""

    OK = 0
    SYNTHETIC = 1           # demo store: photometry from /sim, not a catalogue
    QUERY_FAILED = 2        # a VizieR query failed after retries (rerun to fill)
    NOT_CACHED = 4          # offline and a query is not in the cache
    NO_GAIA = 8             # no Gaia DR3 source within the radius
    NO_DISTANCE = 16        # no Bailer-Jones distance
    EXTINCTION_FALLBACK = 32  # E(B-V) from the 2-D Burstein-Heiles map
    NOT_DEREDDENED = 64     # no extinction map covers the position
    FEW_BANDS = 128         # too few SED bands for a fit
    FIT_FAILED = 256        # no fit (see status_msg)
    POOR_FIT = 512          # reduced chi^2 above the config's threshold


@dataclass
class XMatch:
    """Cross-match of one object (arrays over :data:`PHOT_BANDS` and :data:`CATALOGS`)."""

    mag: np.ndarray = field(default_factory=lambda: np.full(len(PHOT_BANDS), np.nan))
    mag_err: np.ndarray = field(default_factory=lambda: np.full(len(PHOT_BANDS), np.nan))
    ids: list[str] = field(default_factory=lambda: [""] * len(CATALOGS))
    sep_arcsec: np.ndarray = field(default_factory=lambda: np.full(len(CATALOGS), np.nan))
    fetched: list[str] = field(default_factory=lambda: [""] * len(CATALOGS))
    state: list[str] = field(default_factory=lambda: [""] * len(CATALOGS))
    distance_pc: float = np.nan
    distance_lo_pc: float = np.nan
    distance_hi_pc: float = np.nan
    ebv: float = np.nan            # synthetic stores only
    chemistry: str = ""
    synthetic: bool = False
    status: ContextStatus = ContextStatus.OK
    messages: list[str] = field(default_factory=list)

    def flag(self, status: ContextStatus, message: str) -> None:
        self.status |= status
        self.messages.append(message)


def crossmatch_object(client: VizierClient, ra: float, dec: float, radius: float) -> XMatch:
    """Query every catalogue for one object; failures are flagged, never raised."""
    xm = XMatch()
    gaia_id = ""
    for j, cat in enumerate(CATALOGS):
        try:
            table, meta = client.cone(cat, ra, dec, radius)
        except QueryFailed as exc:
            xm.state[j] = "failed"
            xm.flag(ContextStatus.QUERY_FAILED, str(exc))
            continue
        except NotCached as exc:
            xm.state[j] = "not cached"
            xm.flag(ContextStatus.NOT_CACHED, str(exc))
            continue
        xm.fetched[j] = meta.get("fetched", "")
        row, sep = nearest(table, cat, ra, dec, gaia_id if cat.key == "bailerjones" else "")
        xm.state[j] = "no match" if row is None else ("cached" if meta["cached"] else "ok")
        if row is None:
            continue
        xm.ids[j] = str(row[cat.id_col])
        xm.sep_arcsec[j] = sep
        _take_mags(xm, row, cat)
        if cat.key == "gaia":
            gaia_id = xm.ids[j]
        if cat.key == "bailerjones":
            xm.distance_pc, xm.distance_lo_pc, xm.distance_hi_pc = (
                row_value(row, c) for c in ("rgeo", "b_rgeo", "B_rgeo"))
    _flag_missing(xm)
    return xm


def _take_mags(xm: XMatch, row, cat) -> None:
    for band, (mcol, ecol) in cat.mags.items():
        k = PHOT_BANDS.index(band)
        xm.mag[k], xm.mag_err[k] = row_value(row, mcol), row_value(row, ecol)


def _flag_missing(xm: XMatch) -> None:
    states = dict(zip((c.key for c in CATALOGS), xm.state))
    if states["gaia"] == "no match":
        xm.flag(ContextStatus.NO_GAIA, "no Gaia DR3 source within the radius")
    if not np.isfinite(xm.distance_pc) and states["bailerjones"] in ("ok", "cached", "no match"):
        xm.flag(ContextStatus.NO_DISTANCE, "no Bailer-Jones geometric distance")


def synthetic_object(sim: dict[str, np.ndarray], row: int) -> XMatch:
    """The demo store's synthetic photometry of one object (flagged synthetic)."""
    xm = XMatch(synthetic=True)
    xm.flag(ContextStatus.SYNTHETIC, "synthetic photometry (demo store)")
    for k, band in enumerate(PHOT_BANDS):
        name = band if band in ("G", "BP", "RP", "J", "H", "Ks") or band.startswith("W") \
            else f"ps1_{band}"
        if name in sim:
            xm.mag[k] = float(sim[name][row])
            xm.mag_err[k] = float(sim.get(f"{name}_err", np.full(row + 1, np.nan))[row])
    xm.distance_pc = float(sim["distance_pc"][row]) if "distance_pc" in sim else np.nan
    xm.ebv = float(sim["ebv"][row]) if "ebv" in sim else np.nan
    xm.chemistry = str(sim["chemistry"][row]) if "chemistry" in sim else ""
    xm.ids = [f"synthetic-{row}"] * len(CATALOGS)
    xm.sep_arcsec[:] = 0.0
    xm.state = ["synthetic"] * len(CATALOGS)
    if not np.isfinite(xm.distance_pc):
        xm.flag(ContextStatus.NO_DISTANCE, "no synthetic distance")
    return xm


@dataclass
class Analysis:
    """HR, SED and dust-shell fit of one object."""

    m_g: float
    bp_rp: float
    sed: dict
    fit: dusty.FitResult | None


def analyse(xm: XMatch, ebv: float, ebv_source: str, cfg, family: str = "dusty") -> Analysis:
    """HR position, dereddened SED, alpha_IR and the dust-shell fit of one object.

    ``family``: the grid family of the run (:func:`engine.context.dusty.grid_family`).
    """
    g, bp, rp = xm.mag[:3]
    m_g = float(hr.absolute_g(g, xm.distance_pc))
    ext = None
    if ebv_source == "none" or not np.isfinite(ebv):
        xm.flag(ContextStatus.NOT_DEREDDENED, "not dereddened: no extinction map covers it")
    else:
        ext = extinction(ebv)
        if ebv_source == "bh1982-2d":
            xm.flag(ContextStatus.EXTINCTION_FALLBACK,
                    "E(B-V) from the 2-D Burstein-Heiles map (whole line of sight)")
    table = sed.build_sed(xm.mag[3:], xm.mag_err[3:], ext)
    fit = _fit(xm, table, cfg, family)
    return Analysis(m_g, float(bp - rp), table, fit)


def _chemistries(cfg, chemistry: str) -> list[str]:
    """Dust chemistries to try: the config's, else the object's, else both (best fit)."""
    if cfg.grid in ("oxygen", "carbon"):
        return [dusty.chemistry_of(cfg.grid)]
    return [dusty.chemistry_of(chemistry)] if chemistry else ["O", "C"]


def _fit(xm: XMatch, table: dict, cfg, family: str) -> dusty.FitResult | None:
    if not np.isfinite(xm.distance_pc):
        xm.flag(ContextStatus.FIT_FAILED, "no dust-shell fit: no distance")
        return None
    best = None
    for chem in _chemistries(cfg, xm.chemistry):
        name = dusty.GRID_KEY[(family, chem)]
        kappa = cfg.kappa10_carbon if chem == "C" else cfg.kappa10_silicate
        try:
            res = dusty.fit_sed(table["lam_flam"], table["lam_flam_err"], sed.WAVELENGTH_UM,
                                xm.distance_pc, dusty.load_grid(name), kappa10=kappa,
                                v_exp_kms=cfg.v_exp_kms, gas_to_dust=cfg.gas_to_dust,
                                min_bands=cfg.min_bands)
        except StageError as exc:
            xm.flag(ContextStatus.FEW_BANDS | ContextStatus.FIT_FAILED, f"no dust-shell fit: {exc}")
            return None
        if best is None or res.chi2 < best.chi2:
            best = res
    if best is not None and not 1.0 <= best.lum_lsun <= 1e7:
        xm.flag(ContextStatus.POOR_FIT, f"unphysical dust-shell fit (L = {best.lum_lsun:.3g} L_sun)")
    elif best is not None and best.reduced_chi2 > cfg.max_reduced_chi2:
        xm.flag(ContextStatus.POOR_FIT, f"poor dust-shell fit (reduced chi2 {best.reduced_chi2:.1f})")
    return best
