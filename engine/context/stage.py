"""``run_context``: the context stage generator (writes ``/context`` atomically)."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .. import provenance as prov
from ..config import ContextConfig, to_dict
from ..errors import StageError
from ..progress import Progress, StageGen
from .. import schema
from ..store import Store
from . import dusty, hr, sed, selection
from ..workcache import locked_stage
from .crossmatch import CATALOGS, PHOT_BANDS, NotCached, QueryFailed, VizierCache, VizierClient
from .extinction import ExtinctionMap
from .objects import Analysis, ContextStatus, XMatch, analyse, crossmatch_object, synthetic_object

logger = logging.getLogger(__name__)

STAGE = "context"
FIT_FIELDS = ("teff", "lum_lsun", "tau10", "t_inner", "r_in_cm", "mdot_dust", "mdot_total",
              "chi2", "n_bands", "kappa10")


def _read_inputs(store_path) -> dict:
    with Store(store_path, "r") as st:
        if st.n_objects == 0:
            raise StageError(f"{store_path}: the store has no objects")
        out = {"objects": st.read_objects(["id", "ra", "dec", "class"]), "n": st.n_objects,
               "ranks": {}, "scores": {}, "sim": None}
        for space in selection.SPACES:
            if st.has(schema.score_path(space, "rank")):
                out["ranks"][space] = st.read(schema.score_path(space, "rank"))
                out["scores"][space] = st.read(schema.score_path(space, "score"))
        if st.has(schema.SIM) and bool(st.attrs(schema.SIM).get("synthetic", False)):
            out["sim"] = {k: st.read(schema.dataset(schema.SIM, k))
                          for k in st.group_keys(schema.SIM)}
            for k, v in out["sim"].items():
                if v.dtype.kind == "S":
                    out["sim"][k] = v.astype("U")
    return out


def cache_root(store_path, cfg: ContextConfig) -> Path:
    return Path(cfg.cache_dir) if cfg.cache_dir else Path(str(store_path) + ".cache")


@locked_stage("context")
def run_context(store_path, cfg: ContextConfig = ContextConfig(),
                force: bool = False) -> StageGen:
    """Cross-match, extinction, SED, dust-shell fit and HR data of the selected objects.

    Yields :class:`~engine.progress.Progress` per object; commits ``/context`` at the
    end (a cancel leaves the previous ``/context``; finished queries stay cached).
    Returns a dict of counts, or ``{"skipped": why}`` when ``/context`` is up to date
    (:mod:`engine.provenance`) and not ``force``.
    """
    up = prov.fresh(store_path, STAGE, cfg, force)
    if up:
        return (yield from prov.skipped(STAGE, up))
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    family, grid_note = dusty.grid_family(cfg.grid_family)
    logger.info("context: %s", grid_note)
    inp = _read_inputs(store_path)
    objs = inp["objects"]
    rows, reasons = selection.select(inp["ranks"], inp["scores"], objs["class"], inp["n"],
                                     cfg.top_n, cfg.n_normal, cfg.normal_classes)
    synthetic = inp["sim"] is not None
    rows, reasons, no_position = (rows, reasons, 0) if synthetic else _with_position(
        rows, reasons, objs)
    total = len(rows)
    yield Progress(STAGE, 0, total, f"{total} objects selected"
                   + (f", {no_position} without a position skipped" if no_position else ""),
                   "obj")
    client = None if synthetic else VizierClient(
        VizierCache(cache_root(store_path, cfg)), cfg.vizier_server, cfg.timeout_s, cfg.retries,
        cfg.rate_per_s, cfg.backoff_s, cfg.offline, cfg.max_query_s)
    ext_map = None if synthetic else ExtinctionMap(cfg.bayestar_path, cfg.extinction_mode,
                                                   cfg.extinction_fallback)
    results, streak = [], 0
    for i, row in enumerate(rows):
        xm = (synthetic_object(inp["sim"], int(row)) if synthetic else
              crossmatch_object(client, float(objs["ra"][row]), float(objs["dec"][row]),
                                cfg.radius_arcsec))
        streak = streak + 1 if xm.status & ContextStatus.QUERY_FAILED else 0
        if client is not None and not client.offline and streak >= cfg.max_consecutive_failures:
            logger.warning("%d objects in a row failed to query VizieR: using the cache only",
                           streak)
            client.offline = True
        ebv, src = _ebv(xm, ext_map, float(objs["ra"][row]), float(objs["dec"][row]))
        results.append((xm, ebv, src, analyse(xm, ebv, src, cfg, family)))
        yield Progress(STAGE, i + 1, total, str(objs["id"][row]), "obj")
    background = _background(client, cfg)
    arrays = _to_arrays(rows, reasons, objs["id"], results, background,
                        dusty.load_grid(dusty.GRID_KEY[(family, "O")]).wavelength_um)
    attrs = _attrs(cfg, ext_map, client, synthetic) | {"grid_family": family,
                                                        "grid_note": grid_note}
    summary = _summary(arrays, client) | {"no_position": no_position}
    # objects whose queries failed (or were cut by the time budget) are gaps a plain
    # rerun fills; an offline run's cache misses are not (nothing would change)
    gaps = summary["query_failed"] + (0 if cfg.offline else summary["not_cached"])
    with Store(store_path, "a") as st:
        st.write_group(STAGE, arrays, attrs)
        prov.record(st, STAGE, cfg, started=started, n_objects=total,
                    n_fitted=int(np.isfinite(arrays["fit_teff"]).sum()),
                    n_no_position=no_position, incomplete=int(gaps))
    return summary


def _with_position(rows: np.ndarray, reasons: np.ndarray, objs: dict):
    """The selected rows that have a finite RA and Dec, their reasons, and how many were
    skipped: an object without a position cannot be cross-matched, and a query at
    (nan, nan) only waits for VizieR's timeout (three catalogues, ~40 s each)."""
    ra = np.asarray(objs["ra"], float)[rows]
    dec = np.asarray(objs["dec"], float)[rows]
    ok = np.isfinite(ra) & np.isfinite(dec)
    skipped = int((~ok).sum())
    if skipped:
        logger.warning("context: %d of %d selected objects have no finite RA/Dec: skipped "
                       "(no cross-match without a position)", skipped, len(rows))
    return rows[ok], reasons[ok], skipped


def _ebv(xm: XMatch, ext_map: ExtinctionMap | None, ra: float, dec: float):
    if xm.synthetic:
        return (xm.ebv, "synthetic") if np.isfinite(xm.ebv) else (np.nan, "none")
    ebv, src = ext_map.query([ra], [dec], [xm.distance_pc])
    return float(ebv[0]), str(src[0])


def _background(client: VizierClient | None, cfg: ContextConfig) -> dict | None:
    if client is None or not cfg.hr_background:
        return None
    try:
        table = client.field_stars(hr.BACKGROUND_FILTERS, cfg.hr_background_rows)
    except (NotCached, QueryFailed) as exc:
        logger.info("no HR background: %s", exc)
        return None
    return None if table is None else hr.background_from_table(table)


def _to_arrays(rows, reasons, ids, results, background, wl) -> dict[str, np.ndarray]:
    """``wl``: the wavelengths (micron) the fitted model spectra are stored at."""
    xms = [r[0] for r in results]
    an: list[Analysis] = [r[3] for r in results]
    out = {
        "row": np.asarray(rows, np.int64), "selection": reasons, "id": ids[rows],
        "status": np.array([int(x.status) for x in xms], np.uint32),
        "status_msg": np.array(["; ".join(x.messages) for x in xms]),
        "synthetic": np.array([x.synthetic for x in xms], np.uint8),
        "mag": _stack([x.mag for x in xms], len(PHOT_BANDS)),
        "mag_err": _stack([x.mag_err for x in xms], len(PHOT_BANDS)),
        "xm_id": np.array([x.ids for x in xms]).reshape(-1, len(CATALOGS)),
        "xm_sep_arcsec": _stack([x.sep_arcsec for x in xms], len(CATALOGS)),
        "xm_fetched": np.array([x.fetched for x in xms]).reshape(-1, len(CATALOGS)),
        "xm_state": np.array([x.state for x in xms]).reshape(-1, len(CATALOGS)),
        "distance_pc": np.array([x.distance_pc for x in xms], float),
        "distance_lo_pc": np.array([x.distance_lo_pc for x in xms], float),
        "distance_hi_pc": np.array([x.distance_hi_pc for x in xms], float),
        "ebv": np.array([r[1] for r in results], float),
        "ebv_source": np.array([r[2] for r in results]),
        "M_G": np.array([a.m_g for a in an], float),
        "bp_rp": np.array([a.bp_rp for a in an], float),
        "sed_wavelength_um": sed.WAVELENGTH_UM,
        "alpha_ir": np.array([a.sed["alpha_ir"] for a in an], float),
        "sed_dereddened": np.array([a.sed["dereddened"] for a in an], np.uint8),
        "model_wavelength_um": wl,
        "fit_grid": np.array([a.fit.grid if a.fit else "" for a in an]),
        "fit_model_index": np.array([a.fit.index if a.fit else -1 for a in an], np.int32),
        "fit_model_lam_flam": _stack([np.interp(np.log(wl), np.log(a.fit.model_wavelength_um),
                                                a.fit.model_lam_flam) if a.fit else None
                                      for a in an], len(wl)),
    }
    for key in ("flux_jy", "flux_err_jy", "lam_flam", "lam_flam_err"):
        out[f"sed_{key}"] = _stack([a.sed[key] for a in an], len(sed.BANDS))
    for name in FIT_FIELDS:
        out[f"fit_{name}"] = np.array([getattr(a.fit, name) if a.fit else np.nan for a in an],
                                      float)
    if background is not None:
        out["hr_background_M_G"] = background["M_G"]
        out["hr_background_bp_rp"] = background["bp_rp"]
    return out


def _stack(vectors, width: int) -> np.ndarray:
    out = np.full((len(vectors), width), np.nan)
    for i, v in enumerate(vectors):
        if v is not None:
            out[i] = v
    return out


def _attrs(cfg: ContextConfig, ext_map, client, synthetic: bool) -> dict:
    return {
        "config": to_dict(cfg), "phot_bands": list(PHOT_BANDS),
        "sed_bands": list(sed.BAND_NAMES), "catalogs": [c.vizier for c in CATALOGS],
        "catalog_keys": [c.key for c in CATALOGS], "synthetic": synthetic,
        "extinction_map": "synthetic" if synthetic else ext_map.source,
        "extinction_note": "" if synthetic else ext_map.note,
        "offline": bool(client.offline) if client else True,
        "mowlavi": {"slope": cfg.mowlavi_slope, "intercept": cfg.mowlavi_intercept},
        "r_in_method": "optically thin equilibrium, R_in = R*/2 (Teff/T_in)^2.5, R_in ~ L^1/2",
        "kappa10_cm2_g": {"O": cfg.kappa10_silicate, "C": cfg.kappa10_carbon},
        "kappa10_sources": dict(dusty.KAPPA_SOURCES),
        "status_flags": {f.name: int(f.value) for f in ContextStatus if f.value},
    }


def _summary(arrays: dict, client) -> dict:
    status = arrays["status"]
    return {"objects": len(status), "fitted": int(np.isfinite(arrays["fit_teff"]).sum()),
            "query_failed": int((status & ContextStatus.QUERY_FAILED).astype(bool).sum()),
            "not_cached": int((status & ContextStatus.NOT_CACHED).astype(bool).sum()),
            "requests": client.n_requests if client else 0,
            "out_of_time": bool(client.out_of_time) if client else False}
