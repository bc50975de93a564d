"""Light-curve shapes of the 11 classes as per-object templates on a phase grid.

A template ``s(phase)`` is in magnitudes relative to the phase-mean, normalised to a
peak-to-peak of one (positive = fainter); the light curve in band b is
``mean_b + amp_b * s(phase + lag_b) + extra_b(t)``. Time-dependent behaviour that a
fixed template cannot carry (Mira cycle-to-cycle changes, semi-regular second
periods and stochastic modulation, starspot evolution) is in :func:`time_terms`.
"""
from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

K = 256                                   # template phase grid
PHASE = np.arange(K) / K


def _wrap(dphi: np.ndarray) -> np.ndarray:
    return (dphi + 0.5) % 1.0 - 0.5


def _normalise(s: np.ndarray) -> np.ndarray:
    s = s - s.mean(axis=1, keepdims=True)
    return s / np.maximum(np.ptp(s, axis=1, keepdims=True), 1e-9)


def _smooth_sawtooth(rise: np.ndarray, n_harm: int) -> np.ndarray:
    """Brightness rising over a phase fraction ``rise`` and falling over the rest,
    smoothed by keeping ``n_harm`` Fourier harmonics; returned in magnitudes."""
    x = PHASE[None, :]
    r = rise[:, None]
    bright = np.where(x < r, x / r, 1.0 - (x - r) / (1.0 - r))
    spec = np.fft.rfft(bright, axis=1)
    spec[:, n_harm + 1:] = 0.0
    return -np.fft.irfft(spec, n=K, axis=1)


def ew(m: int, rng: np.random.Generator) -> np.ndarray:
    """Contact binary: continuous variation, primary and slightly shallower secondary
    minima, O'Connell asymmetry."""
    x = PHASE[None, :]
    ratio = rng.uniform(0.75, 1.0, (m, 1))
    gamma = rng.uniform(0.8, 1.6, (m, 1))
    depth = ratio + (1.0 - ratio) * 0.5 * (1.0 + np.cos(2 * np.pi * x))
    s = depth * (0.5 * (1.0 + np.cos(4 * np.pi * x))) ** gamma
    s += rng.uniform(-0.04, 0.04, (m, 1)) * np.sin(2 * np.pi * x)
    return _normalise(s)


def _eclipse(x, centre, width, depth, box=False):
    u = np.abs(_wrap(x - centre)) / width
    if box:   # flat bottom with short ingress/egress
        return depth * np.clip((1.0 - u) / 0.15, 0.0, 1.0)
    return depth * np.sqrt(np.clip(1.0 - u * u, 0.0, None))


def ea(m: int, rng: np.random.Generator) -> np.ndarray:
    """Detached binary: flat out of eclipse, narrow primary and secondary (possibly
    eccentric) eclipses, weak ellipsoidal variation."""
    x = PHASE[None, :]
    w = rng.uniform(0.02, 0.07, (m, 1))
    s = _eclipse(x, 0.0, w, 1.0)
    s += _eclipse(x, 0.5 + rng.normal(0.0, 0.02, (m, 1)), w * rng.uniform(0.8, 1.2, (m, 1)),
                  rng.uniform(0.05, 0.6, (m, 1)))
    s += rng.uniform(0.0, 0.06, (m, 1)) * 0.5 * (1.0 - np.cos(4 * np.pi * x))
    return _normalise(s)


def box_eclipse(m: int, rng: np.random.Generator) -> np.ndarray:
    """Anomalous shape: one wide flat-bottomed (transit-like) eclipse, no secondary."""
    x = PHASE[None, :]
    return _normalise(_eclipse(x, 0.0, rng.uniform(0.06, 0.12, (m, 1)), 1.0, box=True))


def pulsator(m: int, rng: np.random.Generator, rise: tuple[float, float], n_harm: int,
             bump: float = 0.0) -> np.ndarray:
    """Pulsating star: fast rise, slow decline (RR, CEP), near-sinusoidal for small
    asymmetry (RRc, DSCT, Mira); ``bump`` adds a Hertzsprung-like secondary hump."""
    s = _smooth_sawtooth(rng.uniform(*rise, m), n_harm)
    if bump:
        x = PHASE[None, :]
        centre = rng.uniform(0.3, 0.8, (m, 1))
        s -= rng.uniform(0.3, 1.0, (m, 1)) * bump * np.exp(-0.5 * (_wrap(x - centre) / 0.05) ** 2)
    return _normalise(s)


def spotted(m: int, rng: np.random.Generator) -> np.ndarray:
    """Rotational modulation by one or two spot groups."""
    x = PHASE[None, :]
    s = np.repeat(np.cos(2 * np.pi * x), m, axis=0)
    s += rng.uniform(0.0, 0.4, (m, 1)) * np.cos(4 * np.pi * x + rng.uniform(0, 2 * np.pi, (m, 1)))
    return _normalise(s)


def templates(class_names: list[str], cls: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Template of every object, shape (n, K), float32."""
    out = np.zeros((len(cls), K), np.float32)
    makers = {
        "EW": ew, "EA": ea,
        "RR": lambda m, r: pulsator(m, r, (0.12, 0.22), 6),
        "RRc": lambda m, r: pulsator(m, r, (0.35, 0.48), 3),
        "DSCT": lambda m, r: pulsator(m, r, (0.30, 0.48), 3),
        "CEP": lambda m, r: pulsator(m, r, (0.18, 0.35), 8, bump=0.15),
        "CEPII": lambda m, r: pulsator(m, r, (0.22, 0.40), 6, bump=0.08),
        "Mira": lambda m, r: pulsator(m, r, (0.38, 0.47), 3),
        "SR": lambda m, r: pulsator(m, r, (0.42, 0.50), 2),
        "BYDra": spotted, "RSCVN": spotted,
    }
    for k, name in enumerate(class_names):
        idx = np.flatnonzero(cls == k)
        if len(idx):
            out[idx] = makers[name](len(idx), rng)
    return out


def lookup(tmpl: np.ndarray, obj: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Linear interpolation of each point's object template at ``phase`` (cycles)."""
    x = (phase % 1.0) * K
    i0 = np.floor(x).astype(np.int64) % K
    w = x - np.floor(x)
    return (1.0 - w) * tmpl[obj, i0] + w * tmpl[obj, (i0 + 1) % K]
