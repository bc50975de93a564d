"""The one provenance authority: what each stage computes from, and whether it is up to date.

Stages and what they read and write (``/objects`` and ``/lightcurves`` come from
``demo`` or ``ingest``, the source of the graph)::

    ingest -> interpolate -> train -> encode -> score -> context
      |          |     |                ^        ^
      |          |     +----------------+        |   (encode reads the curves too)
      |          +--> foldstats -----------------+   (for the demotion and some spaces)
      +------------------------------------------+   (score reads periods and colours)

Every stage, run standalone (``pvsvet-engine interpolate``, ``train``, ...) or from
``pvsvet-engine run``, records what it computed from with :func:`record` and asks
whether it must run with :func:`check`; nothing else decides. A record holds

* ``config_hash``: :func:`settings_hash`, the stage's *science* settings (those that
  change its result; machine settings, :data:`engine.config.MACHINE`, and those that
  change only speed, :attr:`StageSpec.ignore`, are left out, so ``workers``,
  ``n_jobs``, ``block``, ``encode_batch`` ... never make a stage stale);
* ``inputs`` and their hash ``input_hash``: the :func:`fingerprint` of each upstream
  stage it read;
* ``code_version`` (added by :meth:`engine.store.Store.record_run`), for the reader.

A stage is **stale** when it has no successful record, when one of its outputs is
missing, when its settings hash changed or when an input's fingerprint changed.

Other hashes (:func:`engine.config.config_hash`) are work-cache keys only (the GP
chunk cache, the training checkpoint's resume key): they decide which unfinished work
can be reused, never whether a stage is up to date.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import config as C
from .progress import Progress, StageGen
from .store import Store


@dataclass(frozen=True)
class StageSpec:
    """One node of the stage graph.

    Parameters
    ----------
    name : stage name
    section : the :class:`~engine.config.Config` attribute holding its settings
        (empty: the stage has none)
    inputs : upstream stages whose outputs it always reads
    outputs : store paths it writes, as a function of its settings
    runner : ``"module:function"`` of the stage generator; empty for the source
    takes_executor : whether the stage distributes chunks over an executor
    ignore : settings that change speed, not results (not part of the hash)
    only : if given, the only settings that are part of the hash (the others act
        through the inputs, e.g. the network's architecture through the model)
    optional : upstream stages read only with some settings, as a function of them
    on_demand : run by the pipeline only when a stage reads it with the run's settings;
        its readers also make it themselves when it is missing or stale (score calls
        :func:`engine.anomaly.foldstats.ensure_fold_stats`)
    columns : catalogue columns (``/objects``) it reads beyond those of the ingest
        fingerprint (ids, periods, flags): each is an input of its own, so a corrected
        column makes this stage stale without making every stage stale
    revision : the revision of the stage's method; a record made by another revision is
        stale ("method revised"), so a store scored by an older pvsvet is rescored by
        ``run`` instead of showing the old answers as current. Bump it when a change of
        the code changes the stage's results.
    """

    name: str
    section: str
    inputs: tuple[str, ...]
    outputs: Callable[[Any], tuple[str, ...]]
    runner: str = ""
    takes_executor: bool = False
    ignore: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    optional: Callable[[Any], tuple[str, ...]] = lambda cfg: ()
    on_demand: bool = False
    columns: tuple[str, ...] = ()
    revision: str = ""

    def inputs_for(self, stage_cfg: Any) -> tuple[str, ...]:
        """Every upstream stage this stage reads with these settings."""
        return self.inputs + tuple(self.optional(stage_cfg))


def _fixed(*paths: str) -> Callable[[Any], tuple[str, ...]]:
    return lambda cfg: paths


#: score spaces that read ``/foldstats`` (engine.anomaly.features and .vetting)
FOLDSTATS_SPACES = ("diagnostic", "vetting")


def _score_optional(cfg: C.ScoreConfig) -> tuple[str, ...]:
    """``/foldstats`` for its spaces and for the demotion of curves consistent with noise."""
    reads = bool(set(cfg.spaces) & set(FOLDSTATS_SPACES)) or cfg.demote_nonvariable
    return ("foldstats",) if reads else ()


GRAPH: dict[str, StageSpec] = {s.name: s for s in (
    StageSpec("ingest", "ingest", (), _fixed("objects", "lightcurves"), ignore=("batch_size",)),
    StageSpec("interpolate", "interp", ("ingest",), _fixed("interp/mean"),
              "engine.gp:interpolate", True, ignore=("chunk_size", "batch_size")),
    StageSpec("train", "vae", ("interpolate",), _fixed("vae/model"),
              "engine.vae:train", ignore=("n_decode", "encode_batch")),
    StageSpec("encode", "vae", ("interpolate", "train"), _fixed("vae/mu"),
              "engine.vae:encode", True, only=("n_decode", "seed")),
    StageSpec("foldstats", "", ("ingest", "interpolate"), _fixed("foldstats"),
              "engine.anomaly.foldstats:foldstats_stage", on_demand=True,
              revision="2"),                          # 2: dip_width
    StageSpec("score", "score", ("ingest", "encode"),
              lambda cfg: tuple(f"scores/{s}/score" for s in cfg.spaces),
              "engine.anomaly:score", ignore=("block", "aad_*"),
              optional=_score_optional, columns=("class",),
              # 2: the vetting space's bands question on Fisher's z; 3: its dip question
              # and blue excess read their tails among the stars observed alike; 4: the
              # dip question asked of brief dips only
              revision="4"),
    StageSpec("context", "context", ("score",), _fixed("context"),
              "engine.context:run_context"),
)}
ORDER: tuple[str, ...] = tuple(GRAPH)
RUNNABLE: tuple[str, ...] = ORDER[1:]


def settings_of(config: C.Config, name: str) -> Any:
    """The settings of stage ``name`` in a whole-pipeline config (None: it has none)."""
    section = GRAPH[name].section
    return getattr(config, section) if section else None


# -- hashes ---------------------------------------------------------------------
def science_settings(name: str, stage_cfg: Any) -> dict[str, Any]:
    """The settings of stage ``name`` that change its result: its section's science
    settings (:func:`engine.config.science_of`) less the ones that change only speed."""
    spec = GRAPH[name]
    values = C.science_of(spec.section, stage_cfg) if stage_cfg is not None else {}
    keep = spec.only or [k for k in values if not _ignored(k, spec.ignore)]
    return {k: values[k] for k in sorted(keep)}


def settings_hash(name: str, stage_cfg: Any) -> str:
    """Hash of :func:`science_settings` (the record's ``config_hash``)."""
    blob = repr(sorted(science_settings(name, stage_cfg).items())).encode()
    return hashlib.sha256(name.encode() + b"|" + blob).hexdigest()[:16]


def _ignored(key: str, patterns: tuple[str, ...]) -> bool:
    return any(key == p or (p.endswith("*") and key.startswith(p[:-1])) for p in patterns)


def digest(*arrays: np.ndarray) -> str:
    """Short SHA-256 of the bytes of ``arrays`` (the ingest fingerprint's hash)."""
    h = hashlib.sha256()
    for arr in arrays:
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:16]


def last_ok(store: Store, name: str) -> tuple[int, dict | None]:
    """(position in /runs, record) of the last successful run of ``name``."""
    best: tuple[int, dict | None] = (-1, None)
    for i, rec in enumerate(store.runs()):
        if rec.get("stage") == name and rec.get("status") == "ok":
            best = (i, rec)
    return best


def fingerprint(store: Store, name: str) -> str:
    """What identifies the current output of stage ``name``.

    The source (ingest): a hash of the object ids, periods, flags and light-curve
    offsets. A stage: its last successful record (position in ``/runs``, hashes,
    time), so any rerun makes its downstream stages stale. A stage whose outputs
    exist without a record (written by hand or by an older version) is known by the
    write ids of their groups; "none" when there is neither.
    """
    if name == "ingest":
        cols = store.read_objects(["id", "period", "status"], decode=False)
        return digest(np.int64(store.n_objects), cols["id"], cols["period"], cols["status"],
                       store.read("lightcurves/offsets"))
    pos, rec = last_ok(store, name)
    if rec is not None:
        return hashlib.sha256(f"{pos}|{rec.get('config_hash')}|{rec.get('input_hash')}|"
                              f"{rec.get('finished')}".encode()).hexdigest()[:16]
    ids = _write_ids(store, name)
    return "none" if ids is None else f"unrecorded:{ids}"


def _write_ids(store: Store, name: str) -> str | None:
    """Write ids of the groups holding ``name``'s outputs (a group, else its parent)."""
    spec = GRAPH[name]
    default = getattr(C.Config(), spec.section) if spec.section else None
    ids = []
    for path in spec.outputs(default):
        for where in (path, path.rpartition("/")[0]):
            if where and store.has(where) and "write_id" in store.attrs(where):
                ids.append(str(store.attrs(where)["write_id"]))
                break
    return ",".join(ids) if ids else None


def column_fingerprint(store: Store, column: str) -> str:
    """A hash of one ``/objects`` column ("absent" where the catalogue has none)."""
    if column not in store.object_columns:
        return "absent"
    return digest(np.int64(store.n_objects), store.read_objects([column], decode=False)[column])


def expected(store: Store, name: str, stage_cfg: Any) -> dict[str, Any]:
    """The hashes a run of ``name`` with these settings on this store would record."""
    spec = GRAPH[name]
    inputs = {u: fingerprint(store, u) for u in spec.inputs_for(stage_cfg)}
    inputs.update({f"objects/{c}": column_fingerprint(store, c) for c in spec.columns})
    input_hash = hashlib.sha256(repr(sorted(inputs.items())).encode()).hexdigest()[:16]
    out = {"config_hash": settings_hash(name, stage_cfg), "input_hash": input_hash,
           "inputs": inputs}
    if spec.revision:
        out["revision"] = spec.revision
    return out


def record(store: Store, name: str, stage_cfg: Any, status: str = "ok",
           **extra: Any) -> dict[str, Any]:
    """Append the provenance record of a run of ``name`` (store open for writing).

    Call it in the same write as the stage's output commit, after it. ``extra``:
    figures for the reader (``started``, counts, ...). Returns the hashes recorded.
    """
    hashes = expected(store, name, stage_cfg)
    store.record_run(name, status, **hashes, **extra)
    return hashes


# -- staleness ------------------------------------------------------------------
@dataclass
class StageState:
    """Whether a stage must run, and why."""

    name: str
    stale: bool
    reason: str
    record: dict[str, Any] = field(default_factory=dict)


def check(store: Store, name: str, stage_cfg: Any) -> StageState:
    """Whether stage ``name`` with these settings is up to date on the store, and why."""
    spec = GRAPH[name]
    if name == "ingest":
        n = store.n_objects
        return StageState(name, False, f"{n} objects" if n else "no objects")
    want = expected(store, name, stage_cfg)
    _, rec = last_ok(store, name)
    if rec is None:
        return StageState(name, True, "never run", want)
    missing = [p for p in spec.outputs(stage_cfg) if not store.has(p)]
    if missing:
        return StageState(name, True, f"output /{missing[0]} missing", want)
    if rec.get("config_hash") != want["config_hash"]:
        return StageState(name, True, "settings changed", want)
    if rec.get("revision", "") != spec.revision:
        return StageState(name, True, f"method revised ({rec.get('revision') or 'earlier'} "
                                      f"-> {spec.revision}): rerun for its current answers",
                          want)
    if rec.get("input_hash") != want["input_hash"]:
        old = rec.get("inputs") or {}
        changed = [u for u, fp in want["inputs"].items() if old.get(u) != fp]
        reran = [u for u in changed if not u.startswith("objects/")]
        edited = [f"/{u}" for u in changed if u.startswith("objects/")]
        why = ", ".join(([f"{', '.join(reran)} reran"] if reran else [])
                        + ([f"{', '.join(edited)} changed"] if edited else []))
        return StageState(name, True, f"input changed: {why or 'upstream reran'}", want)
    if rec.get("incomplete"):
        return StageState(name, True, f"{rec['incomplete']} objects left to retry (failed "
                                      "or unanswered queries)", want)
    return StageState(name, False, "up to date", want)


def fresh(store_path, name: str, stage_cfg: Any, force: bool = False) -> StageState | None:
    """For a stage generator's first step: its state when it is up to date (and not
    forced), so the stage can skip; None when it must run."""
    if force:
        return None
    with Store(store_path, "r") as store:
        state = check(store, name, stage_cfg)
    return None if state.stale else state


def skipped(name: str, state: StageState) -> StageGen:
    """The one step of a stage that :func:`fresh` found up to date; returns
    ``{"skipped": why}`` as the stage's result."""
    yield Progress(name, 1, 1, "up to date, skipped", "stage")
    return {"skipped": f"{state.reason} (same science settings and inputs)"}

