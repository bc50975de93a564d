"""The real stages through the pipeline on a small demo catalogue.

One reference run on the local process pool; the same pipeline on a 2-worker dask
LocalCluster must give the same store content; a second run skips everything; a
changed setting reruns that stage and its downstream stages only; cancels at
several points and a real ``kill -9`` of ``pvsvet-engine run`` followed by a rerun
finish the pipeline without redoing finished chunks and with the same results.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine import config as C
from engine import pipeline as P
from engine.executors import DaskExecutor, ProcessExecutor, SerialExecutor
from engine.progress import run_quiet
from engine.store import Store

pytest.importorskip("engine.simulate")

N_OBJECTS = 300
#: datasets compared between runs, with their tolerance (float32 GP and network
#: outputs agree to rounding across processes)
COMPARED = {"interp/mean": 1e-5, "interp/std": 1e-5, "interp/split": 0, "interp/status": 0,
            "vae/mu": 1e-4, "vae/logvar": 1e-4, "scores/cartesian/score": 1e-6,
            "scores/spherical/score": 1e-6, "scores/cartesian/rank": 0}


def small_config(chunk: int = 100) -> C.Config:
    """Settings that run the real stages in seconds (3 GP chunks, 2 epochs, 50 trees)."""
    return C.Config(interp=C.InterpConfig(chunk_size=chunk),
                    vae=C.VAEConfig(epochs=2, minutes=0.0, batch_size=128, patience=5),
                    score=C.ScoreConfig(n_estimators=50, convergence_check=False, top_k=50,
                                        n_jobs=1),
                    context=C.ContextConfig(offline=True, top_n=5, n_normal=2),
                    pipeline=C.PipelineConfig(workers=2))


def _copy(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    return dst


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory) -> Path:
    from engine.simulate import make_demo

    path = tmp_path_factory.mktemp("demo") / "demo.h5"
    run_quiet(make_demo(str(path), N_OBJECTS, 3))
    return path


@pytest.fixture(scope="module")
def reference(demo_store, tmp_path_factory) -> Path:
    """The whole pipeline on the local process pool (the default executor)."""
    path = _copy(demo_store, tmp_path_factory.mktemp("ref") / "ref.h5")
    with ProcessExecutor(2) as ex:
        result = run_quiet(P.run_pipeline(path, small_config(), executor=ex))
    assert result["ran"] == list(P.RUNNABLE)
    return path


def assert_same_content(path: Path, ref: Path) -> None:
    with Store(path, "r") as a, Store(ref, "r") as b:
        for name, tol in COMPARED.items():
            if not b.has(name):
                continue
            x, y = a.read(name), b.read(name)
            if tol:
                np.testing.assert_allclose(x, y, rtol=tol, atol=tol, err_msg=name)
            else:
                np.testing.assert_array_equal(x, y, err_msg=name)


class CountingExecutor(SerialExecutor):
    """The serial executor, counting how often each task key runs (chunks must not be redone)."""

    def __init__(self):
        super().__init__()
        self.counts: dict = {}

    def imap_unordered(self, fn, items):
        for key, arg in items:
            self.counts[key] = self.counts.get(key, 0) + 1
            yield from super().imap_unordered(fn, [(key, arg)])


def test_dask_cluster_gives_the_same_store(reference, demo_store, tmp_path):
    path = _copy(demo_store, tmp_path / "dask.h5")
    with DaskExecutor(local_workers=2) as ex:
        result = run_quiet(P.run_pipeline(path, small_config(), executor=ex))
    assert result["ran"] == list(P.RUNNABLE)
    assert_same_content(path, reference)


def test_second_run_skips_and_changed_setting_reruns_downstream_only(reference, tmp_path):
    path = _copy(reference, tmp_path / "stale.h5")
    again = run_quiet(P.run_pipeline(path, small_config(), executor=SerialExecutor()))
    assert again["ran"] == [] and again["skipped"] == list(P.RUNNABLE)
    cfg = small_config()
    cfg = dataclasses.replace(cfg, score=dataclasses.replace(cfg.score, n_estimators=60))
    changed = run_quiet(P.run_pipeline(path, cfg, executor=SerialExecutor()))
    assert changed["ran"] == ["score", "context"]
    with Store(path, "r") as a, Store(reference, "r") as b:
        np.testing.assert_array_equal(a.read("vae/mu"), b.read("vae/mu"))
        assert not np.array_equal(a.read("scores/cartesian/score"),
                                  b.read("scores/cartesian/score"))


#: (stage, k): close the run at the k-th report of that stage; each point is in a
#: later stage than the one before (or in a restarted one), so together they cut
#: every stage once: mid-GP, mid-epoch, between epochs, mid-encode, mid-forest, mid-context.
CANCEL_POINTS = [("interpolate", 2), ("train", 2), ("train", 4), ("encode", 2), ("score", 3),
                 ("context", 4)]


def test_cancels_at_several_points_then_resume(reference, demo_store, tmp_path):
    """Close the run in every stage in turn, rerun each time; the end result is the reference."""
    path = _copy(demo_store, tmp_path / "cancel.h5")
    ex = CountingExecutor()
    n_chunks = int(np.ceil(N_OBJECTS / small_config().interp.chunk_size))
    for stage, k in CANCEL_POINTS:
        gen = P.run_pipeline(path, small_config(), executor=ex)
        seen = 0
        for p in gen:
            seen += p.stage == stage
            if seen == k:
                break
        gen.close()
        assert seen == k, f"the run finished before report {k} of {stage}"
    result = run_quiet(P.run_pipeline(path, small_config(), executor=ex))
    assert result["ran"] == ["context"]
    assert_same_content(path, reference)
    # every GP chunk was computed exactly once, whatever the interruptions
    assert len(ex.counts) == n_chunks and set(ex.counts.values()) == {1}
    with Store(path, "r") as s:
        records = [(r["stage"], r["status"]) for r in s.runs()]
    assert [st for st, status in records if status == "cancelled"] == [
        stage for stage, _ in CANCEL_POINTS]
    assert {st for st, status in records if status == "ok"} >= set(P.RUNNABLE)


def _gp_chunks_cached(path: Path) -> int:
    work = Path(str(path) + ".work")
    return len(list(work.glob("interpolate-*/chunk_*.npz"))) if work.exists() else 0


def _start_and_kill(path: Path, toml: Path, delay: float) -> tuple[bool, set[int]]:
    """Start ``pvsvet-engine run`` (2 pool workers), SIGKILL it after ``delay`` s.

    Returns whether it was still running when killed, and the pids of its children.
    """
    import psutil

    cmd = [sys.executable, "-m", "engine", "run", str(path), "--config", str(toml),
           "--workers", "2", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(Path(P.__file__).parents[1])})
    deadline = time.monotonic() + delay
    workers: set[int] = set()
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            workers |= {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    return proc.wait() == -signal.SIGKILL, workers


def test_kill_9_during_run_then_rerun_completes(reference, demo_store, tmp_path):
    """A real SIGKILL of ``pvsvet-engine run`` at a random moment, then a rerun."""
    toml = tmp_path / "small.toml"
    toml.write_text(C.dumps(small_config()))
    delay = random.Random().uniform(2.0, 10.0)
    for attempt in range(4):   # a quiet machine may finish first: kill sooner then
        path = _copy(demo_store, tmp_path / f"killed{attempt}.h5")
        killed, workers = _start_and_kill(path, toml, delay)
        assert _reap(workers) == [], "pool workers outlived the killed driver"
        if killed:
            break
        delay /= 2
    assert killed, "the run always finished before the kill"
    cached = _gp_chunks_cached(path)
    ex = CountingExecutor()
    result = run_quiet(P.run_pipeline(path, small_config(), executor=ex))
    assert_same_content(path, reference)
    if "interpolate" in result["ran"]:   # killed during the GP: only missing chunks ran
        n_chunks = int(np.ceil(N_OBJECTS / small_config().interp.chunk_size))
        assert len(ex.counts) == n_chunks - cached
    with Store(path, "r") as s:
        assert {r["stage"] for r in s.runs() if r["status"] == "ok"} >= set(P.RUNNABLE)


def _reap(pids: set[int], wait: float = 5.0) -> list[int]:
    """Wait for the killed run's pool workers to exit on their own (they watch their
    parent); kill (by pid) any still alive so the test leaves nothing behind; return those."""
    import psutil

    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            procs.append(psutil.Process(pid))
    _, alive = psutil.wait_procs(procs, timeout=wait)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    return [p.pid for p in alive]
