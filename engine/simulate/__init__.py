"""``pvsvet-engine demo``: a deterministic synthetic catalogue in the ZTF regime.

The 11 Chen et al. (2020) classes in CPVS proportions (:data:`.classes.CPVS_COUNTS`), the
pulsators' periods and amplitudes from OGLE-III (:mod:`.ogle3`), semi-regulars and Miras
with second periods, long secondary periods and cycle-to-cycle changes of amplitude and
mean (:mod:`.lightcurves`), shapes and colours (:mod:`.classes`, :mod:`.shapes`), ZTF DR2
cadence and errors (:mod:`.cadence`), about 1% injected anomalies of six kinds (:mod:`.anomalies`)
and synthetic context photometry consistent with the light curves (:mod:`.sed`,
:mod:`.dust`). The same seed gives the same catalogue, byte for byte; objects are
generated in chunks of :data:`CHUNK` with one random stream per chunk, so memory stays
flat for 730,000 objects.

Written to the store
--------------------
``/objects`` (see :mod:`engine.store`): ``id`` (numeric string), ``name``
(``ZTFJhhmmss.ss+ddmmss.s``), ``ra``, ``dec`` (deg), ``period`` (catalogue period, d;
differs from the true one for ``wrong_period`` anomalies), ``class``, ``mean_g``,
``mean_r`` (phase-mean model magnitude, AB mag), ``n_g``, ``n_r``, ``status``
(:class:`engine.store.Status`: ``MISSING_BAND``/``FEW_POINTS`` as ingest would set them),
``status_msg``, ``truth_anomaly`` (1/0), ``truth_kind`` (a kind of
:data:`.anomalies.KINDS` or '').

``/lightcurves``: time (MJD), mag, magerr (mag), band (0 = g, 1 = r), points fainter
than the exposure's 5-sigma depth or brighter than 12.5 mag (saturation) are absent.

``/sim`` (attr ``synthetic=True``; attrs ``seed``, ``n_objects``, ``generator``,
``columns`` (JSON: column -> unit)), one row per object:

=================== ====== ==========================================================
column              unit   meaning
=================== ====== ==========================================================
teff                K      effective temperature of the star
log_l               dex    log10 L / Lsun
radius_rsun         Rsun   stellar radius
true_period         d      period used to make the light curve
amp_g, amp_r        mag    peak-to-peak amplitude of the template
distance_pc         pc     geometric distance
ebv                 mag    true E(B-V) to the star
tau10               --     DESK optical depth at 10 micron (0: no dust shell)
tinner              K      DESK dust temperature at the shell's inner radius (0: none)
lag_g               cycle  phase lag of g behind r (non-zero for ``phase_lag`` only)
G BP RP             mag    Gaia DR3 (Vega), NaN where not detected
ps1_g ... ps1_y     mag    Pan-STARRS1 (AB), NaN outside 13.5-22 mag
J H Ks              mag    2MASS (Vega)
W1 W2 W3 W4         mag    AllWISE (Vega)
<band>_err          mag    1-sigma error of each of the above
chemistry           --     'O' or 'C' for Mira/SR, '' otherwise
=================== ====== ==========================================================
"""
from __future__ import annotations

import argparse
import logging
import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import PvsvetError, StoreError
from ..names import CHEN_PREFIX, iau_names
from ..progress import Progress, StageGen, drive
from ..store import Status, Store
from ..workcache import locked_stage
from . import population, sed
from .classes import CLASS_NAMES

logger = logging.getLogger(__name__)

CHUNK = 20_000
DEFAULT_OBJECTS = 20_000
GENERATOR = "pvsvet-sim-4"   # 3: OGLE-III periods and amplitudes, LPV secondary periods and LSPs;
#                               4: OGLE-III marginals and tails (copula), not a cut log-normal
MIN_POINTS = 10          # engine.config.IngestConfig.min_points


def _chunk(start: int, n: int, seed: int, open_nights: np.ndarray, dust_model):
    """Objects ``start:start+n``: (object columns, light curves, /sim columns)."""
    from . import lightcurves, shapes

    rng = np.random.default_rng([seed, start // CHUNK])
    par = population.draw(n, rng, dust_model)
    par["t0"] = 58194.0 - rng.random(n) * par["period"]
    tmpl = shapes.templates(list(CLASS_NAMES), par["class_code"], rng)
    tmpl[par["kind"] == "box_eclipse"] = shapes.box_eclipse(
        int((par["kind"] == "box_eclipse").sum()), rng)
    lcs, n_g, n_r = lightcurves.observe(par, rng, open_nights, tmpl)
    status, msg = _status(n_g, n_r)
    rows = np.arange(start, start + n)
    cols = {
        "id": [str(i + 1) for i in rows],
        "name": iau_names(par["ra"], par["dec"], CHEN_PREFIX),   # as the CPVS spells them
        "ra": par["ra"], "dec": par["dec"],
        "period": np.round(par["catalog_period"], 7),
        "class": [CLASS_NAMES[c] for c in par["class_code"]],
        "mean_g": par["mean_g"], "mean_r": par["mean_r"],
        "n_g": n_g, "n_r": n_r, "status": status, "status_msg": msg,
        "truth_anomaly": (par["kind"] != "").astype(np.uint8),
        "truth_kind": list(par["kind"]),
    }
    return cols, lcs, _sim_columns(par)


def _status(n_g: np.ndarray, n_r: np.ndarray):
    status = np.zeros(len(n_g), np.uint32)
    status[(n_g == 0) | (n_r == 0)] |= int(Status.MISSING_BAND | Status.REJECTED_CUT)
    status[(n_g < MIN_POINTS) | (n_r < MIN_POINTS)] |= int(Status.FEW_POINTS)
    msg = []
    for ng, nr in zip(n_g.tolist(), n_r.tolist()):
        parts = [f"{'no' if k == 0 else f'fewer than {MIN_POINTS}'} {b} points"
                 for b, k in (("g", ng), ("r", nr)) if k < MIN_POINTS]
        msg.append("; ".join(parts))
    return status, msg


def _sim_columns(par: dict) -> dict[str, np.ndarray]:
    radius = np.sqrt(10.0 ** par["log_l"]) * (5772.0 / par["teff"]) ** 2
    out = {"teff": par["teff"], "log_l": par["log_l"], "radius_rsun": radius,
           "true_period": par["period"], "amp_g": par["amp_g"], "amp_r": par["amp_r"],
           "distance_pc": par["distance_pc"], "ebv": par["ebv"], "tau10": par["tau10"],
           "tinner": par["tinner"], "lag_g": par["lag_g"]}
    for j, band in enumerate(sed.CONTEXT_BANDS):
        out[band] = par["context_mag"][:, j]
        out[f"{band}_err"] = par["context_err"][:, j]
    out = {k: np.asarray(v, np.float32) for k, v in out.items()}
    out["chemistry"] = np.asarray(list(par["chemistry"]), dtype="U1")
    return out


SIM_UNITS = {"teff": "K", "log_l": "dex(Lsun)", "radius_rsun": "Rsun", "true_period": "d",
             "amp_g": "mag", "amp_r": "mag", "distance_pc": "pc", "ebv": "mag",
             "tau10": "", "tinner": "K", "lag_g": "cycle", "chemistry": "", **{b: "mag" for b in sed.CONTEXT_BANDS},
             **{f"{b}_err": "mag" for b in sed.CONTEXT_BANDS}}


@locked_stage("demo")        # --overwrite must not replace a store another run is using
def make_demo(store_path: str | os.PathLike, n_objects: int = DEFAULT_OBJECTS,
              seed: int = 0, overwrite: bool = False, dust: bool = True) -> StageGen:
    """Build the synthetic demo store; a stage generator yielding :class:`Progress`.

    Parameters
    ----------
    store_path : path of the store to create
    n_objects : int
    seed : int
        Same seed and ``n_objects`` -> the same catalogue (all datasets identical).
    overwrite : bool
        Replace an existing file at ``store_path``.
    dust : bool
        Give a fraction of Mira/SR DESK dust-shell SEDs.

    The store is built under a temporary name and renamed when complete, so a cancel
    (``close()``) or error leaves no half-built store behind.
    """
    path = Path(store_path)
    if n_objects < 1:
        raise PvsvetError(f"demo: --objects must be at least 1, not {n_objects}")
    if path.exists() and not overwrite:
        raise StoreError(f"{path}: already exists (use --overwrite to replace it)")
    from . import cadence
    dust_model = _dust_model() if dust else None
    tmp = path.with_name(path.name + ".demo-tmp")
    tmp.unlink(missing_ok=True)
    sims = []
    done = False
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        yield Progress("demo", 0, n_objects, "starting", "obj")
        open_nights = cadence.weather(np.random.default_rng([seed, 2**31]))
        with Store.create(tmp, overwrite=True) as store:
            for start in range(0, n_objects, CHUNK):
                cols, lcs, sim = _chunk(start, min(CHUNK, n_objects - start), seed,
                                        open_nights, dust_model)
                store.append_objects(cols, lcs)
                sims.append(sim)
                yield Progress("demo", start + len(lcs), n_objects, f"seed {seed}", "obj")
            sim = {k: np.concatenate([s[k] for s in sims]) for k in sims[0]}
            store.write_group("sim", sim, {
                "synthetic": True, "seed": seed, "n_objects": n_objects,
                "generator": GENERATOR, "columns": SIM_UNITS})
            store.record_run("demo", "ok", config_hash=f"{GENERATOR}:{seed}:{n_objects}",
                             started=started,
                             n_objects=n_objects, seed=seed)
        os.replace(tmp, path)
        done = True
    finally:
        if not done:
            tmp.unlink(missing_ok=True)
    return {"store": str(path), "n_objects": n_objects, "seed": seed}


def _dust_model():
    from .dust import DustGrid
    return DustGrid.load()


def configure_demo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="the store file to create")
    parser.add_argument("--objects", type=int, default=DEFAULT_OBJECTS,
                        help=f"number of objects (default {DEFAULT_OBJECTS})")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing store")
    parser.add_argument("--no-dust", action="store_true",
                        help="blackbody SEDs only (no DESK dust shells)")


def cli_demo(args: argparse.Namespace) -> int:
    result = drive(make_demo(args.store, args.objects, args.seed, args.overwrite,
                             dust=not args.no_dust))
    print(f"{result['store']}: {result['n_objects']} synthetic objects (seed {result['seed']})")
    return 0
