"""VAE: training samples/s, encoding light curves/s, residual < 1 fraction vs training time.

Data: ``--store`` (an interpolated store; its ``/objects`` columns and ``/interp`` are
copied, the original is never written), else a fresh demo of ``--n`` objects made with
``engine.simulate.make_demo`` + ``engine.gp.interpolate`` (``--data demo``), else
Fourier-family curves (``--data synthetic``, residuals only indicative: their GP sigma
is drawn, not fitted). Training runs once for a ``--minutes`` budget (one learning-rate
schedule over it); every ``--every`` minutes of training it is paused (closed like a
kill, then resumed exactly) and the test split's fraction with residual < 1 in both
bands is recorded for the best weights so far; the pauses do not count as training.
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
        curve, train = _train_curve(path, cfg, args.every)
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
            "latent_rf": {k[len("classifier_"):]: v for k, v in attrs.items()
                          if k.startswith("classifier_")},
            "targets": {"encode_lc_per_s": 7000, "frac_res_lt1_test": 0.9,
                        "train_minutes": 30, "latent_rf_balanced_accuracy": 0.9}}


def _config(args):
    from ..config import VAEConfig, load

    base = load(args.config).vae if args.config else VAEConfig(seed=args.seed)
    return dataclasses.replace(base, epochs=100000, minutes=args.minutes)


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
    """A light copy: ``/objects`` without light curves (truth columns included, so the
    copy can be scored and its anomaly recall measured) and all of ``/interp``."""
    from ..store import LightCurve, Store

    with Store(src) as st:
        cols = st.read_objects([c for c in st.object_columns if c != "status_msg"])
        interp = {k: st.read(f"interp/{k}") for k in st.group_keys("interp")}
        interp_attrs = st.attrs("interp")
    empty = LightCurve(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, "u1"))
    with Store.create(dst, overwrite=True) as st:
        st.append_objects(cols, [empty] * len(cols["id"]))
        st.write_group("interp", interp, attrs={k: v for k, v in interp_attrs.items()
                                                if k != "written"})
    return f"copy of {src.name}"


# -- measurements -----------------------------------------------------------------
def _train_curve(path: Path, cfg, every: float):
    """Train once for ``cfg.minutes``; every ``every`` minutes of training, pause (the run is
    closed like a kill and resumed on the same schedule), and record the test-split
    fraction with residual < 1 of the best weights so far. Returns (curve, figures)."""
    from ..vae import train

    curve, paused_s, t_wall = [], 0.0, time.perf_counter()
    next_eval, finished = every * 60.0, False
    while not finished:
        gen, finished, first = train(path, cfg), True, None
        try:
            for p in gen:
                at_epoch_end = p.message.startswith("loss")
                first = p.done if first is None else first
                # a run trains two epochs at least before it pauses: its first one also
                # traces the TensorFlow functions, and the schedule is planned on its second
                if at_epoch_end and p.done - first >= 2 \
                        and time.perf_counter() - t_wall - paused_s >= next_eval:
                    finished = False
                    break
        finally:
            gen.close()
        t0 = time.perf_counter()
        point = _curve_point(path, cfg, committed=finished)
        if curve and curve[-1]["epoch"] == point["epoch"]:   # paused on the last epoch
            curve.pop()
        curve.append(point)
        paused_s += time.perf_counter() - t0
        next_eval += every * 60.0
    spent = time.perf_counter() - t_wall - paused_s
    hist = _history(path)
    n_train = int((_split(path) == 0).sum())
    per_epoch = np.diff(np.concatenate([[0.0], hist["time_s"]]))
    return curve, {"epochs": int(hist["epoch"][-1]), "train_wall_s": round(spent, 1),
                   "train_samples_per_s": round(n_train / float(np.median(per_epoch)), 1),
                   "stopped": _vae_attrs(path).get("stopped", ""),
                   "val_loss_first_last": [round(float(hist["val_loss"][0]), 3),
                                           round(float(hist["val_loss"][-1]), 3)]}


def _curve_point(path, cfg, committed: bool) -> dict:
    """Training time, epoch, best validation loss and test fraction at this moment."""
    from ..vae.encoding import _Coder, stored_coder

    if committed:
        hist, cod = _history(path), stored_coder(path, cfg)
        best = float(_vae_attrs(path)["best_val_loss"])
    else:
        state, model = _checkpoint_model(path, cfg)
        hist, cod, best = state.history, _Coder(model, cfg.n_decode, cfg.seed, cfg.align), \
            state.best_val
    return {"train_s": round(float(hist["time_s"][-1]), 1), "epoch": int(hist["epoch"][-1]),
            "val_loss": round(best, 3), "frac_res_lt1_test": round(_test_fraction(path, cod), 4)}


def _checkpoint_model(path, cfg):
    """The training state of an interrupted run and a VAE with its best weights."""
    from ..vae import checkpoint as ckpt
    from ..vae import nets, serial
    from ..vae.data import interp_info
    from ..vae.training import resume_key

    info = interp_info(path)
    state = ckpt.load(path, resume_key(cfg, info.input_hash))
    model = nets.build_vae(nets.architecture(cfg, info.n_phase), seed=cfg.seed)
    serial.assign_arrays(model.variables, state.part("best"), f"{path} training checkpoint")
    return state, model


def _history(path):
    with _store(path) as st:
        return {k: st.read(f"vae/history/{k}") for k in ("epoch", "time_s", "val_loss")}


def _split(path):
    with _store(path) as st:
        return st.read("interp/split")


def _test_fraction(path, cod) -> float:
    """Residual < 1 in both bands on the test split (appendix C, ``cod.n_decode`` draws)."""
    from ..vae.data import finite_rows, read_curves

    rows = np.flatnonzero(_split(path) == 2)
    good = []
    for a in range(0, len(rows), 8192):
        r = rows[a:a + 8192]
        x, s = read_curves(path, r), read_curves(path, r, std=True)
        ok = finite_rows(path, r, x)
        good.append((cod.check(x[ok], s[ok])[2] < 1).all(axis=1))
    return float(np.concatenate(good).mean()) if good else float("nan")


def _encoder_speed(path, cfg, n_curves: int) -> dict:
    """Pure encoding (mu, logvar) and decoding throughput, curves already in memory."""
    from ..vae.data import EXCLUDED, finite_rows, read_curves
    from ..vae.encoding import stored_coder

    split = _split(path)
    rows = np.flatnonzero(split != EXCLUDED)
    x = read_curves(path, rows)
    x = x[finite_rows(path, rows, x)]
    reps = max(1, n_curves // len(x))
    x = np.concatenate([x] * reps)
    coder = stored_coder(path, cfg)
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
