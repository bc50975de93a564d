"""The stage graph, staleness, resume and ``pvsvet-engine run``.

Stages and what they read and write (``/objects`` and ``/lightcurves`` come from
``demo`` or ``ingest``, the source of the graph)::

    ingest -> interpolate -> train -> encode -> score -> context
                   \\________________/       /
    ingest ________________________________/   (score reads periods and colours)

A stage is **stale** when one of its output groups is missing, when it has no
successful run record, when its settings hash changed, or when its input hash
changed. The input hash is made of the *fingerprints* of its upstream stages: for
the ingest source a hash of the object ids, periods, flags and light-curve offsets;
for a stage, its last successful run record (position in ``/runs``, hashes, time),
so any rerun of an upstream stage makes its downstream stages stale.

How every stage computes its hashes lives here, in :func:`stage_record`; the
pipeline records each run itself after the stage returns, unless the stage already
recorded one with the same hashes. A stage may (and standalone CLI commands should)
record its own run with ``store.record_run(name, "ok", **stage_record(store, name, cfg))``
so that a later ``run`` knows it is fresh.

Resume: a killed or cancelled ``run`` leaves finished stages recorded and finished
chunks in the work cache (:mod:`engine.workcache`); running it again skips the
former and reuses the latter.
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import config as C
from .errors import PvsvetError, StageError
from .progress import Progress, StageGen
from .store import Store, utc_now
from .workcache import locked_stage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageSpec:
    """One node of the stage graph.

    Parameters
    ----------
    name : stage name
    section : the :class:`~engine.config.Config` attribute holding its settings
    inputs : upstream stages whose outputs it reads
    outputs : store paths it writes, as a function of its settings
    runner : ``"module:function"`` of the stage generator; empty for the source
    takes_executor : whether the stage distributes chunks over an executor
    ignore : settings that change speed, not results (not part of the hash)
    only : if given, the only settings that are part of the hash (the others act
        through the inputs, e.g. the network's architecture through the model)
    """

    name: str
    section: str
    inputs: tuple[str, ...]
    outputs: Callable[[Any], tuple[str, ...]]
    runner: str = ""
    takes_executor: bool = False
    ignore: tuple[str, ...] = ()
    only: tuple[str, ...] = ()


def _fixed(*paths: str) -> Callable[[Any], tuple[str, ...]]:
    return lambda cfg: paths


GRAPH: dict[str, StageSpec] = {s.name: s for s in (
    StageSpec("ingest", "ingest", (), _fixed("objects", "lightcurves")),
    StageSpec("interpolate", "interp", ("ingest",), _fixed("interp/mean"),
              "engine.gp:interpolate", True, ignore=("workers", "chunk_size", "batch_size")),
    StageSpec("train", "vae", ("interpolate",), _fixed("vae/model"),
              "engine.vae:train", ignore=("n_decode", "encode_batch")),
    StageSpec("encode", "vae", ("interpolate", "train"), _fixed("vae/mu"),
              "engine.vae:encode", True, only=("n_decode", "seed")),
    StageSpec("score", "score", ("ingest", "encode"),
              lambda cfg: tuple(f"scores/{s}/score" for s in cfg.spaces),
              "engine.anomaly:score", ignore=("n_jobs", "block", "aad_*")),
    StageSpec("context", "context", ("score",), _fixed("context"),
              "engine.context:run_context",
              ignore=("timeout_s", "retries", "backoff_s", "rate_per_s", "cache_dir",
                      "max_consecutive_failures", "max_query_s")),
)}
ORDER: tuple[str, ...] = tuple(GRAPH)
RUNNABLE: tuple[str, ...] = ORDER[1:]


# -- hashes ---------------------------------------------------------------------
def settings_hash(name: str, stage_cfg: Any) -> str:
    """Hash of the settings of stage ``name`` that change its result."""
    spec = GRAPH[name]
    values = C.to_dict(stage_cfg)
    keep = spec.only or [k for k in values if not _ignored(k, spec.ignore)]
    blob = repr(sorted((k, values[k]) for k in keep)).encode()
    return hashlib.sha256(name.encode() + b"|" + blob).hexdigest()[:16]


def _ignored(key: str, patterns: tuple[str, ...]) -> bool:
    return any(key == p or (p.endswith("*") and key.startswith(p[:-1])) for p in patterns)


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for arr in arrays:
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:16]


def _last_ok(store: Store, name: str) -> tuple[int, dict | None]:
    """(position in /runs, record) of the last successful run of ``name``."""
    best = (-1, None)
    for i, rec in enumerate(store.runs()):
        if rec.get("stage") == name and rec.get("status") == "ok":
            best = (i, rec)
    return best


def fingerprint(store: Store, name: str) -> str:
    """What identifies the current output of stage ``name`` (see module docs)."""
    if name == "ingest":
        cols = store.read_objects(["id", "period", "status"], decode=False)
        return _digest(np.int64(store.n_objects), cols["id"], cols["period"], cols["status"],
                       store.read("lightcurves/offsets"))
    pos, rec = _last_ok(store, name)
    if rec is None:
        return "none"
    return hashlib.sha256(f"{pos}|{rec.get('config_hash')}|{rec.get('input_hash')}|"
                          f"{rec.get('finished')}".encode()).hexdigest()[:16]


def stage_record(store: Store, name: str, stage_cfg: Any) -> dict[str, Any]:
    """The hashes to pass to ``store.record_run(name, "ok", **stage_record(...))``.

    Parameters
    ----------
    store : the open store (read or write)
    name : stage name
    stage_cfg : the stage's settings (e.g. an :class:`~engine.config.InterpConfig`)
    """
    inputs = {u: fingerprint(store, u) for u in GRAPH[name].inputs}
    input_hash = hashlib.sha256(repr(sorted(inputs.items())).encode()).hexdigest()[:16]
    return {"config_hash": settings_hash(name, stage_cfg), "input_hash": input_hash,
            "inputs": inputs}


# -- staleness ------------------------------------------------------------------
@dataclass
class StageState:
    """Whether a stage must run, and why."""

    name: str
    stale: bool
    reason: str
    record: dict[str, Any] = field(default_factory=dict)


def check_stage(store: Store, name: str, config: C.Config) -> StageState:
    """Staleness of one stage against the store as it is now."""
    spec = GRAPH[name]
    stage_cfg = getattr(config, spec.section)
    if name == "ingest":
        n = store.n_objects
        return StageState(name, False, f"{n} objects" if n else "no objects")
    want = stage_record(store, name, stage_cfg)
    missing = [p for p in spec.outputs(stage_cfg) if not store.has(p)]
    _, rec = _last_ok(store, name)
    if rec is None:
        return StageState(name, True, "never run", want)
    if missing:
        return StageState(name, True, f"output /{missing[0]} missing", want)
    if rec.get("config_hash") != want["config_hash"]:
        return StageState(name, True, "settings changed", want)
    if rec.get("input_hash") != want["input_hash"]:
        old = rec.get("inputs") or {}
        changed = [u for u, fp in want["inputs"].items() if old.get(u) != fp]
        return StageState(name, True, f"input changed: {', '.join(changed) or 'upstream'} "
                                      "reran", want)
    return StageState(name, False, "up to date", want)


def plan(store_path, config: C.Config | None = None, stages=None,
         force: bool = False) -> list[StageState]:
    """What ``run`` would do now: each selected stage, stale or not and why.

    A selected stage downstream of one that will run is stale too (its input will
    change when that one reruns).
    """
    config = config or C.Config()
    names = select_stages(stages)
    out: list[StageState] = []
    will_run: set[str] = set()
    with Store(store_path, "r") as store:
        for name in ORDER:
            if name not in names:
                continue
            st = check_stage(store, name, config)
            rerun = [u for u in GRAPH[name].inputs if u in will_run]
            if not st.stale and rerun:
                st = StageState(name, True, f"input will change: {', '.join(rerun)} reruns")
            if name != "ingest" and (st.stale or force):
                will_run.add(name)
            out.append(st)
    return out


def select_stages(stages: list[str] | str | None) -> list[str]:
    """Validate stage names (a list or a comma-separated string); return them in graph order."""
    if stages is None:
        return list(RUNNABLE)
    if isinstance(stages, str):
        stages = [s.strip() for s in stages.split(",") if s.strip()]
    unknown = [s for s in stages if s not in GRAPH]
    if unknown:
        raise StageError(f"unknown stage '{unknown[0]}' (stages: {', '.join(ORDER)})")
    return [s for s in ORDER if s in stages]


# -- running --------------------------------------------------------------------
def _stage_generator(name: str, store_path, config: C.Config, executor,
                     force: bool = False) -> StageGen:
    spec = GRAPH[name]
    modname, func = spec.runner.split(":")
    try:
        fn = getattr(importlib.import_module(modname), func)
    except (ModuleNotFoundError, AttributeError) as exc:
        raise StageError(f"stage {name} is not available in this installation "
                         f"({spec.runner}: {exc})") from exc
    kwargs = {"executor": executor} if spec.takes_executor else {}
    if force and "force" in inspect.signature(fn).parameters:
        kwargs["force"] = True   # stages with their own up-to-date check (score) obey --force
    return fn(store_path, getattr(config, spec.section), **kwargs)


def _require_inputs(store: Store, name: str, config: C.Config) -> None:
    for u in GRAPH[name].inputs:
        if u == "ingest":
            if store.n_objects == 0:
                raise StageError(f"{store.path}: no objects; make a catalogue first "
                                 "(pvsvet-engine demo or ingest)")
            continue
        spec = GRAPH[u]
        missing = [p for p in spec.outputs(getattr(config, spec.section)) if not store.has(p)]
        if missing:
            raise StageError(f"{store.path}: {name} needs the output of {u} (/{missing[0]} "
                             f"is missing); run {u} first (add it to --stages)")


def _record(store_path, name: str, state: StageState, status: str,
            runs_before: int | None = None, **extra: Any) -> None:
    """Record a run, unless the stage recorded this very run itself with the same hashes.

    ``runs_before`` is the number of records before the stage started: a matching
    record at or after that position is the stage's own.
    """
    with Store(store_path, "a") as store:
        if status == "ok" and runs_before is not None:
            pos, rec = _last_ok(store, name)
            if (rec is not None and pos >= runs_before
                    and rec.get("config_hash") == state.record["config_hash"]
                    and rec.get("input_hash") == state.record["input_hash"]):
                return
        store.record_run(name, status, via="pipeline", **state.record, **extra)


class _LazyExecutor:
    """Start the executor only when a distributed stage actually runs."""

    def __init__(self, given, pcfg: C.PipelineConfig):
        self.given, self.pcfg, self.made = given, pcfg, None

    def get(self):
        if self.given is not None:
            return self.given
        if self.made is None:
            from .executors import make_executor
            self.made = make_executor(self.pcfg.workers, self.pcfg.scheduler, self.pcfg.dask_local)
        return self.made

    def close(self) -> None:
        if self.made is not None:
            self.made.close()
            self.made = None


@locked_stage("run")
def run_pipeline(store_path, config: C.Config | None = None, stages=None, executor=None,
                 force: bool = False, save_settings: bool = False) -> StageGen:
    """Run the stale stages in graph order, yielding their :class:`Progress`.

    Parameters
    ----------
    store_path : path of the store
    config : all settings (defaults if None)
    stages : stage names to consider (list or comma-separated); default all runnable
    executor : where chunked stages run; default from ``config.pipeline`` (started
        only when needed and closed at the end)
    force : run the selected stages even when they are up to date
    save_settings : first keep ``config``'s science settings in the store (``run
        --config``, the demo), under the same lock as the stages

    Returns (as the generator's value) a dict: ``ran``, ``skipped`` (stage lists),
    ``seconds`` (wall time per stage that ran) and ``results`` (the stages' returns).
    """
    config = config or C.Config()
    names = select_stages(stages)
    if save_settings:
        C.save(store_path, config)
    lazy = _LazyExecutor(executor, config.pipeline)
    out: dict[str, Any] = {"ran": [], "skipped": [], "seconds": {}, "results": {}}
    try:
        for i, name in enumerate(names):
            with Store(store_path, "r") as store:
                state = check_stage(store, name, config)
                if name != "ingest" and (state.stale or force):
                    _require_inputs(store, name, config)
                runs_before = len(store.runs())
            if name == "ingest" or not (state.stale or force):
                out["skipped"].append(name)
                yield Progress("pipeline", i, len(names), f"{name}: {state.reason}, skipped",
                               "stage")
                continue
            why = "forced" if force and not state.stale else f"stale ({state.reason})"
            yield Progress("pipeline", i, len(names), f"{name}: {why}", "stage")
            t0, started = time.perf_counter(), utc_now()
            result = yield from _run_one(store_path, name, config, lazy, state, force)
            seconds = round(time.perf_counter() - t0, 3)
            _record(store_path, name, state, "ok", runs_before, seconds=seconds, started=started)
            out["ran"].append(name)
            out["seconds"][name] = seconds
            out["results"][name] = result
        yield Progress("pipeline", len(names), len(names), "done", "stage")
        return out
    finally:
        lazy.close()


def _run_one(store_path, name: str, config: C.Config, lazy: _LazyExecutor,
             state: StageState, force: bool = False) -> StageGen:
    """One stage; a failure is recorded and re-raised as a one-line StageError."""
    executor = lazy.get() if GRAPH[name].takes_executor else None
    try:
        return (yield from _stage_generator(name, store_path, config, executor, force))
    except GeneratorExit:
        _try_record(store_path, name, state, "cancelled")
        raise
    except PvsvetError as exc:
        _try_record(store_path, name, state, "failed", error=str(exc))
        raise
    except Exception as exc:
        logger.exception("stage %s failed", name)
        _try_record(store_path, name, state, "failed", error=f"{type(exc).__name__}: {exc}")
        raise StageError(f"{store_path}: stage {name} failed: {type(exc).__name__}: {exc}") \
            from exc


def _try_record(store_path, name: str, state: StageState, status: str, **extra: Any) -> None:
    try:
        _record(store_path, name, state, status, **extra)
    except Exception as exc:  # never hide the original failure behind a bookkeeping one
        logger.warning("could not record %s run of %s: %s", status, name, exc)
