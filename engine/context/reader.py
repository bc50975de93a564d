"""Read ``/context`` for the GUI (see the package docstring for the API)."""
from __future__ import annotations

import logging
import os

import numpy as np

from .. import schema
from ..store import Store
from . import hr

logger = logging.getLogger(__name__)

FIT_KEYS = ("teff", "lum_lsun", "tau10", "t_inner", "r_in_cm", "mdot_dust", "mdot_total", "chi2")
#: Per-fit datasets a store written before they existed lacks (read as NaN).
OPTIONAL_FIT_KEYS = ("kappa10",)


def _open(store):
    """(Store, close_after) for a path or an open Store."""
    if isinstance(store, Store):
        return store, False
    return Store(os.fspath(store), "r"), True


def load_context(store, row: int) -> dict | None:
    """Context of object ``row``; None when the stage did not process it."""
    st, close = _open(store)
    try:
        if not st.has(schema.CONTEXT_ROW):
            return None
        hit = np.flatnonzero(st.read(schema.CONTEXT_ROW) == int(row))
        if not len(hit):
            return None
        return _record(st, int(hit[0]))
    finally:
        if close:
            st.close()


def _in_context(name: str) -> str:
    return schema.dataset(schema.CONTEXT, name)


def _one(st: Store, name: str, i: int):
    return st.read(_in_context(name), rows=[i])[0]


def _record(st: Store, i: int) -> dict:
    attrs = st.attrs(schema.CONTEXT)
    fit = None
    grid = _one(st, "fit_grid", i).decode()
    if grid:
        fit = {k: float(_one(st, f"fit_{k}", i)) for k in FIT_KEYS}
        fit["grid"] = grid
        fit["grid_note"] = str(attrs.get("grid_note", ""))
        for k in OPTIONAL_FIT_KEYS:
            fit[k] = (float(_one(st, f"fit_{k}", i)) if st.has(_in_context(f"fit_{k}"))
                      else np.nan)
        fit["model_wavelength_um"] = st.read(_in_context("model_wavelength_um"))
        fit["model_lam_flam"] = _one(st, "fit_model_lam_flam", i)
    sed = {"band": list(attrs["sed_bands"]),
           "wavelength_um": st.read(_in_context("sed_wavelength_um")),
           "flux_jy": _one(st, "sed_flux_jy", i), "flux_err_jy": _one(st, "sed_flux_err_jy", i),
           "lam_flam": _one(st, "sed_lam_flam", i),
           "lam_flam_err": _one(st, "sed_lam_flam_err", i),
           "dereddened": bool(_one(st, "sed_dereddened", i))}
    return {
        "row": int(_one(st, "row", i)),
        "hr": {"M_G": float(_one(st, "M_G", i)), "bp_rp": float(_one(st, "bp_rp", i))},
        "sed": sed, "fit": fit, "alpha_ir": float(_one(st, "alpha_ir", i)),
        "distance_pc": float(_one(st, "distance_pc", i)),
        "ebv": float(_one(st, "ebv", i)), "ebv_source": _one(st, "ebv_source", i).decode(),
        "crossmatch": _crossmatch(st, attrs, i),
        "status": int(_one(st, "status", i)), "message": _one(st, "status_msg", i).decode(),
        "selection": _one(st, "selection", i).decode(),
        "synthetic": bool(_one(st, "synthetic", i)),
    }


def _crossmatch(st: Store, attrs: dict, i: int) -> dict:
    ids = _one(st, "xm_id", i)
    sep = _one(st, "xm_sep_arcsec", i)
    when = _one(st, "xm_fetched", i)
    state = _one(st, "xm_state", i)
    return {cat: {"id": ids[j].decode(), "sep_arcsec": float(sep[j]),
                  "fetched": when[j].decode(), "state": state[j].decode()}
            for j, cat in enumerate(attrs["catalogs"])}


def hr_points(store) -> dict:
    """M_G, BP-RP and rows of every object in ``/context`` (empty arrays if none)."""
    st, close = _open(store)
    try:
        if not st.has(schema.CONTEXT_ROW):
            return {"M_G": np.empty(0), "bp_rp": np.empty(0), "rows": np.empty(0, np.int64)}
        return {"M_G": st.read(_in_context("M_G")), "bp_rp": st.read(_in_context("bp_rp")),
                "rows": st.read(schema.CONTEXT_ROW)}
    finally:
        if close:
            st.close()


def hr_background(store) -> dict | None:
    """Field-star M_G and BP-RP fetched online (None offline: show only the objects)."""
    st, close = _open(store)
    try:
        if not st.has(_in_context("hr_background_M_G")):
            return None
        return {"M_G": st.read(_in_context("hr_background_M_G")),
                "bp_rp": st.read(_in_context("hr_background_bp_rp"))}
    finally:
        if close:
            st.close()


def mowlavi_line(store=None) -> dict:
    """The YSO/LPV line (coefficients of the store's run, else the defaults)."""
    if store is None:
        return hr.mowlavi_line()
    st, close = _open(store)
    try:
        if st.has(schema.CONTEXT):
            m = st.attrs(schema.CONTEXT).get("mowlavi") or {}
            return hr.mowlavi_line(m.get("slope", hr.MOWLAVI_SLOPE),
                                   m.get("intercept", hr.MOWLAVI_INTERCEPT))
        return hr.mowlavi_line()
    finally:
        if close:
            st.close()
