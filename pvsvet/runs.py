"""What the Run menu and the demo bootstrap run: engine stage generators (no Qt).

Each entry of :data:`RUNS` makes a generator factory for a store; the GUI drives it
on a worker thread (:mod:`pvsvet.workers`). Stages go through
``engine.pipeline.run_pipeline`` so that provenance is recorded as on the command
line; the engine modules are imported only when a run starts.
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, Callable

from engine import config as C
from engine.errors import StageError

logger = logging.getLogger(__name__)

#: run key -> (menu text, pipeline stages or None, force)
RUNS: dict[str, tuple[str, tuple[str, ...] | None, bool]] = {
    "interpolate": ("Interpolate", ("interpolate",), True),
    "train": ("Retrain VAE", ("train",), True),
    "encode": ("Encode", ("encode",), True),
    "score": ("Score", ("score",), True),
    "score_labels": ("Score with labels", None, True),
    "context": ("Context", ("context",), True),
    "pipeline": ("Whole pipeline", None, False),
}

#: runs whose stages train or run the VAE (TensorFlow is imported before they start): those
#: that name train or encode, the whole pipeline, and the demo's first start (a pipeline)
VAE_RUNS = frozenset({"demo", "pipeline"} | {key for key, (_, stages, _) in RUNS.items()
                                             if {"train", "encode"} & set(stages or ())})

#: Demo bootstrap: catalogue size and the VAE's wall-clock budget (minutes).
DEMO_OBJECTS = 20000
DEMO_TRAIN_MINUTES = 2.5


def store_config(store_path: Path) -> C.Config:
    """The settings a run on this store uses: the engine's one resolver (the store's
    saved science settings, this machine's machine settings), as on the command line."""
    return C.resolve(store_path).config


def run_factory(key: str, store_path: Path, config: C.Config | None = None) -> Callable[[], Any]:
    """A zero-argument callable that returns the stage generator of run ``key``."""
    if key not in RUNS:
        raise StageError(f"unknown run '{key}' (known: {', '.join(RUNS)})")
    _, stages, force = RUNS[key]

    def factory():
        cfg = config or store_config(store_path)
        if key == "score_labels":
            from engine.anomaly import score
            return score(store_path, cfg.score, use_labels=True)
        from engine.pipeline import run_pipeline
        return run_pipeline(store_path, cfg, stages=list(stages) if stages else None,
                            force=force)

    return factory


def demo_config() -> C.Config:
    """Settings of the first-run demo: a short training budget and offline context (the
    default spaces: the paper's two, and the diagnostic and vetting ones, which find two
    and three times as many of the injected anomalies)."""
    base = C.Config()
    return dataclasses.replace(
        base, vae=dataclasses.replace(base.vae, minutes=DEMO_TRAIN_MINUTES),
        context=dataclasses.replace(base.context, offline=True))


def demo_bootstrap(store_path: Path, n_objects: int = DEMO_OBJECTS, seed: int = 0,
                   config: C.Config | None = None):
    """Build the demo store if needed, then run every stale stage on it.

    A generator of ``Progress``; cancel it with ``close()``. A cancelled catalogue
    build leaves no file; a cancelled stage leaves the finished ones and its work
    cache, so calling this again continues where it stopped.
    """
    from engine.pipeline import run_pipeline

    store_path = Path(store_path)
    if not store_path.exists():
        from engine.simulate import make_demo
        yield from make_demo(store_path, n_objects, seed)
    # saved like a `run --config`: Run > Score and the command line reuse the demo's settings
    return (yield from run_pipeline(store_path, config or demo_config(), save_settings=True))


def demo_is_complete(store_path: Path) -> bool:
    """Whether the demo store exists and every stage of the pipeline is up to date."""
    if not Path(store_path).exists():
        return False
    try:
        from engine.pipeline import plan
        from engine.store import Store

        with Store(store_path, "r") as s:
            if not s.has("scores/cartesian") or not s.has("context"):
                return False
        return not any(st.stale for st in plan(store_path, demo_config()))
    except Exception as exc:  # an unreadable plan means: run the pipeline again
        logger.info("demo store %s incomplete: %s", store_path, exc)
        return False
