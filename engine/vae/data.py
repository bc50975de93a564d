"""Inputs of the VAE stages: the interpolated curves of ``/interp``.

Also :func:`write_synthetic_interp`, a small ``/interp`` made from families of
Fourier-series shapes, for tests and for the benchmark when the GP stage is absent.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import schema
from ..errors import StageError
from ..store import NO_CURVE, NOT_FOR_TRAINING, Store

logger = logging.getLogger(__name__)

#: split codes of /interp/split (engine.schema); EXCLUDED: in no set
TRAIN, VAL, TEST, EXCLUDED = (schema.SPLIT_TRAIN, schema.SPLIT_VALIDATION, schema.SPLIT_TEST,
                              schema.SPLIT_EXCLUDED)


@dataclass
class InterpInfo:
    """What the VAE stages need to know about ``/interp`` without reading the curves."""

    n: int                  # object rows
    n_phase: int
    split: np.ndarray       # (n,) u1: the GP's split, 255 where not for training
    encodable: np.ndarray   # (n,) bool: a curve exists (unphysical fits included)
    input_hash: str         # changes whenever /interp is rewritten


def interp_info(store_path: str | Path) -> InterpInfo:
    """Shape, split and a hash of ``/interp``; a clear error when the GP stage has not run."""
    with Store(store_path, "r") as st:
        if not st.has(schema.INTERP_MEAN) or not st.has(schema.INTERP_SPLIT):
            raise StageError(f"{store_path}: no /interp (mean, split) in the store; "
                             "run `pvsvet-engine interpolate` first")
        shape = st.shape(schema.INTERP_MEAN)
        if len(shape) != 3 or shape[1] != 2:
            raise StageError(f"{store_path}: /interp/mean has shape {shape}, expected (N, 2, phases)")
        split = st.read(schema.INTERP_SPLIT).astype("u1")
        written = str(st.attrs(schema.INTERP).get("written", ""))
    status = _status(store_path, len(split))
    split = np.where(status & int(NOT_FOR_TRAINING), EXCLUDED, split).astype("u1")
    encodable = (status & int(NO_CURVE)) == 0
    blob = (f"{shape}|{written}|{hashlib.sha1(split.tobytes()).hexdigest()}"
            f"|{hashlib.sha1(encodable.tobytes()).hexdigest()}")
    return InterpInfo(n=shape[0], n_phase=shape[2], split=split, encodable=encodable,
                      input_hash=hashlib.sha1(blob.encode()).hexdigest()[:16])


def _status(store_path, n: int) -> np.ndarray:
    """``/interp/status`` (zeros if absent). Only the flag groups of :mod:`engine.store`
    matter here: benign ingest flags (other bands kept aside, merged epochs) do not
    exclude anything; failed fits have no curve; unphysical fits are encoded (and so
    scored, flagged) but never trained on."""
    with Store(store_path, "r") as st:
        if not st.has(schema.INTERP_STATUS):
            return np.zeros(n, "u4")
        return st.read(schema.INTERP_STATUS)[:n].astype("u4")


def encodable_rows(store_path: str | Path, rows: np.ndarray) -> np.ndarray:
    """Mask of ``rows`` that have a curve (the GP stage did not fail on them)."""
    rows = np.asarray(rows)
    with Store(store_path, "r") as st:
        if not st.has(schema.INTERP_STATUS):
            return np.ones(len(rows), bool)
        status = st.read(schema.INTERP_STATUS, rows=rows).astype("u4")
    return (status & int(NO_CURVE)) == 0


def read_curves(store_path: str | Path, rows: np.ndarray, std: bool = False) -> np.ndarray:
    """``/interp/mean`` (or ``std``) at ``rows`` as float32 (len(rows), 2, phases)."""
    name = schema.INTERP_STD if std else schema.INTERP_MEAN
    with Store(store_path, "r") as st:
        return np.asarray(st.read(name, rows=np.asarray(rows)), dtype="f4")


def finite_rows(store_path: str | Path, rows: np.ndarray, *arrays: np.ndarray) -> np.ndarray:
    """Mask of ``rows`` whose curves are all finite; the others are logged by id.

    A NaN curve the GP stage did not flag would poison a whole batch's gradient (and
    its encoding), so such objects are left out like excluded ones, not fatal.
    """
    ok = np.ones(len(rows), bool)
    for arr in arrays:
        ok &= np.isfinite(arr).all(axis=tuple(range(1, arr.ndim)))
    if not ok.all():
        with Store(store_path, "r") as st:
            ids = st.read_objects(["id"], rows=np.asarray(rows)[~ok][:5])["id"]
        logger.warning("%s: %d objects have NaN/inf in /interp but no failure flag in "
                       "/interp/status; left out (e.g. %s)", store_path, int((~ok).sum()),
                       ", ".join(ids))
    return ok


ALIGN_MODES = ("faintest", "none")


def phase_shifts(mean: np.ndarray, align: str) -> np.ndarray:
    """Phase bins each curve is rotated by before encoding (``VAEConfig.align``).

    ``"faintest"``: the bin where the two scaled bands together are faintest (largest
    magnitude: the primary minimum of an eclipsing binary, minimum light of a pulsator)
    becomes bin 0. ``"none"``: no rotation (the paper's phases).

    Parameters
    ----------
    mean : (n, 2, phases) scaled magnitudes (NaN rows give shift 0)
    align : one of :data:`ALIGN_MODES`

    Returns
    -------
    (n,) int
    """
    if align not in ALIGN_MODES:
        raise StageError(f"[vae] align must be one of {', '.join(ALIGN_MODES)}, not {align!r}")
    if align == "none" or not len(mean):
        return np.zeros(len(mean), dtype=np.int64)
    return np.argmax(np.nan_to_num(mean.sum(axis=1), nan=-np.inf), axis=1).astype(np.int64)


def rotate(x: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """``x`` (n, bands, phases) circularly rotated so that bin ``shifts[i]`` comes first;
    ``rotate(rotate(x, s), -s)`` is ``x``."""
    n_phase = x.shape[-1]
    idx = (np.arange(n_phase)[None, :] + np.asarray(shifts)[:, None]) % n_phase
    return np.take_along_axis(x, idx[:, None, :], axis=-1)


def split_rows(info: InterpInfo, which: int, limit: int = 0, seed: int = 0) -> np.ndarray:
    """Rows of one split; a seeded random subset of ``limit`` rows when ``limit`` > 0."""
    rows = np.flatnonzero(info.split == which)
    if limit and len(rows) > limit:
        rows = np.sort(np.random.default_rng(seed).choice(rows, limit, replace=False))
    return rows


# -- synthetic curves ------------------------------------------------------------

#: (name, harmonic amplitude decay, g/r amplitude ratio, phase lag of r) per family.
FAMILIES = (("sinusoid", 0.05, 1.3, 0.00), ("sawtooth", 0.6, 1.5, 0.02),
            ("eclipse", 0.9, 1.05, 0.00), ("double", 0.3, 1.2, 0.05))


def synthetic_curves(n: int, n_phase: int = 160, seed: int = 0):
    """Scaled 2-band curves of a few Fourier families, with a GP-like sigma.

    Returns
    -------
    mean, std : (n, 2, n_phase) float32, scaled magnitudes (eq. 6 units)
    labels : (n,) str, the family
    """
    rng = np.random.default_rng(seed)
    phase = np.arange(n_phase) / n_phase
    fam = rng.integers(0, len(FAMILIES), n)
    mean = np.empty((n, 2, n_phase), "f4")
    for j, (_, decay, ratio, lag) in enumerate(FAMILIES):
        idx = np.flatnonzero(fam == j)
        mean[idx] = _family(len(idx), phase, j, decay, ratio, lag, rng)
    mean -= mean.mean(axis=2, keepdims=True)
    mean /= mean.std(axis=2, keepdims=True) + 1e-6
    # GP sigma in scaled units: noise over amplitude, shrunk by sqrt(points per
    # correlation length); varies from well-sampled bright stars (~0.05) to faint ones.
    level = np.exp(rng.uniform(np.log(0.05), np.log(0.4), (n, 2, 1)))
    wiggle = 1 + 0.3 * np.sin(2 * np.pi * (phase + rng.uniform(0, 1, (n, 1, 1))))
    std = (level * wiggle).astype("f4")
    mean += (rng.normal(0, 1, mean.shape) * std * 0.3).astype("f4")
    return mean, std, np.array([FAMILIES[j][0] for j in fam])


def _family(m, phase, j, decay, ratio, lag, rng):
    n_harm = 6
    k = np.arange(1, n_harm + 1)
    amp = decay ** (k - 1) * rng.uniform(0.7, 1.3, (m, n_harm))
    phi = rng.uniform(0, 2 * np.pi, (m, 1)) * k + rng.normal(0, 0.3, (m, n_harm))
    if j == 2:   # eclipses: all harmonics in phase make narrow dips
        phi = np.broadcast_to(rng.uniform(0, 2 * np.pi, (m, 1)) * k, (m, n_harm))
    shift = rng.uniform(0, 1, (m, 1, 1))
    out = np.empty((m, 2, len(phase)), "f4")
    for band, (scale, dl) in enumerate(((ratio, 0.0), (1.0, lag))):
        arg = 2 * np.pi * k[None, :, None] * (phase[None, None, :] + shift + dl) + phi[:, :, None]
        out[:, band] = scale * (amp[:, :, None] * np.cos(arg)).sum(axis=1)
    return out


def write_synthetic_interp(store_path: str | Path, n: int, seed: int = 0,
                           n_phase: int = 160, excluded: int = 0) -> np.ndarray:
    """Create a store with ``n`` objects and a synthetic ``/interp``; return the labels.

    ``excluded`` rows (the last ones) get split 255 and a GP_FAILED status with NaN
    curves, as the GP stage writes them.
    """
    from ..store import LightCurve, Status

    mean, std, labels = synthetic_curves(n, n_phase, seed)
    rng = np.random.default_rng(seed + 1)
    split = rng.choice([TRAIN, VAL, TEST], n, p=[0.7, 0.2, 0.1]).astype("u1")
    status = np.zeros(n, "u4")
    if excluded:
        split[-excluded:] = EXCLUDED
        status[-excluded:] = int(Status.GP_FAILED)
        mean[-excluded:] = np.nan
        std[-excluded:] = np.nan
    empty = LightCurve(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, "u1"))
    cols = {"id": [f"SYN{i:07d}" for i in range(n)], "class": labels,
            "period": np.exp(rng.uniform(np.log(0.1), np.log(500), n)),
            "mean_g": rng.normal(16, 1, n), "mean_r": rng.normal(15.5, 1, n)}
    with Store.create(store_path, overwrite=True) as st:
        st.append_objects(cols, [empty] * n)
        st.write_group(schema.INTERP, {"mean": mean, "std": std, "split": split, "status": status,
                                  "phase": np.arange(n_phase, dtype="f4") / n_phase},
                       attrs={"method": "synthetic"})
    return labels
