"""Staleness, resume and ``pvsvet-engine run``: the stale stages in graph order.

The stage graph (:data:`GRAPH`), the provenance records and what makes a stage stale
live in :mod:`engine.provenance`, the one authority that the standalone stage
commands use too: a stage run on its own is fresh for a later ``run``, and the other
way round. A stage records its own run; the pipeline records one for a stage that
did not (and the failures and cancels).

A stage that only some settings read (``foldstats``, read by the diagnostic and
vetting spaces) is skipped when no stage reads it with the settings of the run.

Resume: a killed or cancelled ``run`` leaves finished stages recorded and finished
chunks in the work cache (:mod:`engine.workcache`); running it again skips the
former and reuses the latter.
"""
from __future__ import annotations

import importlib
import inspect
import logging
import time
from typing import Any

from . import config as C
from . import provenance as prov
from .errors import PvsvetError, StageError
from .progress import Progress, StageGen
from .provenance import GRAPH, ORDER, RUNNABLE, StageSpec, StageState  # noqa: F401 (API)
from .store import Store, utc_now
from .workcache import locked_stage

logger = logging.getLogger(__name__)


def check_stage(store: Store, name: str, config: C.Config) -> StageState:
    """Staleness of one stage against the store as it is now (:func:`provenance.check`)."""
    if not _needed(name, config):
        return StageState(name, False, "not read by any stage with these settings")
    return prov.check(store, name, prov.settings_of(config, name))


def _needed(name: str, config: C.Config) -> bool:
    """An on-demand stage is needed when some stage reads it with these settings."""
    return not GRAPH[name].on_demand or any(
        name in s.inputs_for(prov.settings_of(config, s.name)) for s in GRAPH.values())


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
            needed = name != "ingest" and _needed(name, config)
            rerun = [u for u in GRAPH[name].inputs_for(prov.settings_of(config, name))
                     if u in will_run]
            if needed and not st.stale and rerun:
                st = StageState(name, True, f"input will change: {', '.join(rerun)} reruns")
            if needed and (st.stale or force):
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
    return fn(store_path, prov.settings_of(config, name), **kwargs)


def _require_inputs(store: Store, name: str, config: C.Config) -> None:
    for u in GRAPH[name].inputs_for(prov.settings_of(config, name)):
        if GRAPH[u].on_demand:     # its reader makes it when missing (score: foldstats)
            continue
        if u == "ingest":
            if store.n_objects == 0:
                raise StageError(f"{store.path}: no objects; make a catalogue first "
                                 "(pvsvet-engine demo or ingest)")
            continue
        spec = GRAPH[u]
        missing = [p for p in spec.outputs(prov.settings_of(config, u)) if not store.has(p)]
        if missing:
            raise StageError(f"{store.path}: {name} needs the output of {u} (/{missing[0]} "
                             f"is missing); run {u} first (add it to --stages)")


def _record(store_path, name: str, config: C.Config, status: str,
            runs_before: int | None = None, **extra: Any) -> None:
    """Record a run (:func:`provenance.record`), unless the stage recorded it itself.

    ``runs_before`` is the number of records before the stage started: a successful
    record of the stage at or after that position is its own (the store lock keeps
    other writers out).
    """
    with Store(store_path, "a") as store:
        if status == "ok" and runs_before is not None:
            pos, rec = prov.last_ok(store, name)
            if rec is not None and pos >= runs_before:
                return
        prov.record(store, name, prov.settings_of(config, name), status, via="pipeline",
                    **extra)


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
                runs = name != "ingest" and _needed(name, config) and (state.stale or force)
                if runs:
                    _require_inputs(store, name, config)
                runs_before = len(store.runs())
            if not runs:
                out["skipped"].append(name)
                yield Progress("pipeline", i, len(names), f"{name}: {state.reason}, skipped",
                               "stage")
                continue
            why = "forced" if force and not state.stale else f"stale ({state.reason})"
            yield Progress("pipeline", i, len(names), f"{name}: {why}", "stage")
            t0, started = time.perf_counter(), utc_now()
            result = yield from _run_one(store_path, name, config, lazy, force)
            seconds = round(time.perf_counter() - t0, 3)
            _record(store_path, name, config, "ok", runs_before, seconds=seconds,
                    started=started)
            out["ran"].append(name)
            out["seconds"][name] = seconds
            out["results"][name] = result
        yield Progress("pipeline", len(names), len(names), "done", "stage")
        return out
    finally:
        lazy.close()


def _run_one(store_path, name: str, config: C.Config, lazy: _LazyExecutor,
             force: bool = False) -> StageGen:
    """One stage; a failure is recorded and re-raised as a one-line StageError."""
    executor = lazy.get() if GRAPH[name].takes_executor else None
    try:
        return (yield from _stage_generator(name, store_path, config, executor, force))
    except GeneratorExit:
        _try_record(store_path, name, config, "cancelled")
        raise
    except PvsvetError as exc:
        _try_record(store_path, name, config, "failed", error=str(exc))
        raise
    except Exception as exc:
        logger.exception("stage %s failed", name)
        _try_record(store_path, name, config, "failed",
                    error=f"{type(exc).__name__}: {exc}")
        raise StageError(f"{store_path}: stage {name} failed: {type(exc).__name__}: {exc}") \
            from exc


def _try_record(store_path, name: str, config: C.Config, status: str, **extra: Any) -> None:
    try:
        _record(store_path, name, config, status, **extra)
    except Exception as exc:  # never hide the original failure behind a bookkeeping one
        logger.warning("could not record %s run of %s: %s", status, name, exc)
