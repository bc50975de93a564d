"""VAE: training samples/s, encoding light curves/s, residual < 1 fraction vs training time.

Data: ``--store`` (an interpolated store; its ``/objects`` columns and ``/interp`` are
copied, the original is never written), else a fresh demo of ``--n`` objects made with
``engine.simulate.make_demo`` + ``engine.gp.interpolate`` (``--data demo``), else
Fourier-family curves (``--data synthetic``, residuals only indicative: their GP sigma
is drawn, not fitted). Training runs for ``--minutes`` in slices of ``--every`` minutes
(the train stage resumes exactly between slices); after each slice the test split is
encoded and the fraction with residual < 1 in both bands recorded.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=float, default=3.0, help="training budget (min)")
    parser.add_argument("--every", type=float, default=1.0,
                        help="evaluate the test residuals after every this many minutes")
    parser.add_argument("--store", default="", help="an interpolated store to use (read only)")
    parser.add_argument("--data", choices=("demo", "synthetic"), default="demo",
                        help="what to make when --store is not given")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", default="", help="TOML whose [vae] table overrides defaults")
    parser.add_argument("--workdir", default="", help="keep the bench store here (default: temp)")
    parser.add_argument("--time-curves", type=int, default=100_000,
                        help="curves encoded/decoded for the throughput timing")


def run(args: argparse.Namespace) -> dict:
    from ..config import to_dict
    from ..progress import run_quiet
    from ..vae import encode

    n = args.n or 20000
    with tempfile.TemporaryDirectory(prefix="pvsvet-bench-vae-") as tmp:
        path = Path(args.workdir or tmp) / "bench_vae.h5"
        prep = _prepare(path, args, n)
        cfg = _config(args)
        curve, train = _train_curve(path, cfg, args.minutes, args.every)
        t0 = time.perf_counter()
        summary = run_quiet(encode(path, cfg))
        stage_s = time.perf_counter() - t0
        enc = _encoder_speed(path, cfg, args.time_curves)
        attrs = _vae_attrs(path)
    return {**prep, **train, "curve": curve, **enc, "config": to_dict(cfg),
            "encode_stage_lc_per_s": round(summary["n_encoded"] / stage_s, 1),
            "encode_stage_s": round(stage_s, 2),
            "encode_stage_breakdown_s": {k: summary[k] for k in
                                         ("read_s", "encode_s", "residual_s", "commit_s")},
            "frac_res_lt1_test": summary["frac_res_lt1_test"],
            "frac_res_lt1_train": summary["frac_res_lt1_train"],
            "latent_rf_balanced_accuracy": attrs.get("classifier_balanced_accuracy"),
            "targets": {"encode_lc_per_s": 7000, "frac_res_lt1_test": 0.9,
                        "train_minutes": 30, "latent_rf_balanced_accuracy": 0.9}}


def _config(args):
    from ..config import VAEConfig, load

    base = load(args.config).vae if args.config else VAEConfig(seed=args.seed)
    return dataclasses.replace(base, epochs=100000)


# -- data ------------------------------------------------------------------------
def _prepare(path: Path, args, n: int) -> dict:
    from ..store import Store

    t0 = time.perf_counter()
    if args.store:
        source = _copy_interp(Path(args.store), path)
    elif args.data == "demo" and _have_demo():
        source = _make_demo(path, n, args.seed)
    else:
        from ..vae.data import write_synthetic_interp
        write_synthetic_interp(path, n, seed=args.seed)
        source = "synthetic Fourier families (engine.vae.data)"
    with Store(path) as st:
        split = st.read("interp/split")
    return {"data": source, "n_objects": int(len(split)),
            "n_train": int((split == 0).sum()), "n_val": int((split == 1).sum()),
            "n_test": int((split == 2).sum()), "prepare_s": round(time.perf_counter() - t0, 1)}


def _have_demo() -> bool:
    try:
        from ..gp import interpolate  # noqa: F401
        from ..simulate import make_demo  # noqa: F401
    except ImportError:
        return False
    return True


def _make_demo(path: Path, n: int, seed: int) -> str:
    from ..config import InterpConfig
    from ..gp import interpolate
    from ..progress import run_quiet
    from ..simulate import make_demo

    if not path.exists():
        run_quiet(make_demo(path, n, seed=seed))
    with _store(path) as st:
        done = st.has("interp/mean")
    if not done:
        run_quiet(interpolate(path, InterpConfig()))
    return f"engine.simulate.make_demo(seed={seed}) + engine.gp.interpolate (fast)"


def _store(path, mode="r"):
    from ..store import Store
    return Store(path, mode)


def _copy_interp(src: Path, dst: Path) -> str:
    """A light copy: the /objects columns the VAE stages read, and /interp."""
    from ..store import LightCurve, Store

    keys = ("mean", "std", "split", "status", "phase")
    with Store(src) as st:
        cols = st.read_objects(["id", "class", "period", "mean_g", "mean_r"])
        interp = {k: st.read(f"interp/{k}") for k in keys if st.has(f"interp/{k}")}
    empty = LightCurve(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, "u1"))
    with Store.create(dst, overwrite=True) as st:
        st.append_objects(cols, [empty] * len(cols["id"]))
        st.write_group("interp", interp)
    return f"copy of {src.name}"


# -- measurements -----------------------------------------------------------------
def _train_curve(path: Path, cfg, minutes: float, every: float):
    """Train in slices; after each, the test residual fraction. Returns (curve, figures)."""
    from ..progress import run_quiet
    from ..vae import train

    curve, t_wall = [], time.perf_counter()
    slices = max(1, int(np.ceil(minutes / every - 1e-9)))
    for i in range(slices):
        step = min(every, minutes - i * every)
        result = run_quiet(train(path, dataclasses.replace(cfg, minutes=step)))
        spent = time.perf_counter() - t_wall
        curve.append({"train_s": round(_train_seconds(path), 1), "epoch": result["epoch"],
                      "val_loss": round(result["best_val_loss"], 3),
                      "frac_res_lt1_test": round(_test_fraction(path, cfg), 4)})
    hist = _history(path)
    n_train = int((_split(path) == 0).sum())
    per_epoch = np.diff(np.concatenate([[0.0], hist["time_s"]]))
    return curve, {"epochs": int(hist["epoch"][-1]), "train_wall_s": round(spent, 1),
                   "train_samples_per_s": round(n_train / float(np.median(per_epoch)), 1),
                   "val_loss_first_last": [round(float(hist["val_loss"][0]), 3),
                                           round(float(hist["val_loss"][-1]), 3)]}


def _history(path):
    with _store(path) as st:
        return {k: st.read(f"vae/history/{k}") for k in ("epoch", "time_s", "val_loss")}


def _train_seconds(path) -> float:
    return float(_history(path)["time_s"][-1])


def _split(path):
    with _store(path) as st:
        return st.read("interp/split")


def _test_fraction(path, cfg) -> float:
    """Residual < 1 in both bands on the test split, with the stored (best) model."""
    from ..vae.data import finite_rows, read_curves
    from ..vae.encoding import _Coder, load_model, residual

    rows = np.flatnonzero(_split(path) == 2)
    coder = _Coder(load_model(path, cfg), cfg.n_decode, cfg.seed)
    good = []
    for a in range(0, len(rows), cfg.encode_batch):
        r = rows[a:a + cfg.encode_batch]
        x, s = read_curves(path, r), read_curves(path, r, std=True)
        ok = finite_rows(path, r, x)
        x, s = x[ok], s[ok]
        mu, logvar = coder.encode(x)
        good.append((residual(coder.sampled_mean(mu, logvar), x, s) < 1).all(axis=1))
    return float(np.concatenate(good).mean()) if good else float("nan")


def _encoder_speed(path, cfg, n_curves: int) -> dict:
    """Pure encoding (mu, logvar) and decoding throughput, curves already in memory."""
    from ..vae.data import EXCLUDED, finite_rows, read_curves
    from ..vae.encoding import _Coder, load_model

    split = _split(path)
    rows = np.flatnonzero(split != EXCLUDED)
    x = read_curves(path, rows)
    x = x[finite_rows(path, rows, x)]
    reps = max(1, n_curves // len(x))
    x = np.concatenate([x] * reps)
    coder = _Coder(load_model(path, cfg), cfg.n_decode, cfg.seed)
    b = cfg.encode_batch
    coder.encode(x[:b])                # trace and warm up
    t0 = time.perf_counter()
    mu = np.concatenate([coder.encode(x[a:a + b])[0] for a in range(0, len(x), b)])
    t_enc = time.perf_counter() - t0
    coder.decode(mu[:b])
    t0 = time.perf_counter()
    for a in range(0, len(mu), b):
        coder.decode(mu[a:a + b])
    t_dec = time.perf_counter() - t0
    return {"encode_lc_per_s": round(len(x) / t_enc, 1),
            "decode_lc_per_s": round(len(x) / t_dec, 1), "encode_batch": b,
            "encode_timed_curves": int(len(x))}


def _vae_attrs(path) -> dict:
    with _store(path) as st:
        return st.attrs("vae")
