"""Stores filled with synthetic numbers for GUI tests and the GUI benchmark (no Qt).

These are not the demo catalogue (``engine.simulate``): no GP, VAE or forest runs
here. Every stage group the GUI reads is written directly with the store API, with
values shaped like the real ones (sinusoidal light curves, clustered latent means,
scores that grow with the distance from the class centre), so a 730k-object store
is built in about a minute and the GUI can be measured at survey scale.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np

from engine.context.hr import MOWLAVI_INTERCEPT, MOWLAVI_SLOPE
from engine.store import LightCurve, Store

logger = logging.getLogger(__name__)

#: class -> (log10 period centre [d], spread [dex], amplitude [mag], g-r [mag], share);
#: the class names of the CPVS (Chen et al. 2020) and of the demo, engine.simulate.classes
CLASSES = {
    "EW": (-0.45, 0.10, 0.4, 0.45, 0.50), "EA": (0.30, 0.30, 0.6, 0.35, 0.05),
    "SR": (1.80, 0.30, 0.8, 1.50, 0.07), "Mira": (2.45, 0.12, 3.0, 1.90, 0.02),
    "RR": (-0.25, 0.06, 0.8, 0.30, 0.06), "RRc": (-0.50, 0.05, 0.4, 0.25, 0.02),
    "BYDra": (0.60, 0.30, 0.1, 1.10, 0.11), "RSCVN": (1.00, 0.30, 0.2, 0.80, 0.14),
    "DSCT": (-1.10, 0.15, 0.1, 0.25, 0.01), "CEP": (0.90, 0.25, 0.8, 0.80, 0.01),
    "CEPII": (0.60, 0.30, 0.7, 0.60, 0.01),
}
N_PHASE = 160
LATENT = 10


def _names(ra: np.ndarray, dec: np.ndarray) -> tuple[list[str], list[str]]:
    from engine.names import iau_name

    ids = [f"ZTFJ{r:09.5f}{d:+09.5f}" for r, d in zip(ra, dec)]     # survey-style ids
    return ids, [iau_name(r, d) for r, d in zip(ra, dec)]


def _objects(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    names = list(CLASSES)
    share = np.array([CLASSES[c][4] for c in names])
    cls = rng.choice(len(names), size=n, p=share / share.sum())
    centre = np.array([CLASSES[c][0] for c in names])[cls]
    spread = np.array([CLASSES[c][1] for c in names])[cls]
    amp = np.array([CLASSES[c][2] for c in names])[cls] * rng.uniform(0.6, 1.4, n)
    gr = np.array([CLASSES[c][3] for c in names])[cls] + rng.normal(0, 0.1, n)
    ra, dec = rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-0.5, 1, n)))
    mean_r = rng.uniform(13, 19.5, n)
    return {"cls": cls, "period": 10 ** rng.normal(centre, spread), "amp": amp,
            "gr": gr, "ra": ra, "dec": dec, "mean_r": mean_r, "mean_g": mean_r + gr,
            "class": np.array(names)[cls]}


def _lightcurves(rng, obj, sl: slice, per_band: int) -> list[LightCurve]:
    m = sl.stop - sl.start
    t = np.sort(rng.uniform(58200, 59700, (m, 2 * per_band)), axis=1)
    band = np.tile(np.repeat(np.array([0, 1], "u1"), per_band), (m, 1))
    rng.shuffle(band, axis=1)
    phase = (t / obj["period"][sl, None]) % 1.0
    shape = np.sin(2 * np.pi * phase) + 0.3 * np.sin(4 * np.pi * phase + 1)
    base = np.where(band == 0, obj["mean_g"][sl, None], obj["mean_r"][sl, None])
    err = 0.01 + 0.02 * rng.random((m, 2 * per_band))
    mag = base + 0.5 * obj["amp"][sl, None] * shape * np.where(band == 0, 1.2, 1.0)
    mag += err * rng.standard_normal(mag.shape)
    return [LightCurve(t[j], mag[j].astype("f4"), err[j].astype("f4"), band[j])
            for j in range(m)]


def _append_all(store: Store, rng, obj, n: int, per_band: int, chunk: int,
                report: Callable[[str, int, int], None]) -> None:
    ids, names = _names(obj["ra"], obj["dec"])
    for s in range(0, n, chunk):
        sl = slice(s, min(n, s + chunk))
        cols = {"id": ids[sl], "name": names[sl], "ra": obj["ra"][sl], "dec": obj["dec"][sl],
                "period": obj["period"][sl], "class": obj["class"][sl],
                "mean_g": obj["mean_g"][sl], "mean_r": obj["mean_r"][sl],
                "n_g": np.full(sl.stop - s, per_band), "n_r": np.full(sl.stop - s, per_band)}
        store.append_objects(cols, _lightcurves(rng, obj, sl, per_band))
        report("objects", sl.stop, n)


def _write_interp(store: Store, rng, obj, n: int, chunk: int) -> None:
    phase = np.linspace(0, 1, N_PHASE, endpoint=False)
    shape = np.sin(2 * np.pi * phase) + 0.3 * np.sin(4 * np.pi * phase + 1)
    shape = (shape - shape.mean()) / shape.std()
    with store.writing_group("interp") as g:
        mean = g.create_dataset("mean", shape=(n, 2, N_PHASE), dtype="f4",
                                chunks=(min(n, 256), 2, N_PHASE))
        std = g.create_dataset("std", shape=(n, 2, N_PHASE), dtype="f4",
                               chunks=(min(n, 256), 2, N_PHASE))
        for s in range(0, n, chunk):
            m = min(n, s + chunk) - s
            jitter = rng.normal(0, 0.05, (m, 1, 1)).astype("f4")
            mean[s:s + m] = np.broadcast_to(shape, (m, 2, N_PHASE)) + jitter
            std[s:s + m] = np.full((m, 2, N_PHASE), 0.15, "f4")
        sig = 0.5 * obj["amp"] * np.sqrt(0.5 + 0.045) / 1.0
        g.create_dataset("raw_mean_mag", data=np.stack([obj["mean_g"], obj["mean_r"]], 1))
        g.create_dataset("raw_std_mag", data=np.stack([1.2 * sig, sig], 1).astype("f4"))
        g.create_dataset("hyper", data=np.tile([[0.2, 1.0, 1.0, 0.01]], (n, 1)).astype("f4"))
        g.create_dataset("nll", data=rng.normal(0, 1, n).astype("f4"))
        g.create_dataset("status", data=np.zeros(n, "u4"))
        g.create_dataset("status_msg", data=np.full(n, b"", "S1"))
        g.create_dataset("split", data=rng.choice([0, 1, 2], n, p=[0.7, 0.2, 0.1]).astype("u1"))
        g.create_dataset("phase", data=phase)
        g.attrs["method"] = "synthetic"


def _latent(rng, obj, n: int) -> tuple[np.ndarray, np.ndarray]:
    centres = rng.normal(0, 2.0, (len(CLASSES), LATENT))
    mu = centres[obj["cls"]] + rng.normal(0, 0.6, (n, LATENT))
    outliers = rng.random(n) < 0.002
    mu[outliers] += rng.normal(0, 4.0, (int(outliers.sum()), LATENT))
    return mu.astype("f4"), outliers


def _scores(mu: np.ndarray, cls: np.ndarray, extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    centre = np.zeros((cls.max() + 1, mu.shape[1]), "f4")
    for c in np.unique(cls):
        centre[c] = mu[cls == c].mean(0)
    dist = np.linalg.norm(mu - centre[cls], axis=1) + extra
    score = (dist / dist.max()).astype("f4")
    rank = np.empty(len(score), "i4")
    rank[np.argsort(-score, kind="stable")] = np.arange(1, len(score) + 1)
    return score, rank


def _write_model_groups(store: Store, rng, obj, n: int) -> None:
    mu, outliers = _latent(rng, obj, n)
    store.write_group("vae", {"mu": mu, "logvar": np.full_like(mu, -2.0),
                              "recon_residual": rng.gamma(2, 0.2, (n, 2)).astype("f4")},
                      {"synthetic": True})
    for space, extra in (("cartesian", 0.0), ("spherical", 0.3 * np.abs(np.log10(obj["period"])))):
        score, rank = _scores(mu, obj["cls"], extra)
        store.write_group(f"scores/{space}", {"score": score, "rank": rank},
                          {"features": ["mu", "log10_period", "m_gr"], "synthetic": True})
    store.update_objects({"truth_anomaly": outliers.astype("u1")}, np.arange(n))


SED_BANDS = ("g", "r", "i", "z", "y", "J", "H", "Ks", "W1", "W2", "W3", "W4")
SED_UM = np.array([0.481, 0.617, 0.752, 0.866, 0.962, 1.235, 1.662, 2.159, 3.35, 4.6, 11.56,
                   22.09])
CATALOGS = ("gaia", "bailer-jones", "ps1", "2mass", "allwise")


def _blackbody_lam_flam(um: np.ndarray, teff: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """λFλ (W m⁻²) of scaled blackbodies, shape (M, len(um))."""
    x = 14387.77 / (um[None, :] * teff[:, None])          # hc/(λkT), λ in µm
    return scale[:, None] * x ** 4 / np.expm1(x)


def _write_context(store: Store, rng, n: int, top: int) -> None:
    """A /context group in the layout of ``engine.context`` (synthetic numbers)."""
    score = store.read("scores/cartesian/score")[:n]
    rows = np.sort(np.argsort(-np.nan_to_num(score, nan=-1))[:min(top, n)])
    m = len(rows)
    teff = rng.uniform(2500, 6000, m)
    lf = _blackbody_lam_flam(SED_UM, teff, np.full(m, 1e-13))
    model_um = np.geomspace(0.3, 40, 120)
    model = _blackbody_lam_flam(model_um, teff, np.full(m, 1e-13))
    fitted = rng.random(m) < 0.7
    arrays = {
        "row": rows, "id": store.read_objects(["id"], rows=rows, decode=False)["id"],
        "selection": np.full(m, b"top-cartesian"), "status": np.zeros(m, "u4"),
        "status_msg": np.full(m, b""), "synthetic": np.ones(m, "u1"),
        "M_G": rng.normal(0, 2, m), "bp_rp": rng.uniform(0.3, 4, m),
        "distance_pc": rng.uniform(300, 5000, m), "ebv": rng.uniform(0, 0.5, m),
        "ebv_source": np.full(m, b"synthetic"), "alpha_ir": rng.normal(-2, 0.5, m),
        "sed_wavelength_um": SED_UM, "sed_lam_flam": lf, "sed_lam_flam_err": 0.05 * lf,
        "sed_flux_jy": lf, "sed_flux_err_jy": 0.05 * lf, "sed_dereddened": np.ones(m, "u1"),
        "model_wavelength_um": model_um, "fit_model_lam_flam": model,
        "fit_grid": np.where(fitted, b"silicates", b""), "fit_teff": teff,
        "fit_lum_lsun": rng.uniform(1e3, 1e4, m), "fit_tau10": rng.uniform(0.01, 3, m),
        "fit_t_inner": np.full(m, 1000.0), "fit_r_in_cm": rng.uniform(1e14, 1e15, m),
        "fit_mdot_dust": rng.uniform(1e-10, 1e-8, m), "fit_mdot_total": rng.uniform(1e-8, 1e-6, m),
        "fit_chi2": rng.uniform(0.5, 3, m),
        "xm_id": np.full((m, len(CATALOGS)), b"synthetic"),
        "xm_sep_arcsec": np.zeros((m, len(CATALOGS))),
        "xm_fetched": np.full((m, len(CATALOGS)), b""),
        "xm_state": np.full((m, len(CATALOGS)), b"synthetic"),
    }
    store.write_group("context", arrays, {"sed_bands": list(SED_BANDS),
                                          "catalogs": list(CATALOGS), "offline": True,
                                          "mowlavi": {"slope": MOWLAVI_SLOPE,
                                                      "intercept": MOWLAVI_INTERCEPT}})


def build_store(path: str | Path, n: int, seed: int = 0, per_band: int = 60,
                stages: tuple[str, ...] = ("interp", "vae", "scores"), chunk: int = 20000,
                report: Callable[[str, int, int], None] | None = None) -> Path:
    """Write a store of ``n`` synthetic objects with the chosen stage groups filled.

    Parameters
    ----------
    path : the new store (overwritten)
    n : number of objects
    per_band : photometric points per band and object
    stages : which of ``interp``, ``vae`` (also writes ``scores``), ``context`` to fill
    report : called as ``report(what, done, total)`` while building
    """
    report = report or (lambda *a: None)
    rng = np.random.default_rng(seed)
    obj = _objects(rng, n)
    with Store.create(path, {"synthetic": True}, overwrite=True) as store:
        _append_all(store, rng, obj, n, per_band, chunk, report)
        if "interp" in stages:
            _write_interp(store, rng, obj, n, chunk)
            report("interp", n, n)
        if "vae" in stages or "scores" in stages:
            _write_model_groups(store, rng, obj, n)
            report("scores", n, n)
        if "context" in stages:
            _write_context(store, rng, n, top=max(10, n // 10))
    return Path(path)
