"""The interpolation stage: chunked, parallel, resumable; one atomic commit of ``/interp``."""
from __future__ import annotations

import logging
import time
from typing import Iterator

import numpy as np

from .. import provenance as prov
from ..config import InterpConfig, config_hash, to_dict
from ..fold import phase_grid
from ..progress import Progress, StageGen
from ..schema import (NOT_FOR_TRAINING, SPLIT_EXCLUDED, SPLIT_TEST, SPLIT_TRAIN,
                      SPLIT_VALIDATION)
from ..store import Store, utc_now
from ..workcache import ChunkCache, chunk_starts, locked_stage
from .chunk import pack, run_piece

logger = logging.getLogger(__name__)
STAGE = "interpolate"
_PIECE = {"fast": None, "george": 4}   # objects per task (fast: cfg.batch_size)


def _piece_size(cfg: InterpConfig) -> int:
    return min(cfg.chunk_size, _PIECE.get(cfg.method) or cfg.batch_size)


def cache_for(store_path, cfg: InterpConfig) -> ChunkCache:
    """The work cache of this config and store contents (chunk boundaries included)."""
    with Store(store_path, "r") as store:
        inputs = prov.expected(store, STAGE, cfg)["input_hash"]
    return ChunkCache(store_path, STAGE, config_hash(cfg, inputs))


def _tasks(store_path, cfg: InterpConfig, todo: list[int]) -> Iterator[tuple[tuple, dict]]:
    """(chunk start, piece start) -> packed piece, reading one chunk at a time."""
    piece = _piece_size(cfg)
    for start in todo:
        with Store(store_path, "r") as store:
            stop = min(start + cfg.chunk_size, store.n_objects)
            objs = store.read_objects(["id", "period", "status"], rows=slice(start, stop))
            lcs = store.lightcurves(start, stop)
        for p in range(0, stop - start, piece):
            sl = slice(p, p + piece)
            yield (start, start + p, stop - start), pack(
                start + p, lcs[sl], objs["period"][sl], objs["status"][sl], objs["id"][sl], cfg)


def _assemble(parts: dict) -> dict:
    """Concatenate the pieces of one chunk in row order."""
    keys = sorted(parts)
    out = {}
    for name in ("mean", "std", "raw_mean_mag", "raw_std_mag", "hyper", "nll", "status",
                 "status_msg"):
        arrs = [parts[k][name] for k in keys]
        if name == "status_msg":
            width = max(a.dtype.itemsize for a in arrs)
            arrs = [a.astype(f"S{width}") for a in arrs]
        out[name] = np.concatenate(arrs)
    return out


def compute_chunks(store_path, cfg: InterpConfig, cache: ChunkCache, todo: list[int], executor,
                   done: int, n: int) -> StageGen:
    """Interpolate the chunks starting at ``todo`` into ``cache``, yielding progress.

    ``done`` of ``n`` light curves are finished before (the progress bar's start). A
    chunk is saved as soon as all its pieces are back, so a kill keeps it. Returns
    a dict: ``computed`` (curves), ``fit_s``, ``cpu_s`` (fit CPU seconds), ``wall_s`` and
    ``workers`` (of the executor used). ``executor`` None:
    a local pool of ``cfg.workers`` is started and closed here.
    """
    own = executor is None
    if own:
        from ..executors import make_executor
        executor = make_executor(cfg.workers)
    fit_s, cpu_s, computed, t_run = 0.0, 0.0, 0, time.perf_counter()
    pending: dict[int, dict] = {}
    try:
        for (start, pstart, size), res in executor.imap_unordered(
                run_piece, _tasks(store_path, cfg, todo)):
            parts = pending.setdefault(start, {})
            parts[pstart] = res
            m = len(res["status"])
            done, computed, fit_s = done + m, computed + m, fit_s + float(res["seconds"])
            cpu_s += float(res["cpu_seconds"])
            if sum(len(p["status"]) for p in parts.values()) == size:
                cache.save(start, **_assemble(pending.pop(start)))
            rate = computed / max(time.perf_counter() - t_run, 1e-9)
            eta = (n - done) / rate if rate > 0 else float("nan")
            yield Progress(STAGE, done, n, f"{rate:.0f} lc/s, ETA {eta:.0f} s", "lc")
    finally:
        if own:
            executor.close()
    return {"computed": computed, "fit_s": fit_s, "cpu_s": cpu_s,
            "wall_s": time.perf_counter() - t_run, "workers": getattr(executor, "workers", 1)}


@locked_stage("interpolate")
def interpolate(store_path, cfg: InterpConfig, executor=None, force: bool = False) -> StageGen:
    """Fold, interpolate and scale every object; write ``/interp`` (docs/internals.md).

    Yields :class:`~engine.progress.Progress` (light curves/s and ETA in the message);
    closing the generator cancels, keeping finished chunks for the next run. Returns a
    dict of counts and timings, or ``{"skipped": why}`` when ``/interp`` is up to date
    (:mod:`engine.provenance`) and not ``force``.
    """
    up = prov.fresh(store_path, STAGE, cfg, force)
    if up:
        return (yield from prov.skipped(STAGE, up))
    t0, started = time.perf_counter(), utc_now()
    cache = cache_for(store_path, cfg)
    with Store(store_path, "r") as store:
        n = store.n_objects
    starts = chunk_starts(n, cfg.chunk_size)
    done_before = cache.done_starts()
    todo = [s for s in starts if s not in done_before]
    total_todo = sum(min(cfg.chunk_size, n - s) for s in todo)
    done = n - total_todo
    yield Progress(STAGE, done, n, f"{len(todo)} of {len(starts)} chunks to do", "lc")
    work = yield from compute_chunks(store_path, cfg, cache, todo, executor, done, n)
    computed, wall = work["computed"], work["wall_s"]
    yield Progress(STAGE, n, n, "writing /interp", "lc")
    counts = _commit(store_path, cfg, cache, starts, n, started)
    cache.clear()
    return {**counts, "method": cfg.method, "workers": work["workers"],
            "computed": computed, "resumed_chunks": len(done_before & set(starts)),
            "lc_per_s": computed / wall if computed and wall > 0 else None,
            "fit_seconds": round(work["fit_s"], 3),
            "fit_cpu_seconds": round(work["cpu_s"], 3),
            "seconds": round(time.perf_counter() - t0, 3)}


def make_split(classes: np.ndarray, eligible: np.ndarray, ratios, seed: int) -> np.ndarray:
    """7:2:1 train/validation/test (0/1/2) stratified by class; 255 where not eligible.

    Deterministic for ``seed``: each class (in sorted order) is shuffled by one generator
    and cut at the cumulative ratios, rounded.
    """
    split = np.full(len(classes), SPLIT_EXCLUDED, dtype=np.uint8)
    rng = np.random.default_rng(seed)
    frac = np.cumsum(np.asarray(ratios, float) / np.sum(ratios))
    for cls in np.unique(classes[eligible]):
        idx = np.flatnonzero(eligible & (classes == cls))
        idx = idx[rng.permutation(len(idx))]
        cuts = np.round(frac * len(idx)).astype(int)
        split[idx[:cuts[0]]] = SPLIT_TRAIN
        split[idx[cuts[0]:cuts[1]]] = SPLIT_VALIDATION
        split[idx[cuts[1]:]] = SPLIT_TEST
    return split


def _commit(store_path, cfg: InterpConfig, cache: ChunkCache, starts, n: int,
            started: str = "") -> dict:
    """Stream the cached chunks into ``/interp`` (one chunk in memory at a time)."""
    status = np.zeros(n, "u4")
    width = 1
    for s in starts:
        c = cache.load(s)
        status[s:s + len(c["status"])] = c["status"]
        width = max(width, c["status_msg"].dtype.itemsize)
    with Store(store_path, "r") as store:
        classes = store.read_objects(["class"])["class"] if n else np.zeros(0, "U1")
    split = make_split(classes, (status & int(NOT_FOR_TRAINING)) == 0, cfg.split, cfg.seed)
    p = cfg.n_phase
    specs = {"mean": ((n, 2, p), "f4"), "std": ((n, 2, p), "f4"), "raw_mean_mag": ((n, 2), "f8"),
             "raw_std_mag": ((n, 2), "f8"), "hyper": ((n, 4), "f8"), "nll": ((n,), "f8"),
             "status_msg": ((n,), f"S{width}")}
    with Store(store_path, "a") as store:
        with store.writing_group("interp") as g:
            ds = {k: g.create_dataset(k, shape=sh, dtype=dt, chunks=_chunks(sh, cfg))
                  for k, (sh, dt) in specs.items()}
            for s in starts:
                c = cache.load(s)
                for k in ds:
                    ds[k][s:s + len(c["status"])] = c[k].astype(ds[k].dtype)
            g.create_dataset("status", data=status)
            g.create_dataset("split", data=split)
            g.create_dataset("phase", data=phase_grid(p))
            g.attrs["method"] = cfg.method
            import json
            g.attrs["config"] = json.dumps(to_dict(cfg))
            g.attrs["hyper_names"] = json.dumps(["l_phi", "l_lambda", "C_mag2", "delta_mag2"])
        prov.record(store, STAGE, cfg, method=cfg.method, started=started or None)
    fit = (status & int(NOT_FOR_TRAINING)) == 0
    from ..store import Status
    return {"n": n, "n_ok": int(fit.sum()),
            "n_failed": int(((status & int(Status.GP_FAILED)) > 0).sum()),
            "n_unphysical": int(((status & int(Status.GP_UNPHYSICAL)) > 0).sum()),
            "n_not_interpolated": int(((status & int(NOT_FOR_TRAINING ^ Status.GP_FAILED
                                                      ^ Status.GP_UNPHYSICAL)) > 0).sum())}


def _chunks(shape, cfg: InterpConfig):
    if shape[0] == 0:
        return None
    return (max(1, min(shape[0], 4096 if len(shape) > 1 else 65536)),) + tuple(shape[1:])
