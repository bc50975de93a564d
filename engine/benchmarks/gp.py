"""GP interpolation: fast path light curves/s, george reference light curves/s, and parity.

Light curves come from the synthetic ZTF-like demo catalogue (``engine.simulate``: the 11
Chen classes, ZTF cadence and errors). The fast path runs as the real stage on a
temporary store; george runs on the first ``--n-george`` objects with the same worker
count; parity is the RMS difference of the 2x160 scaled mean curves per object.
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n-george", type=int, default=100, help="objects fitted with george")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--seed", type=int, default=1, help="demo catalogue seed")
    parser.add_argument("--store", default="", help="use this store instead of a new demo")


def _demo(path: Path, n: int, seed: int) -> None:
    from engine.progress import run_quiet
    from engine.simulate import make_demo

    run_quiet(make_demo(path, n, seed=seed, dust=False))


def _george(store_path, cfg, n: int, executor) -> tuple[dict, float]:
    from engine.gp.chunk import pack, run_piece
    from engine.store import Store

    with Store(store_path, "r") as store:
        objs = store.read_objects(["id", "period", "status"], rows=slice(0, n))
        lcs = store.lightcurves(0, n)
    step = 2
    tasks = ((s, pack(s, lcs[s:s + step], objs["period"][s:s + step], objs["status"][s:s + step],
                      objs["id"][s:s + step], cfg)) for s in range(0, len(lcs), step))
    t0 = time.perf_counter()
    parts = dict(executor.imap_unordered(run_piece, tasks))
    wall = time.perf_counter() - t0
    keys = sorted(parts)
    return {k: np.concatenate([parts[s][k] for s in keys]) for k in ("mean", "status")}, wall


def parity(fast_mean: np.ndarray, ref_mean: np.ndarray) -> np.ndarray:
    """RMS difference per object of (m, 2, n_phase) scaled curves."""
    return np.sqrt(np.mean((fast_mean - ref_mean) ** 2, axis=(1, 2)))


def run(args: argparse.Namespace) -> dict:
    from engine.config import InterpConfig
    from engine.executors import make_executor
    from engine.gp import interpolate
    from engine.progress import run_quiet
    from engine.schema import NOT_FOR_TRAINING
    from engine.store import Store

    n = args.n or 2000
    with tempfile.TemporaryDirectory() as tmp:
        store_path = Path(args.store) if args.store else Path(tmp) / "bench.h5"
        if not args.store:
            _demo(store_path, n, args.seed)
        cfg = InterpConfig(workers=args.workers)
        executor = make_executor(args.workers)
        try:
            # start the worker processes before the clock (spawn costs ~1 s, paid once)
            list(executor.imap_unordered(abs, ((i, -i) for i in range(2 * args.workers))))
            t0 = time.perf_counter()
            fast = run_quiet(interpolate(store_path, cfg, executor))
            fast_wall = time.perf_counter() - t0
            with Store(store_path, "r") as store:
                n = store.n_objects
                ng = min(args.n_george, n)
                fmean = store.read("interp/mean")[:ng]
                fstat = store.read("interp/status")[:ng]
            gcfg = dataclasses.replace(cfg, method="george")
            ref, g_wall = _george(store_path, gcfg, ng, executor) if ng else ({}, 0.0)
        finally:
            executor.close()
    out = {"n": n, "workers": args.workers, "fast_lc_per_s": round(n / fast_wall, 1),
           "fast_wall_s": round(fast_wall, 2), "fast_worker_wall_ms_per_lc": round(1e3 * fast["fit_seconds"] / n, 2),
           "fast_cpu_ms_per_lc": round(1e3 * fast["fit_cpu_seconds"] / n, 2),
           "fast_lc_per_s_from_cpu": round(args.workers * n / fast["fit_cpu_seconds"], 1),
           "fast_failed": fast["n_failed"], "fast_unphysical": fast["n_unphysical"],
           "n_george": ng}
    if ng:
        fast_out = (fstat & int(NOT_FOR_TRAINING)) != 0       # kept out of the split
        george_out = (ref["status"] & int(NOT_FOR_TRAINING)) != 0
        both = ~fast_out & ~george_out
        rms = parity(fmean[both].astype(float), ref["mean"][both].astype(float))
        out.update({"george_lc_per_s": round(ng / g_wall, 3), "george_s_per_lc_per_worker":
                    round(g_wall * args.workers / ng, 3), "speedup": round(n / fast_wall * g_wall / ng, 1),
                    "parity_n": int(both.sum()),
                    "parity_excluded_fast_only": int((fast_out & ~george_out).sum()),
                    "parity_excluded_george_only": int((~fast_out & george_out).sum()),
                    "parity_rms_median": round(float(np.median(rms)), 4) if len(rms) else None,
                    "parity_rms_p95": round(float(np.percentile(rms, 95)), 4) if len(rms) else None,
                    "parity_within_0.1": round(float(np.mean(rms <= 0.1)), 4) if len(rms) else None})
    return out
