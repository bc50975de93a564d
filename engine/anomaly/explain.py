"""Why is an object anomalous, in numbers: per-object explanations of its scores.

- :func:`vetting_answers`: the five vetting questions with the object's p values
  (``/scores/vetting/surprise`` = −log10 p, the numbers the vetting score is made of).
- :class:`ForestExplainer`: the isolation forest of one space refitted from what the
  score stage stored (``/scores/<space>/features`` and its settings: same rows, trees,
  sample size and seed, so the same trees; checked against the stored raw score), and
  per feature the change of the object's mean path length when that feature alone is
  replaced by the population median. A positive value means the object's value of that
  feature isolates it sooner (makes it more anomalous); the values are in path-length
  units (tree levels), and the raw score is ``2**(-E[h] / c(max_samples))``.
- :func:`reconstruction_residual`: the GP curve against the VAE reconstruction, the
  residual per phase in magnitudes, and its RMS per band.
- :class:`ClassFeatures`: the catalogue features (period, colour, and Chen et al.'s
  amplitudes, R21, φ21 where the store has the ``cpvs_*`` columns) of the object against
  the distribution of its class.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import PvsvetError

logger = logging.getLogger(__name__)

#: Catalogue features shown against the class, in order: (column, label, unit).
CLASS_FEATURES = (
    ("period", "log10 P", "log10 d"), ("g_r", "g − r", "mag"),
    ("cpvs_Amp_g", "amplitude g", "mag"), ("cpvs_Amp_r", "amplitude r", "mag"),
    ("cpvs_R21", "R21", ""), ("cpvs_phi21", "φ21", "rad"),
    ("cpvs_R21_g", "R21 g", ""), ("cpvs_R21_r", "R21 r", ""),
    ("cpvs_phi21_g", "φ21 g", "rad"), ("cpvs_phi21_r", "φ21 r", "rad"),
)


class ExplainError(PvsvetError):
    """The store lacks what an explanation needs (named in the message)."""


# -- vetting -----------------------------------------------------------------------------
def vetting_answers(store, row: int) -> list[dict]:
    """The vetting questions of ``row``: name, text, −log10 p, p (NaN: not asked) and a
    note ('' or why the question was not asked of it: the dip question of a broad dip).

    ``store`` is an open :class:`engine.store.Store`.
    """
    from .vetting import brief_dip

    if not store.has("scores/vetting/surprise"):
        raise ExplainError(f"{store.path}: no vetting scores (score with the vetting space)")
    attrs = store.attrs("scores/vetting")
    names = [str(q) for q in attrs.get("features", [])]
    texts = {str(k): str(v) for k, v in (attrs.get("questions") or {}).items()}
    surprise = np.asarray(store.read("scores/vetting/surprise", rows=row), dtype="f8")
    out = [{"name": n, "text": texts.get(n, n), "log10p": float(s),
            "p": float(10.0 ** -s) if np.isfinite(s) else float("nan"), "note": ""}
           for n, s in zip(names, surprise)]
    widest = (attrs.get("settings") or {}).get("dip_max_width")
    if widest is not None and store.has("foldstats/dip_width") and "dip" in names:
        width = float(store.read("foldstats/dip_width", rows=row))
        if not brief_dip(width, float(widest)):
            out[names.index("dip")]["note"] = (
                f"not asked: its deepest dip lasts {width:.0%} of the cycle (a minimum, not an "
                "eclipse or a transit)" if np.isfinite(width) else "not asked: no dip measured")
    return out


# -- forest ------------------------------------------------------------------------------
class ForestExplainer:
    """Per-feature contributions to one object's isolation-forest score.

    Parameters
    ----------
    space : a forest space the store scored (cartesian, spherical, residual, diagnostic)
    n_jobs : threads of the scoring kernel

    Attributes (after :meth:`fit`)
    ------------------------------
    names_ : feature names; median_ : population medians (scored rows)
    forest_ : the refitted :class:`engine.anomaly.forest.FastIsolationForest`
    fit_seconds_ : float
    """

    def __init__(self, space: str, n_jobs: int = 1):
        self.space = space
        self.n_jobs = n_jobs

    def fit(self, store_path) -> "ForestExplainer":
        for _ in self.fit_steps(store_path):
            pass
        return self

    def fit_steps(self, store_path):
        """Refit the forest as the score stage did, yielding trees grown (for progress)."""
        from ..store import Store
        from .forest import FastIsolationForest

        key = f"scores/{self.space}"
        with Store(store_path, "r") as st:
            if not st.has(f"{key}/features"):
                raise ExplainError(f"{st.path}: /{key} has no stored feature matrix "
                                   "(rescore with this version to explain the forest)")
            x = np.asarray(st.read(f"{key}/features"), dtype=np.float32)
            attrs = st.attrs(key)
            self.raw_stored_ = np.asarray(st.read(f"{key}/raw"), dtype="f8")
        settings = attrs.get("settings") or {}
        self.names_ = [str(n) for n in attrs.get("features", [])]
        self.valid_ = np.isfinite(x).all(axis=1)
        self.x_ = x
        self.median_ = np.median(x[self.valid_], axis=0)
        t0 = time.perf_counter()
        est = FastIsolationForest(int(settings.get("n_estimators", 5000)),
                                  int(settings.get("max_samples", 256)),
                                  int(settings.get("seed", 0)), self.n_jobs)
        yield from est.fit_steps(x[self.valid_])
        self.forest_ = est
        self.fit_seconds_ = time.perf_counter() - t0

    def explain(self, row: int) -> dict:
        """``row``'s mean path length, raw score (refit and stored) and, per feature, its
        value, the median and the path-length change when replaced by the median."""
        if not hasattr(self, "forest_"):
            raise ExplainError("explain: fit the forest first")
        if not self.valid_[row]:
            raise ExplainError(f"row {row}: not scored in the {self.space} space "
                               "(a feature is missing)")
        x = self.x_[row]
        variants = np.repeat(x[None, :], len(x) + 1, axis=0)
        for j in range(len(x)):
            variants[j + 1, j] = self.median_[j]
        depth = self.forest_.path_sums(variants) / self.forest_.n_estimators
        norm = self.forest_.norm_ / self.forest_.n_estimators
        return {"space": self.space, "row": int(row), "mean_path": float(depth[0]),
                "raw": float(2.0 ** (-depth[0] / norm)),
                "raw_stored": float(self.raw_stored_[row]),
                "features": [{"name": n, "value": float(x[j]), "median": float(self.median_[j]),
                              "path_change": float(depth[j + 1] - depth[0])}
                             for j, n in enumerate(self.names_)]}


def forest_spaces(store) -> list[str]:
    """The forest spaces of an open store that stored their feature matrix."""
    from .features import FOREST_SPACES

    return [s for s in FOREST_SPACES if store.has(f"scores/{s}/features")]


# -- reconstruction ----------------------------------------------------------------------
def reconstruction_residual(store_path, row: int) -> dict:
    """GP mean and VAE reconstruction of ``row`` in magnitudes (2, n_phase), their
    difference per phase (GP − VAE, mag) and its RMS per band."""
    from ..fold import unscale
    from ..store import Store
    from ..vae import reconstruct

    with Store(store_path, "r") as st:
        if not st.has("interp/mean"):
            raise ExplainError(f"{st.path}: no GP curves (/interp); run interpolate first")
        mean = np.asarray(st.read("interp/mean", rows=row), dtype="f8")
        mbar = np.asarray(st.read("interp/raw_mean_mag", rows=row), dtype="f8")
        sigma = np.asarray(st.read("interp/raw_std_mag", rows=row), dtype="f8")
        phase = (np.asarray(st.read("interp/phase")) if st.has("interp/phase")
                 else np.arange(mean.shape[-1]) / mean.shape[-1])
        if not (np.isfinite(mean).any() and np.isfinite(mbar).all()):
            msg = (st.read("interp/status_msg", rows=row) if st.has("interp/status_msg")
                   else b"")
            msg = msg.decode() if isinstance(msg, bytes) else str(msg)
            raise ExplainError(f"{st.path}: row {row} has no GP curve to reconstruct (its "
                               f"fit failed{': ' + msg if msg else ''})")
        if not st.has("vae/model"):
            raise ExplainError(f"{st.path}: no trained VAE (/vae/model); run train first")
    rec = np.asarray(reconstruct(store_path, [row]), dtype="f8")[0]
    gp_mag = unscale(mean, None, mbar, sigma)[0]
    rec_mag = unscale(rec, None, mbar, sigma)[0]
    resid = gp_mag - rec_mag
    return {"phase": phase, "gp": gp_mag, "reconstruction": rec_mag, "residual": resid,
            "rms": np.sqrt(np.nanmean(resid ** 2, axis=-1))}


# -- catalogue features against the class ----------------------------------------------
@dataclass
class ClassFeatures:
    """The catalogue features of every object, read once; :meth:`explain` per object."""

    columns: dict[str, np.ndarray] = field(default_factory=dict)
    classes: np.ndarray = field(default_factory=lambda: np.empty(0, "U1"))

    @classmethod
    def from_store(cls, store_path) -> "ClassFeatures":
        from ..store import Store

        with Store(store_path, "r") as st:
            have = set(st.object_columns)
            want = [c for c in ("period", "class", "mean_g", "mean_r") if c in have]
            want += [c for c, _, _ in CLASS_FEATURES if c.startswith("cpvs_") and c in have]
            obj = st.read_objects(want)
        cols: dict[str, np.ndarray] = {}
        if "period" in obj:
            p = np.asarray(obj["period"], dtype="f8")
            with np.errstate(invalid="ignore", divide="ignore"):
                cols["period"] = np.where(p > 0, np.log10(np.where(p > 0, p, 1.0)), np.nan)
        if "mean_g" in obj and "mean_r" in obj:
            cols["g_r"] = np.asarray(obj["mean_g"], "f8") - np.asarray(obj["mean_r"], "f8")
        for c in obj:
            if c.startswith("cpvs_"):
                cols[c] = np.asarray(obj[c], dtype="f8")
        classes = np.asarray(obj.get("class", np.full(len(next(iter(obj.values()))), "")))
        return cls(cols, classes.astype(str))

    def explain(self, row: int) -> list[dict]:
        """Per feature: the object's value, its class's median, 16th and 84th percentiles,
        the fraction of the class at or below the value and the class size."""
        cls = self.classes[row]
        members = self.classes == cls
        out = []
        for col, label, unit in CLASS_FEATURES:
            arr = self.columns.get(col)
            if arr is None or not np.isfinite(arr).any():
                continue
            ref = arr[members & np.isfinite(arr)]
            value = float(arr[row])
            entry = {"column": col, "label": label, "unit": unit, "value": value,
                     "class": str(cls), "n_class": int(len(ref))}
            if len(ref):
                lo, med, hi = np.percentile(ref, [16, 50, 84])
                entry.update(median=float(med), p16=float(lo), p84=float(hi),
                             fraction_below=float(np.mean(ref <= value))
                             if np.isfinite(value) else float("nan"))
            out.append(entry)
        return out
