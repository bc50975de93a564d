"""Cleaning, the paper's quality cut and the derived per-object columns.

The same rules apply to every input format:

- Points with a NaN/inf time, magnitude or error, an error <= 0, or a magnitude
  above ``max_mag`` (missing-value sentinels such as SDSS's 99.99) are dropped:
  ``BAD_VALUES``.
- Unsorted times are sorted (stable), noted in ``status_msg``; no flag.
- Points repeated at the same time in the same band are merged into their
  inverse-variance-weighted mean (error 1/sqrt(sum w)): ``DUPLICATE_TIMES``.
- Points in bands other than g and r (u, i, z, y, unknown labels) are kept with
  their own band code but stay out of the two-band pipeline: ``OTHER_BANDS``.
- No point in g or in r: ``MISSING_BAND``; 1 to ``min_points - 1`` points: ``FEW_POINTS``.
- Quality cut (paper section 2.1): at least one 2.5 sigma detection in g and one
  3 sigma detection in r. For magnitudes the detection significance of a point is
  S/N = 2.5 log10(e) / magerr = 1.0857 / magerr (the flux S/N that gives this
  error), so "a 3 sigma detection" is a point with magerr <= 1.0857 / 3 = 0.362 mag
  (2.5 sigma: magerr <= 0.434 mag). Failing it: ``REJECTED_CUT``; the object is
  still stored so users see why. The cut is checked in the bands that have points;
  a band with none is ``MISSING_BAND`` instead.
- ``mean_g``/``mean_r``: the median magnitude of the clean points in the band. Not
  the inverse-variance-weighted mean: photometric errors shrink as a variable
  brightens, so weighting biases the mean towards maximum light, and the median
  also resists outliers. NaN when the band has no points.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from ..config import IngestConfig
from ..store import BAND_CODE, LightCurve, Status
from .formats import RawObject

logger = logging.getLogger(__name__)

#: 2.5 log10(e): magnitude error of a point whose flux S/N is 1.
MAG_SNR = 2.5 / math.log(10)
G, R = BAND_CODE["g"], BAND_CODE["r"]


@dataclass
class Cleaned:
    """A cleaned light curve and the object columns derived from it."""

    lc: LightCurve
    status: int
    notes: list[str] = field(default_factory=list)
    n_g: int = 0
    n_r: int = 0
    mean_g: float = np.nan
    mean_r: float = np.nan


def significance(magerr: np.ndarray) -> np.ndarray:
    """Detection significance (flux S/N) of magnitude points, 1.0857 / magerr."""
    return MAG_SNR / np.asarray(magerr, "f8")


def clean(raw: RawObject, cfg: IngestConfig) -> Cleaned:
    """Apply the cleaning rules, the quality cut and the derived columns to one object."""
    status, notes = int(raw.flags), list(raw.notes)
    time = np.asarray(raw.time, "f8")
    mag = np.asarray(raw.mag, "f8")
    err = np.asarray(raw.magerr, "f8")
    band = np.asarray(raw.band, "u1")
    good = np.isfinite(time) & np.isfinite(mag) & np.isfinite(err) & (err > 0) \
        & (mag <= cfg.max_mag)
    if not good.all():
        status |= Status.BAD_VALUES
        notes.append(f"{int((~good).sum())} points with NaN/inf, magerr <= 0 or "
                     f"mag > {cfg.max_mag:g} dropped")
        time, mag, err, band = time[good], mag[good], err[good], band[good]
    if len(time) > 1 and np.any(np.diff(time) < 0):
        order = np.argsort(time, kind="stable")
        time, mag, err, band = time[order], mag[order], err[order], band[order]
        notes.append("times were not sorted; sorted")
    lc, n_merged = merge_duplicates(LightCurve(time, mag, err, band))
    if n_merged:
        status |= Status.DUPLICATE_TIMES
        notes.append(f"{n_merged} points at repeated times merged")
    out = Cleaned(lc, status, notes)
    _other_bands(out, raw.unknown_bands)
    _band_checks(out, cfg)
    return out


def merge_duplicates(lc: LightCurve) -> tuple[LightCurve, int]:
    """Merge points with equal (band, time) by inverse-variance weighting.

    ``lc`` must be sorted by time. Returns the merged curve (still sorted) and how
    many points were removed by merging.
    """
    n = len(lc)
    if n < 2:
        return lc, 0
    if not (np.diff(lc.time) == 0).any():
        # sorted: equal times are adjacent, so no zero step means no repeat (cheap
        # exit for the common case)
        return lc, 0
    key = np.rec.fromarrays([lc.band, lc.time])
    uniq, inverse = np.unique(key, return_inverse=True)
    if len(uniq) == n:
        return lc, 0
    w = 1.0 / lc.magerr.astype("f8") ** 2
    wsum = np.bincount(inverse, w, len(uniq))
    mag = np.bincount(inverse, w * lc.mag, len(uniq)) / wsum
    err = 1.0 / np.sqrt(wsum)
    order = np.lexsort((uniq["f0"], uniq["f1"]))
    merged = LightCurve(uniq["f1"][order], mag[order], err[order], uniq["f0"][order].astype("u1"))
    return merged, n - len(uniq)


def _other_bands(out: Cleaned, unknown: list[str]) -> None:
    other = out.lc.band[(out.lc.band != G) & (out.lc.band != R)]
    if not len(other):
        return
    out.status |= Status.OTHER_BANDS
    from ..store import BANDS

    codes, counts = np.unique(other, return_counts=True)
    parts = [f"{c} {BANDS[k]}" for k, c in zip(codes, counts)]
    out.notes.append(f"points outside g/r kept out of the pipeline: {', '.join(parts)}")
    if unknown:
        out.notes.append(f"unknown band label(s) {', '.join(map(repr, unknown))} kept as 'other'")


def _band_checks(out: Cleaned, cfg: IngestConfig) -> None:
    for code, name, snr in ((G, "g", cfg.snr_g), (R, "r", cfg.snr_r)):
        sel = out.lc.band == code
        n = int(sel.sum())
        setattr(out, f"n_{name}", n)
        if n == 0:
            out.status |= Status.MISSING_BAND
            out.notes.append(f"no {name} points")
            continue
        setattr(out, f"mean_{name}", float(np.median(out.lc.mag[sel])))
        if n < cfg.min_points:
            out.status |= Status.FEW_POINTS
            out.notes.append(f"only {n} {name} points (< {cfg.min_points})")
        best = float(significance(out.lc.magerr[sel]).max())
        if best < snr:
            out.status |= Status.REJECTED_CUT
            out.notes.append(f"no {snr:g} sigma detection in {name} (best {best:.2f} sigma)")


def check_period(period: float) -> str:
    """Why a catalogue period is unusable ('' when it is fine); periods in days."""
    if period is None or not np.isfinite(period):
        return "no period"
    if period <= 0:
        return f"period {period:g} d is not positive"
    return ""
