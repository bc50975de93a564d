"""Raw ZTF-like photometry of a chunk of synthetic stars (vectorised over all points)."""
from __future__ import annotations

import logging

import numpy as np

from ..store import LightCurve
from . import anomalies, cadence, ogle3, shapes
from .classes import CLASS_NAMES

logger = logging.getLogger(__name__)

SATURATION = 12.5      # ZTF saturates near 12.5 mag: brighter points are not measured
N_KNOTS = 48           # knots of the stochastic modulation of semi-regulars (every ~10 d)


def _code(name: str) -> int:
    return CLASS_NAMES.index(name)


def _mira_cycles(rows, cyc, rng):
    """Cycle-to-cycle amplitude factor and mean shift (mag) of Mira points.

    One knot per cycle: amplitude x0.8-1.2 and mean shifts of 0.12 mag rms, the order of
    the cycle-to-cycle changes seen in Mira light curves (an assumption of this generator,
    not a fit to a catalogue; OGLE-III gives no per-cycle amplitudes).
    """
    knots_amp = rng.uniform(0.8, 1.2, (rows.max() + 1 if len(rows) else 1, 12))
    knots_mean = rng.normal(0.0, 0.12, knots_amp.shape)
    x = np.clip(cyc - 0.5, 0.0, 10.999)
    i0 = np.floor(x).astype(int)
    w = x - i0
    amp = (1 - w) * knots_amp[rows, i0] + w * knots_amp[rows, i0 + 1]
    shift = (1 - w) * knots_mean[rows, i0] + w * knots_mean[rows, i0 + 1]
    return amp, shift


def _red_noise(rows, time, n_obj, sigma, rng):
    """A damped random walk on knots every ~10 days, interpolated at each point."""
    steps = rng.standard_normal((n_obj, N_KNOTS))
    walk = np.zeros_like(steps)
    for k in range(1, N_KNOTS):        # AR(1), correlation time ~ 5 knots
        walk[:, k] = 0.8 * walk[:, k - 1] + 0.6 * steps[:, k]
    x = np.clip((time - cadence.MJD_START) / (cadence.MJD_END - cadence.MJD_START + 1.0),
                0.0, 1.0) * (N_KNOTS - 1.001)
    i0 = np.floor(x).astype(int)
    w = x - i0
    return sigma * ((1 - w) * walk[rows, i0] + w * walk[rows, i0 + 1])


def _phase_wander(rows, time, n_obj, period, sigma, rng):
    """Cycle-to-cycle period changes of semi-regulars: a random walk of the pulsation
    phase on knots every ~10 days, ``sigma`` cycles per square root of a cycle."""
    step_days = (cadence.MJD_END - cadence.MJD_START + 1.0) / (N_KNOTS - 1)
    steps = rng.standard_normal((n_obj, N_KNOTS)) * (sigma * np.sqrt(step_days / period))[:, None]
    steps[:, 0] = 0.0
    walk = np.cumsum(steps, axis=1)
    x = np.clip((time - cadence.MJD_START) / (cadence.MJD_END - cadence.MJD_START + 1.0),
                0.0, 1.0) * (N_KNOTS - 1.001)
    i0 = np.floor(x).astype(int)
    w = x - i0
    return (1 - w) * walk[rows, i0] + w * walk[rows, i0 + 1]


def _lognormal_ratio(summary: tuple[float, float], n: int, rng) -> np.ndarray:
    return 10.0 ** (summary[0] + summary[1] * rng.standard_normal(n))


def _secondary_periods(name: str, rows, time, period, rng) -> np.ndarray:
    """Further pulsation period and long secondary period (LSP) of LPVs, in units of the
    primary peak-to-peak amplitude, at each point (OGLE-III summaries, :mod:`.ogle3`).

    Every star gets a second pulsation period; a share ``lsp_frac`` also an LSP (for
    Miras mostly a slow change of the mean, its period being several ZTF baselines).
    """
    ex = ogle3.LPV_EXTRA[name]
    n = len(period)
    p2 = period * _lognormal_ratio(ex["p2_ratio"], n, rng)
    a2 = _lognormal_ratio(ex["a2_ratio"], n, rng)
    p_lsp = _lognormal_ratio(ex["lsp_period"], n, rng)
    a_lsp = _lognormal_ratio(ex["lsp_a_ratio"], n, rng) * (rng.random(n) < ex["lsp_frac"])
    ph2, ph_lsp = rng.random((2, n))
    return 0.5 * (a2[rows] * np.sin(2 * np.pi * (time / p2[rows] + ph2[rows]))
                  + a_lsp[rows] * np.sin(2 * np.pi * (time / p_lsp[rows] + ph_lsp[rows])))


def model_mags(par: dict, ep: cadence.Epochs, tmpl: np.ndarray,
               rng: np.random.Generator) -> np.ndarray:
    """Noise-free magnitude of every epoch, mag."""
    o, t, g = ep.obj, ep.time, ep.band == 0
    n = len(par["period"])
    t0 = par["t0"]
    cyc = (t - t0[o]) / par["period"][o]
    phase = cyc + np.where(g, par["lag_g"][o], 0.0)
    amp = np.where(g, par["amp_g"][o], par["amp_r"][o])
    mean = np.where(g, par["mean_g"][o], par["mean_r"][o])
    cls = par["class_code"][o]
    pts = np.flatnonzero(cls == _code("SR"))
    if len(pts):
        # SRa/SRb: the phase wanders by ~0.05-0.2 cycles per cycle (both bands alike)
        sigma = rng.uniform(0.05, 0.2, n)
        phase[pts] += _phase_wander(o[pts], t[pts], n, par["period"], sigma, rng)
    s = shapes.lookup(tmpl, o, phase)
    factor, extra = np.ones(len(t)), np.zeros(len(t))

    pts = np.flatnonzero(cls == _code("Mira"))
    if len(pts):
        f, shift = _mira_cycles(o[pts], cyc[pts], rng)
        factor[pts] = f
        extra[pts] = (shift * np.where(g[pts], 1.2, 1.0)
                      + amp[pts] * _secondary_periods("Mira", o[pts], t[pts], par["period"], rng))

    pts = np.flatnonzero(cls == _code("SR"))
    if len(pts):
        op = o[pts]
        modulation = 1.0 + _red_noise(op, t[pts], n, 0.25, rng)
        factor[pts] = np.clip(modulation, 0.2, None)
        extra[pts] = amp[pts] * (_red_noise(op, t[pts], n, 0.12, rng)
                                 + _secondary_periods("SR", op, t[pts], par["period"], rng))

    pts = np.flatnonzero(np.isin(cls, [_code("BYDra"), _code("RSCVN")]))
    if len(pts):
        # spot evolution: amplitude and mean drift across the 15-month span
        drift = rng.uniform(-0.6, 0.6, n)
        mean_drift = rng.uniform(-0.03, 0.03, n)
        u = (t[pts] - 0.5 * (cadence.MJD_START + cadence.MJD_END)) / (
            cadence.MJD_END - cadence.MJD_START)
        factor[pts] = np.clip(1.0 + drift[o[pts]] * u, 0.2, None)
        extra[pts] = mean_drift[o[pts]] * 2 * u
    return mean + amp * factor * s + extra


def observe(par: dict, rng: np.random.Generator, open_nights: np.ndarray,
            tmpl: np.ndarray) -> tuple[list[LightCurve], np.ndarray, np.ndarray]:
    """Epochs, noise and detection limits of a chunk.

    Returns
    -------
    lightcurves : list of LightCurve
    n_g, n_r : ndarray of int, points per band
    """
    n = len(par["period"])
    ep = cadence.draw_epochs(par["ra"], par["dec"], open_nights, rng)
    mag = model_mags(par, ep, tmpl, rng)
    mag = anomalies.apply_events(par["kind"], ep.obj, ep.time, ep.band, mag, rng)
    err = cadence.magerr(mag, ep.limit)
    obs = mag + err * rng.standard_normal(len(mag))
    reported = err * np.clip(1.0 + 0.08 * rng.standard_normal(len(mag)), 0.7, 1.3)
    keep = (obs < ep.limit) & (obs > SATURATION)
    obj, time, band = ep.obj[keep], ep.time[keep], ep.band[keep]
    obs, reported = obs[keep], reported[keep]
    counts = np.bincount(obj, minlength=n)
    edges = np.concatenate([[0], np.cumsum(counts)])
    lcs = [LightCurve(time[a:b], obs[a:b].astype(np.float32), reported[a:b].astype(np.float32),
                      band[a:b]) for a, b in zip(edges[:-1], edges[1:])]
    n_g = np.bincount(obj[band == 0], minlength=n)
    n_r = np.bincount(obj[band == 1], minlength=n)
    return lcs, n_g, n_r
