"""Injected anomalies with ground truth (``/objects/truth_anomaly``, ``truth_kind``).

About 1% of objects (at least one of each kind in a chunk of 600 or more) get one of:

``wrong_period``
    The catalogue period is the true one times a non-integer factor (1.08-1.45 or its
    inverse), so the fold on the catalogue period scrambles the curve.
``phase_lag``
    g lags r (``/sim/lag_g``, cycles) in a pulsator, EW or spotted star, so the folded
    2-band image no longer has both bands in phase (a blend of two variables, or a
    mis-assigned band, would do this). Pulsators and spotted stars: 0.3-0.5 cycles
    (0.5: anti-correlated bands). EW: 0.2-0.3 cycles, because an EW repeats itself
    every half cycle (two near-equal minima), so a half-cycle lag would be invisible
    and a quarter cycle puts g minima on r maxima.
``colour_mismatch``
    A Mira-like curve (long period, large amplitude) on a hot, blue star
    (Teff 6500-8500 K), or an EW curve on a cool M star (Teff 3000-3400 K).
``dimming``
    An R CrB-like fade of 1-4 mag (deeper in g): fast decline (5-20 d), slow
    recovery (40-150 d).
``outburst``
    One to three dwarf-nova-like brightenings of 1.5-4 mag (bluer in outburst),
    rise 1-2 d, exponential decay 4-15 d.
``box_eclipse``
    An EA whose only eclipse is wide and flat-bottomed (transit-like), no secondary.
"""
from __future__ import annotations

import logging

import numpy as np

from .classes import CLASS_NAMES, CLASSES, draw_parameters

logger = logging.getLogger(__name__)

KINDS = ("wrong_period", "phase_lag", "colour_mismatch", "dimming", "outburst", "box_eclipse")
RATE = 0.01
_HOSTS = {
    "wrong_period": ("EW", "EA", "RR", "RRc", "DSCT", "CEP", "CEPII", "BYDra", "RSCVN"),
    "phase_lag": ("RR", "RRc", "DSCT", "CEP", "CEPII", "EW", "BYDra", "RSCVN"),
    "colour_mismatch": ("Mira", "EW"),
    "dimming": tuple(CLASSES),
    "outburst": ("BYDra", "RSCVN", "EW", "EA"),
    "box_eclipse": ("EA",),
}


def n_anomalies(n: int) -> int:
    """Anomalies in a chunk of ``n`` objects: 1%, but every kind once in small chunks."""
    return int(min(n, max(round(RATE * n), min(len(KINDS), n // 50))))


def choose(cls: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Kind of each object ('' for normal objects), hosts drawn from suitable classes."""
    n = len(cls)
    kinds = np.full(n, "", dtype=object)
    m = n_anomalies(n)
    order = np.concatenate([rng.permutation(KINDS) for _ in range(m // len(KINDS) + 1)])[:m]
    for kind in order:
        codes = [CLASS_NAMES.index(c) for c in _HOSTS[kind]]
        free = np.flatnonzero((kinds == "") & np.isin(cls, codes))
        if not len(free):                     # no suitable host left: convert any object
            free = np.flatnonzero(kinds == "")
        kinds[rng.choice(free)] = kind
    return kinds


def apply_to_parameters(kinds: np.ndarray, cls: np.ndarray, par: dict[str, np.ndarray],
                        rng: np.random.Generator) -> None:
    """Change class, Teff, catalogue period and band lag of the anomalies in place.

    ``par`` gets ``catalog_period`` (d) and ``lag_g`` (cycles) for every object.
    """
    par["catalog_period"] = par["period"].copy()
    par["lag_g"] = np.zeros(len(cls))
    rows = np.flatnonzero(kinds == "wrong_period")
    f = rng.uniform(1.08, 1.45, len(rows))
    par["catalog_period"][rows] *= np.where(rng.random(len(rows)) < 0.5, f, 1.0 / f)
    rows = np.flatnonzero(kinds == "phase_lag")
    double_wave = cls[rows] == CLASS_NAMES.index("EW")
    par["lag_g"][rows] = np.where(double_wave, rng.uniform(0.2, 0.3, len(rows)),
                                  rng.uniform(0.3, 0.5, len(rows)))
    for row in np.flatnonzero(kinds == "colour_mismatch"):
        _recast(row, "Mira" if rng.random() < 0.7 else "EW", cls, par, rng)
        hot = CLASS_NAMES[cls[row]] == "Mira"
        par["teff"][row] = rng.uniform(6500, 8500) if hot else rng.uniform(3000, 3400)
    for row in np.flatnonzero(kinds == "box_eclipse"):
        if CLASS_NAMES[cls[row]] != "EA":
            _recast(row, "EA", cls, par, rng)


def _recast(row: int, name: str, cls: np.ndarray, par: dict[str, np.ndarray],
            rng: np.random.Generator) -> None:
    """Give object ``row`` class ``name`` with fresh parameters of that class."""
    code = CLASS_NAMES.index(name)
    cls[row] = code
    fresh = draw_parameters(np.array([code]), rng)
    for key, val in fresh.items():
        par[key][row] = val[0]
    par["catalog_period"][row] = fresh["period"][0]


def apply_events(kinds: np.ndarray, obj: np.ndarray, time: np.ndarray, band: np.ndarray,
                 mag: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add dimming and outburst events to the model magnitudes of the points."""
    mag = mag.copy()
    for row in np.flatnonzero(kinds == "dimming"):
        pts = obj == row
        depth = rng.uniform(1.0, 4.0) * np.where(band[pts] == 0, 1.15, 1.0)
        fall, rise = rng.uniform(5, 20), rng.uniform(40, 150)
        start = _seen_start(time[pts], fall, rng)
        dt = time[pts] - start
        profile = np.where(dt < 0, 0.0, np.where(dt < fall, dt / fall,
                                                 np.exp(-(dt - fall) / rise)))
        mag[pts] += depth * profile
    for row in np.flatnonzero(kinds == "outburst"):
        pts = obj == row
        flux = np.zeros(pts.sum())
        for _ in range(rng.integers(1, 4)):
            peak = rng.uniform(1.5, 4.0) * np.where(band[pts] == 0, 1.15, 1.0)
            up, decay = rng.uniform(1, 2), rng.uniform(4, 15)
            start = _seen_start(time[pts], up, rng)
            dt = time[pts] - start
            shape = np.where(dt < 0, 0.0, np.where(dt < up, dt / up, np.exp(-(dt - up) / decay)))
            flux += (10 ** (0.4 * peak) - 1.0) * shape
        mag[pts] -= 2.5 * np.log10(1.0 + flux)
    return mag


def _seen_start(times: np.ndarray, lead: float, rng: np.random.Generator) -> float:
    """Start of an event that the survey catches: shortly before a random epoch
    (an event inside a seasonal gap would leave no trace and no detectable truth)."""
    if not len(times):
        return 0.0
    return float(rng.choice(times)) - rng.uniform(0.0, lead)
