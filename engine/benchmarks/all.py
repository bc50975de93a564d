"""The whole pipeline at N objects: wall time, peak memory and throughput per stage.

``pvsvet-engine bench all --n 730000 --json`` builds the demo catalogue at N objects
and runs every stage through :func:`engine.pipeline.run_pipeline` (the VAE trained
on ``--train-subset`` objects within ``--minutes``). A thread samples the resident
memory of the driver and all its child processes (pool or dask workers) every
0.2 s; the peak is kept per stage. Then, at ``--scaling-n`` objects, interpolation
and encoding run with 1 and 2 local worker processes (and a 2-worker dask
LocalCluster with ``--scaling-dask``) and encoding with 1 and 2 TensorFlow threads
(it runs in the driver; TensorFlow spreads each batch over the cores) to show how
their throughput scales.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .. import config as C


def configure(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(n=None)
    parser.add_argument("--train-subset", type=int, default=20000,
                        help="objects the VAE trains on (VAEConfig.max_train)")
    parser.add_argument("--minutes", type=float, default=5.0,
                        help="VAE training budget, minutes of wall clock")
    parser.add_argument("--epochs", type=int, default=2000, help="VAE epoch cap")
    parser.add_argument("--trees", type=int, default=5000, help="isolation-forest trees")
    parser.add_argument("--workers", type=int, default=2, help="local worker processes")
    parser.add_argument("--dask-local", type=int, default=0,
                        help="run chunked stages on a dask LocalCluster of this many workers")
    parser.add_argument("--scaling-n", type=int, default=2000,
                        help="objects for the worker-scaling runs (0: skip them)")
    parser.add_argument("--scaling-dask", action="store_true",
                        help="also time the scaling runs on a 2-worker dask LocalCluster")
    parser.add_argument("--target-n", type=int, default=730000,
                        help="catalogue size to extrapolate the measured throughput to")
    parser.add_argument("--workdir", default="", help="keep the stores here (default: a "
                                                      "temporary directory, removed)")
    parser.add_argument("--seed", type=int, default=1)


class MemorySampler:
    """Peak resident memory (bytes) of this process and its children, per phase.

    Parameters
    ----------
    interval : float, seconds between samples
    """

    def __init__(self, interval: float = 0.2):
        import psutil

        self._proc = psutil.Process(os.getpid())
        self.interval = interval
        self.phase = "setup"
        self.peaks: dict[str, dict[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="rss-sampler")

    def sample(self) -> tuple[int, int]:
        """(driver RSS, RSS of all child processes) in bytes."""
        import psutil

        driver = self._proc.memory_info().rss
        children = 0
        for child in self._proc.children(recursive=True):
            try:
                children += child.memory_info().rss
            except psutil.Error:  # exited between listing and reading
                pass
        return driver, children

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.record()
            self._stop.wait(self.interval)

    def record(self) -> None:
        driver, children = self.sample()
        peak = self.peaks.setdefault(self.phase, {"driver": 0, "workers": 0, "total": 0})
        peak["driver"] = max(peak["driver"], driver)
        peak["workers"] = max(peak["workers"], children)
        peak["total"] = max(peak["total"], driver + children)

    def set_phase(self, phase: str) -> None:
        self.record()
        self.phase = phase
        self.record()

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def peaks_mb(self) -> dict[str, dict[str, float]]:
        return {ph: {k: round(v / 2**20, 1) for k, v in p.items()} for ph, p in self.peaks.items()}


def _drive(gen, sampler: MemorySampler | None = None) -> Any:
    """Run a generator, switching the sampler's phase at each pipeline stage start."""
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            return stop.value
        if sampler is not None and p.stage == "pipeline" and ":" in p.message:
            sampler.set_phase(p.message.split(":")[0])


def bench_config(args: argparse.Namespace, n: int) -> C.Config:
    """The settings of the end-to-end run (paper defaults except the budget and subset)."""
    return C.Config(
        interp=C.InterpConfig(workers=args.workers),
        vae=C.VAEConfig(max_train=min(args.train_subset, n), minutes=args.minutes,
                        epochs=args.epochs),
        score=C.ScoreConfig(n_estimators=args.trees),
        context=C.ContextConfig(offline=True),
        pipeline=C.PipelineConfig(workers=args.workers, dask_local=args.dask_local))


def make_store(path: Path, n: int, seed: int) -> float:
    """Build the demo catalogue; return its wall time in seconds."""
    from ..simulate import make_demo

    t0 = time.perf_counter()
    _drive(make_demo(str(path), n, seed))
    return time.perf_counter() - t0


def end_to_end(args: argparse.Namespace, workdir: Path, n: int) -> dict[str, Any]:
    """Demo catalogue + the whole pipeline at ``n`` objects, with memory per stage."""
    from ..pipeline import run_pipeline

    store = workdir / f"bench_all_{n}.h5"
    cfg = bench_config(args, n)
    with MemorySampler() as sampler:
        sampler.set_phase("demo")
        demo_s = make_store(store, n, args.seed)
        result = _drive(run_pipeline(str(store), cfg), sampler)
        sampler.set_phase("end")
    seconds = {"demo": round(demo_s, 2), **result["seconds"]}
    mem = sampler.peaks_mb()
    stages = {}
    for name, s in seconds.items():
        row: dict[str, Any] = {"wall_s": round(s, 2), "peak_rss_mb": mem.get(name, {})}
        if name != "train":
            row["objects_per_s"] = round(n / s, 1) if s > 0 else None
        stages[name] = row
    for name, res in result["results"].items():
        if isinstance(res, dict):   # the stage's own figures (rates, CPU time, epochs ...)
            stages[name]["result"] = {k: v for k, v in res.items()
                                      if isinstance(v, (int, float, str, bool)) or k == "timing"}
    return {"n": n, "config": C.to_dict(cfg), "stages": stages,
            "total_pipeline_s": round(sum(result["seconds"].values()), 2)}


def extrapolate(e2e: dict[str, Any], target: int) -> dict[str, Any]:
    """Linear extrapolation of the per-object stages to ``target`` objects (not measured).

    Interpolation, encoding and forest scoring are linear in N (per-object work,
    fixed forest); training has a fixed budget and subset; context works on the
    top objects only, so its time does not grow with N.
    """
    n = e2e["n"]
    out = {}
    for name, row in e2e["stages"].items():
        scale = 1.0 if name in ("train", "context") else target / n
        out[name] = round(row["wall_s"] * scale, 1)
    total = sum(v for k, v in out.items() if k != "demo")
    return {"target_n": target, "measured_n": n,
            "method": "extrapolated, not measured: wall time linear in N from the measured run "
                      "(an upper bound: start-up costs are scaled too); train (fixed budget and "
                      "subset) and context (top objects only) held fixed",
            "stage_s": out, "pipeline_s": round(total, 1), "pipeline_h": round(total / 3600, 2)}


def _timed_stage(store: Path, cfg: C.Config, stage: str, executor) -> float:
    from ..pipeline import run_pipeline

    t0 = time.perf_counter()
    _drive(run_pipeline(str(store), cfg, stages=[stage], executor=executor, force=True))
    return time.perf_counter() - t0


def _encode_seconds(store: Path, toml: Path, threads: int) -> float:
    """Encoding wall time with ``threads`` TensorFlow threads, in a fresh process.

    TensorFlow fixes its thread pools when it starts, so each setting needs its own
    process; the figure is the stage's own time (not the process start).
    """
    env = {**os.environ, "PVSVET_TF_THREADS": str(threads), "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable, "-m", "engine", "run", str(store), "--stages", "encode", "--force",
           "--config", str(toml), "--json", "-q"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout)["seconds"]["encode"])


def scaling(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Throughput of interpolation (1, 2 worker processes; optionally 2 dask workers) and
    of encoding (1, 2 TensorFlow threads) at ``--scaling-n`` objects."""
    from ..executors import DaskExecutor, ProcessExecutor
    from ..pipeline import run_pipeline

    n = args.scaling_n
    store = workdir / f"bench_scaling_{n}.h5"
    make_store(store, n, args.seed)
    cfg = bench_config(args, n)
    cfg = dataclasses.replace(cfg, vae=dataclasses.replace(cfg.vae, epochs=1, minutes=0.0))
    _drive(run_pipeline(str(store), cfg, stages=["interpolate", "train"]))
    setups = [("processes", w, lambda w=w: ProcessExecutor(w)) for w in (1, 2)]
    if args.scaling_dask:
        setups.append(("dask", 2, lambda: DaskExecutor(local_workers=2)))
    out: dict[str, Any] = {"n": n, "interpolate": {}, "encode": {}}
    for kind, workers, make in setups:
        executor = make()
        try:
            # includes the workers' start and imports (about a second; the same for all)
            s = _timed_stage(store, cfg, "interpolate", executor)
        finally:
            executor.close()
        out["interpolate"][f"{kind}_{workers}"] = {"wall_s": round(s, 2),
                                                   "objects_per_s": round(n / s, 1)}
    toml = workdir / "bench_scaling.toml"
    toml.write_text(C.dumps(cfg))
    for threads in (1, 2):
        s = _encode_seconds(store, toml, threads)
        out["encode"][f"tf_threads_{threads}"] = {"wall_s": round(s, 2),
                                                  "objects_per_s": round(n / s, 1)}
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    n = args.n or 20000
    with tempfile.TemporaryDirectory(prefix="pvsvet-bench-") as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        e2e = end_to_end(args, workdir, n)
        out = {"end_to_end": e2e}
        if n != args.target_n:
            out["extrapolated"] = extrapolate(e2e, args.target_n)
        if args.scaling_n:
            out["worker_scaling"] = scaling(args, workdir)
    return out
