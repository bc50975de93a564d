"""How the raw photometry departs from the object's folded GP curve.

The GP curve of ``/interp`` is the object's periodic model; the raw points of
``/lightcurves``, folded on the catalogue period (eq. 1), scatter around it. Three
numbers per object say what kind of scatter it is:

``fold_outlier_frac``
    Fraction of points more than :data:`OUTLIER_SIGMA` sigma from the curve, sigma
    being the larger of the robust scatter of the residuals (1.4826 x their median
    absolute deviation) and the median photometric error. Gaussian noise gives ~1e-4;
    an outburst, a fading episode or a blend with another source puts whole runs of
    points there.
``fold_scatter``
    That robust sigma over the median photometric error: ~1 where the fold explains
    everything but the noise; > 1 for cycle-to-cycle changes (semi-regulars) or a
    fold on the wrong period.
``variability``
    Standard deviation of the magnitudes over the median error: how far above the
    noise the star varies at all (a wrong period scrambles the curve but keeps this
    large; a faint star whose variation hides in the noise has ~1).

Each is the median over the two bands (g, r). More, for the vetting questions of
:mod:`engine.anomaly.vetting`:

``fade_run``, ``brightening_run``
    Did something happen once? The residuals, in robust sigma (clipped at 10) and in
    time order, summed over every run of :data:`FADE_RUN` (:data:`BRIGHTENING_RUN`)
    consecutive points and divided by the root of the run length: the largest sum
    fainter (brighter) than the fold. Noise gives ~3; a fade of weeks, or an outburst
    of days, puts a run of points many sigma off the curve in the same direction.
    The larger of the two bands.
``band_corr``
    Do g and r vary in step? The correlation of the folded GP curves of the two bands
    at zero phase shift: ~1 for a star whose bands rise and fall together, ~-1 for bands
    half a cycle apart.
``dip_flatness``
    Is the deepest dip flat-bottomed? With the curve scaled from its median (0) to its
    faintest point (1), the share of the phase spent above 0.8 over the share above
    0.2: ~0.3 for a rounded (V- or U-shaped) minimum, ~0.8 for a box (a total eclipse
    of a small body, a transit). Band mean.
``dip_width``
    How long is that dip? The share of the phase spent above 0.2 on the same scale:
    0.44 for a sinusoid (the minimum of a smooth pulsation or of spots), 0.05-0.2 for an
    eclipse or a transit, which last a small part of the orbit. Band mean.

``drop_excess``
    Does it drop below its curve now and then? Points more than :data:`OUTLIER_SIGMA`
    robust sigma fainter than the fold less those as far brighter, over the root of
    their sum plus one, summed over the bands: ~0 for noise or for junk points (which
    fall on both sides), ~2.5 for six scattered points in eclipses of an unseen
    companion, an occultation or a fade that the runs of ``fade_run`` miss because the
    cadence breaks them up.

``variability_sigma``
    Is it variable at all? The chi^2 of the constant (error-weighted mean) model of the
    raw magnitudes, summed over the two bands, against its degrees of freedom (points
    minus one per band), as the Gaussian-equivalent significance: the z with
    P(N(0,1) > z) = P(chi^2_dof > chi^2) (:func:`chi2_sigma`). Pure noise under its
    own errors gives ~N(0,1); a star that varies well above its errors gives tens or
    hundreds. It needs no GP curve (NaN only without points).

Three say what the instrument did, not what the star did (the vetting space compares each
star with stars observed alike, :func:`engine.anomaly.vetting.like_with_like`):

``n_points``, ``median_err``, ``baseline``
    Points in g and r together, the median photometric error over them (mag), and the
    time from the first to the last of them (days).

Rows without a GP curve are NaN (all but ``variability_sigma`` and the instrument three).

:func:`ensure_fold_stats` keeps them in the store's ``/foldstats`` group, the output of
the ``foldstats`` stage (:data:`engine.provenance.GRAPH`; its inputs are the catalogue
and ``/interp``), so they are recomputed only after one of those changed.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from .. import provenance as prov
from ..errors import FeatureError
from ..fold import fold, unscale
from ..progress import Progress, StageGen, run_quiet
from ..store import Store
from ..workcache import locked_stage

logger = logging.getLogger(__name__)

NAMES = ("fold_outlier_frac", "fold_scatter", "variability", "fade_run", "brightening_run",
         "band_corr", "dip_flatness", "variability_sigma", "n_points", "median_err",
         "baseline", "drop_excess", "dip_width")
#: the statistics of the observations alone (cadence, depth, number of points)
INSTRUMENT = ("n_points", "median_err", "baseline")
OUTLIER_SIGMA = 4.0
#: consecutive points summed by fade_run (weeks at ZTF cadence) and brightening_run (days)
FADE_RUN = 15
BRIGHTENING_RUN = 5
#: residuals are clipped at this many sigma before the runs are summed
RUN_CLIP = 10.0
MAD_TO_SIGMA = 1.4826
GROUP = STAGE = "foldstats"


@locked_stage("foldstats")
def foldstats_stage(store_path: str | Path, cfg: None = None, force: bool = False) -> StageGen:
    """The ``foldstats`` stage: :func:`ensure_fold_stats` as a step of the pipeline
    (it has no settings: ``cfg`` is None). Returns counts, or ``{"skipped": why}``."""
    up = prov.fresh(store_path, STAGE, None, force)
    if up:
        return (yield from prov.skipped(STAGE, up))
    out = yield from ensure_fold_stats(store_path, force=True)
    return {"n_objects": len(out[NAMES[0]]),
            "n_with_stats": int(np.isfinite(out["fold_scatter"]).sum())}


def ensure_fold_stats(store_path: str | Path, chunk: int = 20000,
                      need: tuple[str, ...] = NAMES, force: bool = False) -> StageGen:
    """The fold statistics of the store, computed and stored in ``/foldstats`` when
    the ``foldstats`` stage is not up to date (:func:`engine.provenance.check`) or
    ``force``. A generator: yields :class:`Progress` per chunk (stop iterating to
    cancel: nothing is written), returns the dict of arrays.

    ``need``: the statistics the caller uses; stored ones are reused when all of these
    are there (a store written before a statistic was added is recomputed only when a
    caller needs it).

    Raises
    ------
    FeatureError
        When the store has no ``/interp`` or no ``/lightcurves``.
    """
    with Store(store_path, "r") as st:
        if not force and not prov.check(st, STAGE, None).stale \
                and all(st.has(f"{GROUP}/{k}") for k in need):
            return {k: st.read(f"{GROUP}/{k}") for k in NAMES if st.has(f"{GROUP}/{k}")}
        for dataset, stage in (("interp/mean", "interpolate"), ("interp/raw_mean_mag", "interpolate"),
                               ("interp/raw_std_mag", "interpolate"),
                               ("lightcurves/offsets", "ingest")):
            if not st.has(dataset):
                raise FeatureError(f"{st.path}: fold statistics need /{dataset} "
                                   f"(run {stage} first)")
    t0 = time.perf_counter()
    out = yield from fold_stats_steps(store_path, chunk)
    seconds = round(time.perf_counter() - t0, 2)
    with Store(store_path, "a") as st:
        st.write_group(GROUP, out, {"outlier_sigma": OUTLIER_SIGMA, "seconds": seconds})
        prov.record(st, STAGE, None, seconds=seconds)
    logger.info("%s: fold statistics of %d objects in %.1f s", store_path, len(out[NAMES[0]]),
                time.perf_counter() - t0)
    return out


def fold_stats(store_path: str | Path, chunk: int = 20000) -> dict[str, np.ndarray]:
    """:data:`NAMES` -> (N,) float64 arrays for every object of the store."""
    return run_quiet(fold_stats_steps(store_path, chunk))


def fold_stats_steps(store_path: str | Path, chunk: int = 20000, start: int = 0) -> StageGen:
    """:func:`fold_stats` as a generator of :class:`Progress` (objects done); with
    ``start``, of rows ``start:`` only (each object's statistics are its own)."""
    with Store(store_path, "r") as st:
        n = st.n_objects
        period = st.read_objects(["period"])["period"].astype(np.float64)
        mbar, sigma = st.read("interp/raw_mean_mag"), st.read("interp/raw_std_mag")
        out = {k: np.full(n - start, np.nan) for k in NAMES}
        for a in range(start, n, chunk):
            b = min(a + chunk, n)
            curves, _ = unscale(st.read("interp/mean", rows=slice(a, b)).astype(np.float64),
                                None, mbar[a:b], sigma[a:b])           # magnitudes
            pts = st.photometry(a, b)
            for k, v in _chunk_stats(curves, period[a:b], *pts).items():
                out[k][a - start:b - start] = v
            yield Progress(STAGE, b - start, n - start, "fold statistics", "obj")
    return out


def _chunk_stats(curves, period, obj, time, mag, err, band) -> dict[str, np.ndarray]:
    m, n_phase = len(curves), curves.shape[-1]
    shape = curve_stats(curves)
    ok = (band < 2) & np.isfinite(mag) & np.isfinite(err) & (err > 0)
    ok &= np.isfinite(period[obj]) & (period[obj] > 0)
    obj, time, mag, err, band = obj[ok], time[ok], mag[ok], err[ok], band[ok].astype(np.int64)
    sigma = constant_model_sigma(obj * 2 + band, mag, err, m)
    observed = instrument_stats(obj, time, err, m)
    pos = fold(time, period[obj]) * n_phase
    i0 = np.floor(pos).astype(np.int64) % n_phase
    w = pos - np.floor(pos)
    model = (1 - w) * curves[obj, band, i0] + w * curves[obj, band, (i0 + 1) % n_phase]
    resid = mag - model
    good = np.isfinite(resid)
    group = (obj * 2 + band)[good]
    resid, err, mag, time = resid[good], err[good], mag[good], time[good]
    order = np.lexsort((time, group))                   # time order within each group
    group, resid, err, mag = group[order], resid[order], err[order], mag[order]
    n_groups = 2 * m
    med_err = _group_median(err, group, n_groups)
    centre = _group_median(resid, group, n_groups)
    dev = np.abs(resid - centre[group])
    scale = MAD_TO_SIGMA * _group_median(dev, group, n_groups)
    count = np.bincount(group, minlength=n_groups).astype(np.float64)
    outliers = np.bincount(group, weights=dev > OUTLIER_SIGMA * np.maximum(scale, med_err)[group],
                           minlength=n_groups)
    mean = np.bincount(group, weights=mag, minlength=n_groups) / np.maximum(count, 1)
    var = np.bincount(group, weights=(mag - mean[group]) ** 2, minlength=n_groups) / np.maximum(
        count - 1, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_band = {"fold_outlier_frac": outliers / count, "fold_scatter": scale / med_err,
                    "variability": np.sqrt(var) / med_err}
        z = np.clip((resid - centre[group]) / np.maximum(scale, med_err)[group],
                    -RUN_CLIP, RUN_CLIP)
    z = np.where(np.isfinite(z), z, 0.0)
    faint = np.bincount(group, weights=z > OUTLIER_SIGMA, minlength=n_groups)
    bright = np.bincount(group, weights=z < -OUTLIER_SIGMA, minlength=n_groups)
    drop = np.where(count >= 3, (faint - bright) / np.sqrt(faint + bright + 1), np.nan)
    out = {k: np.median(np.where(count >= 3, v, np.nan).reshape(m, 2), axis=1)
           for k, v in per_band.items()}
    for name, width, sign in (("fade_run", FADE_RUN, 1.0),
                              ("brightening_run", BRIGHTENING_RUN, -1.0)):
        run = _max_run(sign * z, group, n_groups, width)
        run = np.where(count >= width, run, np.nan).reshape(m, 2)
        out[name] = np.fmax(run[:, 0], run[:, 1])            # NaN only where both are
    drop = drop.reshape(m, 2)
    out["drop_excess"] = np.where(np.isnan(drop).all(axis=1), np.nan, np.nansum(drop, axis=1))
    return {**out, **shape, "variability_sigma": sigma, **observed}


def instrument_stats(obj: np.ndarray, time: np.ndarray, err: np.ndarray,
                     m: int) -> dict[str, np.ndarray]:
    """:data:`INSTRUMENT` per object from its g and r points (NaN without points)."""
    count = np.bincount(obj, minlength=m).astype(np.float64)
    first = np.full(m, np.inf)
    last = np.full(m, -np.inf)
    np.minimum.at(first, obj, time)
    np.maximum.at(last, obj, time)
    has = count > 0
    return {"n_points": np.where(has, count, np.nan),
            "median_err": _group_median(err, obj, m),
            "baseline": np.where(has, last - first, np.nan)}


def constant_model_sigma(group: np.ndarray, mag: np.ndarray, err: np.ndarray,
                         m: int) -> np.ndarray:
    """Per object (``group`` = object * 2 + band), the significance of its departure
    from a constant magnitude per band: chi^2 of the error-weighted mean model summed
    over the bands with >= 2 points, against points - 1 per band (:func:`chi2_sigma`)."""
    n_groups = 2 * m
    w = 1.0 / err ** 2
    sw = np.bincount(group, weights=w, minlength=n_groups)
    count = np.bincount(group, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(group, weights=w * mag, minlength=n_groups) / sw
    chi2 = np.bincount(group, weights=w * (mag - mean[group]) ** 2, minlength=n_groups)
    used = count >= 2
    chi2 = np.where(used, chi2, 0.0).reshape(m, 2).sum(axis=1)
    dof = np.where(used, count - 1, 0).reshape(m, 2).sum(axis=1)
    return chi2_sigma(chi2, dof)


def chi2_sigma(chi2: np.ndarray, dof: np.ndarray) -> np.ndarray:
    """Gaussian-equivalent significance of chi^2 values with ``dof`` degrees of freedom:
    z = -Phi^-1(P(chi^2_dof > chi2)), computed from log P so that it stays exact far in
    the tail (scipy's chi2.logsf and ndtri_exp). Where log P underflows (-inf; chi^2
    thousands of times its dof) the Wilson-Hilferty cube-root normal approximation takes
    over, which is accurate to well under a sigma there. NaN where dof < 1."""
    from scipy.special import ndtri_exp
    from scipy.stats import chi2 as chi2_dist

    chi2, dof = np.asarray(chi2, np.float64), np.asarray(dof, np.float64)
    out = np.full(chi2.shape, np.nan)
    ok = (dof >= 1) & np.isfinite(chi2)
    logp = chi2_dist.logsf(chi2[ok], dof[ok])
    z = -ndtri_exp(np.minimum(logp, 0.0))
    bad = ~np.isfinite(z)
    if bad.any():
        k = dof[ok][bad]
        z[bad] = ((chi2[ok][bad] / k) ** (1 / 3) - (1 - 2 / (9 * k))) / np.sqrt(2 / (9 * k))
    out[ok] = z
    return out


def _max_run(z: np.ndarray, group: np.ndarray, n_groups: int, width: int) -> np.ndarray:
    """Per group (``group`` sorted), the largest sum of ``width`` consecutive values over
    sqrt(width); -inf for groups shorter than ``width``."""
    out = np.full(n_groups, -np.inf)
    n = len(z)
    if n < width:
        return out
    csum = np.concatenate([[0.0], np.cumsum(z)])
    start = np.arange(n - width + 1)
    inside = group[start] == group[start + width - 1]
    sums = (csum[start + width] - csum[start]) / np.sqrt(width)
    np.maximum.at(out, group[start[inside]], sums[inside])
    return out


def curve_stats(curves: np.ndarray) -> dict[str, np.ndarray]:
    """``band_corr``, ``dip_flatness`` and ``dip_width`` of GP curves (m, 2, n_phase) in
    magnitudes (any per-band offset and positive scale give the same numbers)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        c = curves - curves.mean(axis=2, keepdims=True)
        norm = np.sqrt((c ** 2).sum(axis=2))
        corr = (c[:, 0] * c[:, 1]).sum(axis=1) / (norm[:, 0] * norm[:, 1])
        med = np.median(curves, axis=2, keepdims=True)
        x = (curves - med) / (curves.max(axis=2, keepdims=True) - med)     # faintest = 1
        width = (x > 0.2).mean(axis=2)
        flat = (x > 0.8).mean(axis=2) / width
    measured = np.isfinite(x).all(axis=2)
    out = {"band_corr": np.where(np.isfinite(corr), corr, np.nan)}
    for name, v in (("dip_flatness", flat), ("dip_width", width)):
        v = np.where(measured, v, np.nan)
        both = v.mean(axis=1)
        one = np.fmax(v[:, 0], v[:, 1])                     # a band without a curve
        out[name] = np.where(np.isfinite(both), both, one)
    return out


def _group_median(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of ``values`` per group id (NaN for empty groups), by one lexsort."""
    order = np.lexsort((values, group))
    counts = np.bincount(group, minlength=n_groups)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.full(n_groups, np.nan)
    has = counts > 0
    lo = start[has] + (counts[has] - 1) // 2
    hi = start[has] + counts[has] // 2
    sv = values[order]
    out[has] = 0.5 * (sv[lo] + sv[hi])
    return out
