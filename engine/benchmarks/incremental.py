"""Incremental scoring: new objects appended to a scored store, ready in the GUI without retraining.

Builds a scored store of ``--n`` demo objects (default 100,000: interpolate, a short
``train``, encode with the residual check, score with 5,000 trees in both spaces),
appends ``--new`` more demo objects (default 10,000, the same catalogue's next rows),
and times ``pvsvet-engine run --new-only`` on them (``new_only_s``). The engine never
starts the GUI: with ``--keep DIR``, ``pvsvet --bench DIR/updated.h5`` then measures the
GUI's start-up to a usable window on the updated store, and the two together are the
time until the new rows are ready in the GUI (target, issue 15: <= 120 s for 10,000 new
objects on a 100,000-object store). ``--store`` reuses a scored base store (copied,
never changed) instead of building one.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import shutil
import tempfile
import time
from pathlib import Path

from .. import config as C
from ..progress import run_quiet
from ..store import Store

TARGET_S = 120.0
_COPY_ROWS = 20000


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--new", type=int, default=10000, help="objects appended (default 10,000)")
    parser.add_argument("--store", default="", help="a scored base store to reuse (copied)")
    parser.add_argument("--train-minutes", type=float, default=2.0,
                        help="training budget of the base store's model (default 2)")
    parser.add_argument("--seed", type=int, default=11, help="demo catalogue seed")
    parser.add_argument("--keep", default="", metavar="DIR",
                        help="keep the demo, base and updated stores in DIR")


def settings(train_minutes: float) -> C.Config:
    """The defaults, with a short training (the model's quality is not measured here)
    and no convergence twins (they only cost the base store's build)."""
    d = C.Config()
    return dataclasses.replace(
        d, vae=dataclasses.replace(d.vae, minutes=train_minutes, epochs=50, max_train=30000),
        score=dataclasses.replace(d.score, convergence_check=False))


def _copy_rows(src: Path, dst: Path, start: int, stop: int) -> None:
    from ..incremental import copy_objects

    for a in range(start, stop, _COPY_ROWS):
        copy_objects(src, dst, slice(a, min(stop, a + _COPY_ROWS)))


def _model_digest(path: Path) -> str:
    with Store(path, "r") as st:
        return hashlib.sha256(st.read("vae/model").tobytes()).hexdigest()[:16]


def build_base(work: Path, n: int, new: int, seed: int, cfg: C.Config) -> tuple[Path, Path, dict]:
    """The demo catalogue of n + new objects and a scored store of its first n."""
    from ..pipeline import run_pipeline
    from ..simulate import make_demo

    demo, base = work / "demo.h5", work / "base.h5"
    t0 = time.perf_counter()
    run_quiet(make_demo(str(demo), n + new, seed, overwrite=True, dust=False))
    _copy_rows(demo, base, 0, n)
    t1 = time.perf_counter()
    res = run_quiet(run_pipeline(base, cfg, stages="interpolate,train,encode,score"))
    return demo, base, {"demo_s": round(t1 - t0, 1), "base_pipeline_s": res["seconds"]}


def run(args: argparse.Namespace) -> dict:
    from ..incremental import run_new_only

    n, new = args.n or 100000, args.new
    cfg = settings(args.train_minutes)
    work = Path(args.keep or tempfile.mkdtemp(prefix="pvsvet-bench-incr-"))
    work.mkdir(parents=True, exist_ok=True)
    out: dict = {"n_objects": n, "n_new": new}
    try:
        if args.store:
            from ..simulate import make_demo
            base, demo = Path(args.store), work / "demo-new.h5"
            run_quiet(make_demo(str(demo), new, args.seed + 1, overwrite=True, dust=False))
            with Store(base, "r") as st:
                n = out["n_objects"] = st.shape("interp/mean")[0]
            first = 0
        else:
            demo, base, build = build_base(work, n, new, args.seed, cfg)
            out["build"] = build
            first = n
        store = work / "updated.h5"
        shutil.copyfile(base, store)
        _copy_rows(demo, store, first, first + new)
        model = _model_digest(store)
        t0 = time.perf_counter()
        res = run_quiet(run_new_only(store, cfg))
        out["new_only_s"] = round(time.perf_counter() - t0, 2)
        out["new_only_steps_s"] = res["seconds"]
        out["objects_per_s"] = round(res["new_rows"] / out["new_only_s"], 1)
        out["model_unchanged"] = _model_digest(store) == model
        out["target_s"] = TARGET_S
        out["gui_startup"] = f"pvsvet --bench {store}" if args.keep else "use --keep DIR"
        with Store(store, "r") as st:
            out["scored_rows"] = int(st.shape("scores/cartesian/raw")[0])
        out["store_mb"] = round(store.stat().st_size / 1e6, 1)
        return out
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
