"""ZTF-like epochs and photometric errors (March 2018 - June 2019, ZTF DR2).

Nights run from MJD 58194 (2018-03-17) to 58664 (2019-06-30). An object is
observable on a night when it is far enough from the Sun in right ascension
(seasonal gaps; circumpolar fields almost all year); the weather closes a shared
set of nights; on an open night each band is taken with a probability that gives
a ~3-day cadence in r and fewer g epochs (r/g ~ 1.5), scaled per object by field
overlap (objects in two ZTF fields get about twice the epochs).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

MJD_START = 58194.0
MJD_END = 58664.0
_EQUINOX_2018 = 58197.68     # MJD of the March 2018 equinox: Sun at RA 0
P_R, P_G = 0.56, 0.37        # chance of an r / g epoch on an open night
LIMIT = {"g": 20.8, "r": 20.6}   # median 5-sigma depth of one ZTF exposure, mag


@dataclass
class Epochs:
    """Photometric epochs of a chunk of objects, sorted by object then time.

    Parameters
    ----------
    obj : ndarray of int, object index within the chunk
    time : ndarray, MJD (days)
    band : ndarray of uint8, 0 = g, 1 = r
    limit : ndarray, mag, the 5-sigma depth of each exposure
    """

    obj: np.ndarray
    time: np.ndarray
    band: np.ndarray
    limit: np.ndarray


def nights() -> np.ndarray:
    """MJD of local midnight at Palomar (~08:00 UT) of every night of the span."""
    return np.arange(MJD_START, MJD_END + 1.0) + 0.33


def weather(rng: np.random.Generator) -> np.ndarray:
    """Open (True) nights, shared by every object: ~70% clear, fewer in winter."""
    t = nights()
    season = np.cos(2 * np.pi * (t - 58119.0) / 365.25)   # +1 in early January
    return rng.random(len(t)) < 0.72 - 0.12 * season


def _visible(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """(n, nights) True where the object is far enough from the Sun to be observed."""
    t = nights()
    ra_sun = 360.0 * (t - _EQUINOX_2018) / 365.2422
    sep = np.abs((ra[:, None] - ra_sun[None, :] + 180.0) % 360.0 - 180.0)
    # fields near the pole stay up all night; southern fields have short seasons
    need = np.clip(80.0 - 1.3 * np.maximum(dec - 25.0, 0.0) + 0.8 * np.maximum(-dec, 0.0),
                   0.0, 110.0)
    return sep >= need[:, None]


def draw_epochs(ra: np.ndarray, dec: np.ndarray, open_nights: np.ndarray,
                rng: np.random.Generator) -> Epochs:
    """Epochs of a chunk of objects at (ra, dec), degrees."""
    n = len(ra)
    t = nights()
    ok = _visible(ra, dec) & open_nights[None, :]
    fields = np.where(rng.random(n) < 0.3, 1.8, 1.0) * rng.lognormal(0.0, 0.2, n)
    parts = []
    for band, p in ((0, P_G), (1, P_R)):
        chance = np.minimum(p * fields, 0.95).astype(np.float32)
        take = ok & (rng.random((n, len(t)), dtype=np.float32) < chance[:, None])
        obj, night = np.nonzero(take)
        # exposures between evening and morning twilight, g and r at different times
        frac = rng.uniform(-0.18, 0.18, len(obj))
        # depth varies with seeing and sky; bright time (15%) is shallower
        lim = (LIMIT["gr"[band]] + rng.normal(0.0, 0.35, len(obj))
               - 0.4 * (rng.random(len(obj)) < 0.15))
        parts.append((obj, t[night] + frac, np.full(len(obj), band, np.uint8), lim))
    obj, time, band, lim = (np.concatenate(x) for x in zip(*parts))
    order = np.lexsort((time, obj))
    return Epochs(obj[order], time[order], band[order], lim[order])


def magerr(mag: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """1-sigma error of one ZTF measurement, mag.

    A 0.01 mag calibration floor, a source-noise term and a sky-noise term scaled to
    the exposure depth: ~0.01 at 13 mag, ~0.025 at 18, ~0.19 at the 5-sigma depth.
    """
    x = 10.0 ** (0.4 * (mag - limit))
    return np.sqrt(0.01 ** 2 + 0.05 ** 2 * x + 0.18 ** 2 * x * x)
