"""Lomb–Scargle periodograms of one object (astropy), for checking a catalogue period.

Several bands are combined with astropy's :class:`~astropy.timeseries.LombScargleMultiband`
(one shared periodic shape, an offset per band; Vanderplas & Ivezić 2015), so sparse
bands help each other; one band uses :class:`~astropy.timeseries.LombScargle`. The
frequency grid runs from ``1 / max_period`` to ``1 / min_period`` with
``samples_per_peak`` points per peak width ``1 / baseline`` (astropy's ``autofrequency``),
so no peak narrower than the data allow falls between two grid points. Ground-based
surveys alias: the highest peak can sit one sidereal day (1.0027 d⁻¹) or one year
(0.00274 d⁻¹) in frequency from the true one, which is why :func:`peaks` lists the next
highest peaks too and :func:`alias_of` names the relation.

A second period hides under the first. :func:`prewhiten` removes the fold at a period
(per band, a weighted least-squares Fourier series of :data:`HARMONICS` harmonics, fewer
where a band has few points) and :func:`residual_periodogram` is the periodogram of what
is left: a blended or companion variable, the other mode of a double-mode pulsator, the
Blazhko modulation's side peaks next to the harmonics, or, under a wrong catalogue period,
the true one. It is the classical prewhitening step (Period04, Lenz & Breger 2005) and
costs one periodogram per star, which is why it runs for the star being vetted and not
over a whole catalogue.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .errors import PvsvetError

logger = logging.getLogger(__name__)

MIN_PERIOD = 0.05           # days: shorter than any CPVS class (δ Scuti ~0.03–0.3 d)
MAX_PERIOD = 1000.0         # days: the longest Miras; capped at a third of the baseline
SAMPLES_PER_PEAK = 5
MIN_POINTS = 5              # per band, to enter the periodogram
SIDEREAL_DAY_FREQ = 1.0 / 0.99726957   # d⁻¹
YEAR_FREQ = 1.0 / 365.25               # d⁻¹
#: harmonics of the Fourier series prewhiten removes (an RR Lyrae's sawtooth needs ~6-10)
HARMONICS = 8
#: a band's series has at most a third as many terms as the band has points
POINTS_PER_TERM = 3


class PeriodogramError(PvsvetError):
    """Too few points or a period range that the data cannot constrain."""


@dataclass
class Periodogram:
    """Power per trial frequency (d⁻¹) and how it was computed."""

    frequency: np.ndarray
    power: np.ndarray
    bands: tuple[int, ...]
    method: str
    samples_per_peak: int = SAMPLES_PER_PEAK
    baseline: float = float("nan")     # days between the first and last point used
    removed: float = float("nan")      # the period prewhitened away (residual periodogram)
    harmonics: tuple[int, ...] = ()     # harmonics removed per band in ``bands``

    @property
    def longest_period(self) -> float:
        """The longest trial period (days): ``max_period`` or a third of the baseline."""
        return float(1.0 / self.frequency[0])

    @property
    def peak_width(self) -> float:
        """One peak width (1 / baseline), d⁻¹."""
        f = self.frequency
        return self.samples_per_peak * (f[-1] - f[0]) / max(len(f) - 1, 1)

    @property
    def period(self) -> np.ndarray:
        return 1.0 / self.frequency

    @property
    def best_period(self) -> float:
        return float(1.0 / self.frequency[np.argmax(self.power)])


def _usable_mask(time, mag, err, band, bands) -> np.ndarray:
    """The points a periodogram uses: finite, a positive error, in ``bands`` (None: any),
    in a band with at least :data:`MIN_POINTS` such points."""
    t, m, e, b = (np.asarray(a) for a in (time, mag, err, band))
    ok = np.isfinite(t) & np.isfinite(m) & np.isfinite(e) & (e > 0)
    if bands is not None:
        ok &= np.isin(b, bands)
    keep = [c for c in np.unique(b[ok]) if (ok & (b == c)).sum() >= MIN_POINTS]
    return ok & np.isin(b, keep)


def _usable(time, mag, err, band, bands) -> tuple[np.ndarray, ...]:
    ok = _usable_mask(time, mag, err, band, bands)
    t, m, e, b = (np.asarray(a)[ok] for a in (time, mag, err, band))
    return t.astype("f8"), m.astype("f8"), e.astype("f8"), b


def periodogram(time, mag, err, band, bands=None, min_period: float = MIN_PERIOD,
                max_period: float = MAX_PERIOD,
                samples_per_peak: int = SAMPLES_PER_PEAK) -> Periodogram:
    """The Lomb–Scargle periodogram of one light curve.

    Parameters
    ----------
    time : array, days; mag, err : arrays, mag; band : array of band codes
    bands : band codes to use (default every band with >= MIN_POINTS points)
    min_period, max_period : float, days (max_period is capped at a third of the
        baseline: a period needs about three cycles to show)
    samples_per_peak : grid points per peak width (1 / baseline)
    """
    from astropy.timeseries import LombScargle, LombScargleMultiband

    t, m, e, b = _usable(time, mag, err, band, bands)
    used = tuple(int(c) for c in np.unique(b))
    if not used:
        raise PeriodogramError(f"periodogram: fewer than {MIN_POINTS} good points in "
                               "every band")
    baseline = float(np.ptp(t))
    longest = min(max_period, baseline / 3.0)
    if not (min_period > 0 and longest > min_period):
        raise PeriodogramError(f"periodogram: a baseline of {baseline:.3g} d cannot "
                               f"constrain periods from {min_period:g} to {max_period:g} d")
    kw = dict(minimum_frequency=1.0 / longest, maximum_frequency=1.0 / min_period,
              samples_per_peak=samples_per_peak)
    if len(used) > 1:
        ls = LombScargleMultiband(t, m, b, e)
        freq, power = ls.autopower(method="fast", **kw)
        method = "astropy LombScargleMultiband (fast; shared shape, offset per band)"
    else:
        freq, power = LombScargle(t, m, e).autopower(method="fast", **kw)
        method = "astropy LombScargle (fast)"
    return Periodogram(np.asarray(freq), np.asarray(power), used, method, samples_per_peak,
                       baseline)


def lightcurve_periodogram(lc, bands=(0, 1), removed: float | None = None,
                           **kw) -> Periodogram:
    """:func:`periodogram` of an :class:`engine.store.LightCurve` (default: g and r); with
    ``removed``, :func:`residual_periodogram` after prewhitening at that period."""
    if removed is not None:
        return residual_periodogram(lc.time, lc.mag, lc.magerr, lc.band, removed,
                                    bands=bands, **kw)
    return periodogram(lc.time, lc.mag, lc.magerr, lc.band, bands=bands, **kw)


def fourier_terms(n_points: int, harmonics: int = HARMONICS) -> int:
    """Harmonics a band of ``n_points`` can carry: at most ``harmonics``, and no more
    than one term (a mean, or a cosine and a sine) per :data:`POINTS_PER_TERM` points;
    0 below :data:`MIN_POINTS`."""
    if n_points < MIN_POINTS:
        return 0
    return int(max(0, min(harmonics, (n_points // POINTS_PER_TERM - 1) // 2)))


def prewhiten(time, mag, err, band, period: float, harmonics: int = HARMONICS
              ) -> tuple[np.ndarray, dict[int, int]]:
    """The magnitudes less the fold at ``period``: per band, the weighted (1/err²)
    least-squares Fourier series of :func:`fourier_terms` harmonics at ``period``,
    subtracted. Returns ``(residuals, {band: harmonics removed})``; residuals are NaN for
    unusable points and for bands with fewer than :data:`MIN_POINTS` good points.

    Raises PeriodogramError when ``period`` is not a positive number of days.
    """
    if not (np.isfinite(period) and period > 0):
        raise PeriodogramError(f"prewhiten: period {period!r} is not a positive number of days")
    ok = _usable_mask(time, mag, err, band, None)
    t, m, e = (np.asarray(a, dtype="f8") for a in (time, mag, err))
    b = np.asarray(band)
    out = np.full(len(m), np.nan)
    used: dict[int, int] = {}
    for c in np.unique(b[ok]):
        sel = ok & (b == c)
        k = fourier_terms(int(sel.sum()), harmonics)
        phase = 2 * np.pi * ((t[sel] - t[sel].min()) / period)
        cols = [np.ones(sel.sum())]
        for j in range(1, k + 1):
            cols += [np.cos(j * phase), np.sin(j * phase)]
        design = np.column_stack(cols)
        w = 1.0 / e[sel]
        coef, *_ = np.linalg.lstsq(design * w[:, None], m[sel] * w, rcond=None)
        out[sel] = m[sel] - design @ coef
        used[int(c)] = k
    return out, used


def residual_periodogram(time, mag, err, band, period: float, bands=None,
                         harmonics: int = HARMONICS, **kw) -> Periodogram:
    """:func:`periodogram` of the residuals of :func:`prewhiten` at ``period``: what
    varies besides the fold. ``removed`` and ``harmonics`` say what was taken out; the
    harmonics of ``period`` are gone from it, so its highest peak is the strongest
    other signal."""
    t, m, e, b = _usable(time, mag, err, band, bands)
    resid, used = prewhiten(t, m, e, b, period, harmonics)
    pg = periodogram(t, resid, e, b, **kw)
    pg.removed = float(period)
    pg.harmonics = tuple(used.get(c, 0) for c in pg.bands)
    pg.method += (f", of the residuals after removing P = {period:.7g} d "
                  f"({'/'.join(str(h) for h in pg.harmonics)} harmonics per band)")
    return pg


def peaks(pg: Periodogram, n: int = 5) -> list[tuple[float, float]]:
    """The ``n`` highest local maxima as (period d, power), highest first; maxima closer
    than one peak width to a higher one are the same peak."""
    p, f = pg.power, pg.frequency
    if len(p) < 3:
        return [(float(1 / f[np.argmax(p)]), float(p.max()))]
    local = np.flatnonzero((p[1:-1] >= p[:-2]) & (p[1:-1] >= p[2:])) + 1
    width = pg.peak_width
    out: list[int] = []
    for i in local[np.argsort(-p[local], kind="stable")]:
        if all(abs(f[i] - f[j]) > width for j in out):
            out.append(int(i))
        if len(out) == n:
            break
    return [(float(1 / f[i]), float(p[i])) for i in out]


def nearest_peak(pg: Periodogram, period: float, widths: float = 3.0) -> float:
    """The period of the highest point within ``widths`` grid peak-widths of ``period``
    (a click lands beside the peak it means)."""
    f = pg.frequency
    near = np.abs(f - 1.0 / period) <= widths * pg.peak_width
    if not near.any():
        return float(period)
    i = np.flatnonzero(near)[np.argmax(pg.power[near])]
    return float(1.0 / f[i])


def alias_of(period: float, reference: float, tol: float = 0.01) -> str:
    """How ``period`` relates to ``reference``: '' (the same within 0.1%), a sidereal-day
    or yearly alias ('1-day alias' …), a harmonic ('P/2', '2P'), or 'unrelated'."""
    if abs(period / reference - 1) < 1e-3:
        return ""
    df = 1 / period - 1 / reference
    for k in (1, 2):
        for j in (0, 1, -1, 2, -2):
            for sign in (1, -1):
                if abs(df - sign * (k * SIDEREAL_DAY_FREQ + j * YEAR_FREQ)) < tol:
                    return f"{k}-day alias" + (f" ({j:+d} yr)" if j else "")
    for j in (1, 2):
        if abs(abs(df) - j * YEAR_FREQ) < tol / 10:
            return f"{j}-year alias"
    for ratio, name in ((0.5, "P/2"), (2.0, "2P"), (1 / 3, "P/3"), (3.0, "3P")):
        if abs(period / (reference * ratio) - 1) < 1e-3:
            return name
    return "unrelated"
