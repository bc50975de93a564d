"""The ``encode`` stage and the GUI's reconstruction: the trained VAE applied to all curves.

Writes ``/vae``: ``mu``, ``logvar`` (N, latent) with NaN rows for objects the GP stage
excluded, ``recon_residual`` (N, 2), the residual of appendix C per band::

    Res = (1/N_phase) * sum_phase (Y_NN - Y_GP)^2 / sigma_GP^2

with Y_NN the mean of ``n_decode`` decodes of z ~ N(mu, exp(logvar)), and keeps the
model bytes and training history that ``train`` stored there.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import provenance as prov
from ..config import VAEConfig, to_dict
from ..errors import StageError
from ..progress import Progress, StageGen, Throttle
from ..store import Store
from ..workcache import locked_stage
from . import nets, serial
from .data import (encodable_rows, finite_rows, interp_info, phase_shifts, read_curves,
                   rotate)

logger = logging.getLogger(__name__)

STAGE = "encode"
_MODEL_CACHE: dict[str, tuple[str, Any]] = {}
_CODERS: dict[int, tuple[Any, "_Coder"]] = {}   # id(model) -> (model, coder)


def _stored_model(st: Store, cfg: VAEConfig | None) -> tuple[dict, dict | None]:
    """The stored model's attrs and the architecture ``cfg`` describes, checked against
    each other (:class:`ModelError`); a :class:`StageError` when nothing is trained."""
    if not st.has("vae/model"):
        raise StageError(f"{st.path}: no trained model (/vae/model); "
                         "run `pvsvet-engine train` first")
    attrs = st.attrs("vae")
    arch = None
    if cfg is not None:
        arch = nets.architecture(cfg, int((attrs.get("architecture") or {}).get("n_phase", 160)))
    serial.check_compatible(attrs, arch, f"{st.path} /vae/model")
    return attrs, arch


def load_model(store_path: str | Path, cfg: VAEConfig | None = None):
    """The trained VAE of a store (cached per store path and model id).

    ``cfg`` given: the stored architecture must match it, else :class:`ModelError`.
    """
    where = f"{store_path} /vae/model"
    with Store(store_path, "r") as st:
        attrs, arch = _stored_model(st, cfg)
        model_id = str(attrs.get("model_id", "")) + str(attrs.get("written", ""))
        cached = _MODEL_CACHE.get(str(Path(store_path).resolve()))
        if cached and cached[0] == model_id:
            return cached[1]
        blob = st.read("vae/model")
    model = serial.model_from_bytes(blob, attrs, arch, where)
    _MODEL_CACHE[str(Path(store_path).resolve())] = (model_id, model)
    return model


class _Coder:
    """Compiled encoder/decoder calls in inference mode, in the catalogue's phases.

    Curves are rotated into the model's phase convention (``align``, see
    :func:`engine.vae.data.phase_shifts`) before encoding, and decodes are rotated back
    with the same shifts, so callers never see the aligned frame.
    """

    def __init__(self, model, n_decode: int, seed: int, align: str = "none"):
        from .runtime import tensorflow

        tf = tensorflow()
        enc, dec = model.get_layer("encoder"), model.get_layer("decoder")
        shape = enc.input.shape[1:]
        self.latent = enc.get_layer("mu").units
        self.n_decode = n_decode
        self.align = align
        self._rng = np.random.default_rng(seed)
        self._enc = tf.function(lambda x: enc(x, training=False)[:2],
                                input_signature=[tf.TensorSpec([None, *shape], tf.float32)])
        self._dec = tf.function(lambda z: dec(z, training=False),
                                input_signature=[tf.TensorSpec([None, self.latent], tf.float32)])

    def shifts(self, x: np.ndarray) -> np.ndarray:
        return phase_shifts(x, self.align)

    def encode(self, x: np.ndarray, shifts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        shifts = self.shifts(x) if shifts is None else shifts
        mu, logvar = self._enc(rotate(x, shifts))
        return mu.numpy(), logvar.numpy()

    def decode(self, z: np.ndarray, shifts: np.ndarray | None = None) -> np.ndarray:
        out = self._dec(z.astype("f4")).numpy()
        return out if shifts is None else rotate(out, -np.asarray(shifts))

    def sampled_mean(self, mu: np.ndarray, logvar: np.ndarray,
                     shifts: np.ndarray | None = None) -> np.ndarray:
        """Mean of ``n_decode`` decodes of z ~ N(mu, exp(logvar)) (appendix C)."""
        sigma = np.exp(0.5 * logvar)
        total = None
        for _ in range(self.n_decode):   # one batch-sized decode per draw: cache-friendly
            eps = self._rng.standard_normal(mu.shape).astype("f4")
            out = self.decode(mu + sigma * eps)
            total = out if total is None else total + out
        mean = total / self.n_decode
        return mean if shifts is None else rotate(mean, -np.asarray(shifts))

    def check(self, x: np.ndarray, std: np.ndarray):
        """Latent means, log-variances and the appendix-C residual of curves ``x``."""
        shifts = self.shifts(x)
        mu, logvar = self.encode(x, shifts)
        res = residual(self.sampled_mean(mu, logvar, shifts), x, std) if self.n_decode else None
        return mu, logvar, res


def stored_align(store_path: str | Path) -> str:
    """The phase convention of the stored model (``"none"`` for models without one)."""
    with Store(store_path, "r") as st:
        arch = st.attrs("vae").get("architecture") or {}
    return str(arch.get("align", "none"))


def stored_coder(store_path: str | Path, cfg: VAEConfig | None = None,
                 n_decode: int | None = None, seed: int = 0) -> _Coder:
    """A :class:`_Coder` of the stored model (checked against ``cfg`` when given)."""
    model = load_model(store_path, cfg)
    n = (cfg.n_decode if cfg else 1) if n_decode is None else n_decode
    return _Coder(model, n, cfg.seed if cfg else seed, stored_align(store_path))


def residual(y_nn: np.ndarray, y_gp: np.ndarray, std_gp: np.ndarray) -> np.ndarray:
    """Appendix C residual per band: mean over phases of ((Y_NN - Y_GP) / sigma_GP)^2.

    Parameters
    ----------
    y_nn, y_gp, std_gp : (n, 2, phases), scaled magnitudes

    Returns
    -------
    (n, 2) float32
    """
    std = np.maximum(std_gp, 1e-6)   # a collapsed GP sigma must not give inf
    return (((y_nn - y_gp) / std) ** 2).mean(axis=2).astype("f4")


def encode_rows(store_path: str | Path, cod: _Coder, rows: np.ndarray, batch: int,
                out: tuple[np.ndarray, np.ndarray, np.ndarray], base: int = 0) -> StageGen:
    """Encode the curves of store ``rows`` in batches into ``out`` = (mu, logvar, res).

    Row ``r`` goes to ``out[...][r - base]``; rows with a non-finite curve stay NaN.
    Yields progress; returns the seconds spent reading, encoding and decoding.
    """
    mu, logvar, res = out
    t0 = time.perf_counter()
    throttle, secs = Throttle(0.5), {"read_s": 0.0, "encode_s": 0.0, "residual_s": 0.0}
    yield Progress(STAGE, 0, len(rows), "encoding", "lc")
    for a in range(0, len(rows), batch):
        r = rows[a:a + batch]
        t = time.perf_counter()
        x, s = read_curves(store_path, r), read_curves(store_path, r, std=True)
        ok = finite_rows(store_path, r, x)
        r, x, s = r[ok], x[ok], s[ok]
        t1 = time.perf_counter()
        shifts = cod.shifts(x)
        i = r - base
        mu[i], logvar[i] = cod.encode(x, shifts)
        t2 = time.perf_counter()
        if cod.n_decode:   # 0 skips the appendix-C check (10 decodes cost 10 encodes)
            res[i] = residual(cod.sampled_mean(mu[i], logvar[i], shifts), x, s)
        t3 = time.perf_counter()
        for k, dt in zip(secs, (t1 - t, t2 - t1, t3 - t2)):
            secs[k] += dt
        done = min(a + batch, len(rows))
        if throttle():
            yield Progress(STAGE, done, len(rows), f"{done / (t3 - t0):.0f} lc/s", "lc")
    return secs


@locked_stage("encode")
def encode(store_path: str | Path, cfg: VAEConfig | None = None, executor=None,
           force: bool = False) -> StageGen:
    """Encode every interpolated object with the stored model and write ``/vae``.

    ``executor`` is accepted for the stage signature but not used: TensorFlow already
    spreads each batch over all cores, and a process pool would load the model once
    per worker for no gain. Up to date (:mod:`engine.provenance`) and not ``force``:
    returns ``{"skipped": why}``.
    """
    cfg = cfg or VAEConfig()
    up = prov.fresh(store_path, STAGE, cfg, force)
    if up:
        with Store(store_path, "r") as st:
            _stored_model(st, cfg)   # settings of another model are refused, fresh or not
        return (yield from prov.skipped(STAGE, up))
    t0 = time.perf_counter()
    info = interp_info(store_path)
    model = load_model(store_path, cfg)
    rows = np.flatnonzero(info.encodable)
    cod = _Coder(model, cfg.n_decode, cfg.seed, cfg.align)
    mu = np.full((info.n, cod.latent), np.nan, "f4")
    logvar, res = mu.copy(), np.full((info.n, 2), np.nan, "f4")
    secs = yield from encode_rows(store_path, cod, rows, cfg.encode_batch, (mu, logvar, res))
    yield Progress(STAGE, len(rows), len(rows), "classifier report, writing /vae", "lc")
    secs["commit_s"] = _commit(store_path, cfg, info, mu, logvar, res)
    secs["seconds"] = time.perf_counter() - t0
    return {**summary(res, info.split), **{k: round(v, 2) for k, v in secs.items()}}


def summary(res: np.ndarray, split: np.ndarray) -> dict[str, Any]:
    """Fraction of objects with residual < 1 in both bands, per split."""
    ok = np.isfinite(res).all(axis=1)
    good = ok & (np.nan_to_num(res, nan=np.inf) < 1).all(axis=1)
    out = {"n_encoded": int(ok.sum())}
    for name, code in (("train", 0), ("val", 1), ("test", 2)):
        sel = ok & (split == code)
        out[f"frac_res_lt1_{name}"] = float(good[sel].mean()) if sel.any() else float("nan")
    return out


def _commit(store_path, cfg: VAEConfig, info, mu, logvar, res) -> float:
    """Write ``/vae``; return the seconds spent (mostly the classifier report)."""
    from .report import latent_report_from_arrays

    t0 = time.perf_counter()
    with Store(store_path, "r") as st:
        attrs = st.attrs("vae")
        keep = {"model": st.read("vae/model")}
        for k in st.group_keys("vae/history"):
            keep[f"history/{k}"] = st.read(f"vae/history/{k}")
    report = latent_report_from_arrays(store_path, mu, info.split, cfg.seed)
    attrs = {k: v for k, v in attrs.items() if k != "written" and not k.startswith("classifier_")}
    attrs.update({"encode_config": to_dict(cfg), "input_hash_encode": info.input_hash,
                  **summary(res, info.split),
                  **{f"classifier_{k}": v for k, v in (report or {}).items()}})
    with Store(store_path, "a") as st:
        st.write_group("vae", {"mu": mu, "logvar": logvar, "recon_residual": res, **keep},
                       attrs=attrs)
        prov.record(st, STAGE, cfg, model_id=str(attrs.get("model_id", "")))
    return time.perf_counter() - t0


def reconstruct(store_path: str | Path, rows) -> np.ndarray:
    """Decoded curve of the latent mean, (len(rows), 2, phases), for the GUI overlay.

    Uses ``/vae/mu`` when ``encode`` has run, else encodes ``/interp/mean``; the decode
    is in the catalogue's phases (rotated back from the model's alignment). Rows
    without a latent vector (excluded objects) come back as NaN.
    """
    rows = np.atleast_1d(np.asarray(rows, dtype=int))
    model = load_model(store_path)
    if id(model) not in _CODERS:   # compiling the calls costs ~0.3 s; the GUI calls often
        _CODERS.clear()
        _CODERS[id(model)] = (model, _Coder(model, 1, 0, stored_align(store_path)))
    cod = _CODERS[id(model)][1]
    out = np.full((len(rows), *model.get_layer("decoder").output.shape[1:]), np.nan, "f4")
    ok = encodable_rows(store_path, rows)
    x = read_curves(store_path, rows[ok])
    good = finite_rows(store_path, rows[ok], x)
    if not good.any():
        return out
    where, x = np.flatnonzero(ok)[good], x[good]
    with Store(store_path, "r") as st:
        mu = st.read("vae/mu", rows=rows[where]) if st.has("vae/mu") else None
    shifts = cod.shifts(x)
    if mu is None:
        mu = cod.encode(x, shifts)[0]
    have = np.isfinite(mu).all(axis=1)
    out[where[have]] = cod.decode(mu[have], shifts[have])
    return out
