"""Run several forest fits at once: one worker process per forest, progress while waiting.

scikit-learn's tree growing holds the GIL (and does O(N) bookkeeping per tree), so
threads do not help it; separate processes put the two feature spaces (or a forest and
its convergence twin) on the two cores. Small inputs run in this process.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Generator

from ..errors import StageError
from ..progress import Progress, Throttle
from .forest import forest_job, forest_steps

logger = logging.getLogger(__name__)

#: below this many objects, spawning workers costs more than it saves
MIN_ROWS_FOR_PROCESSES = 50_000


def run_forests(jobs: dict[Any, dict], workers: int,
                stage: str = "score") -> Generator[Progress, None, dict]:
    """Run :func:`forest_job` for each job; yield Progress at least every 0.5 s.

    Returns ``{key: result}``. Closing the generator (a cancel) terminates the workers.
    """
    n_rows = max(len(a["X"]) for a in jobs.values())
    if workers <= 1 or len(jobs) == 1 or n_rows < MIN_ROWS_FOR_PROCESSES:
        return (yield from _in_process(jobs, workers, stage))
    return (yield from _in_pool(jobs, min(workers, len(jobs)), stage))


def _label(key: Any) -> str:
    return "/".join(str(k) for k in key) if isinstance(key, tuple) else str(key)


def _in_process(jobs, workers, stage):
    results = {}
    tick = Throttle(0.5)
    for i, (key, args) in enumerate(jobs.items()):
        gen = forest_steps({**args, "threads": max(1, workers)})
        while True:
            try:
                phase, done, total = next(gen)
            except StopIteration as stop:
                results[key] = stop.value
                break
            if tick():
                yield Progress(stage, i, len(jobs),
                               f"forest {_label(key)}: {phase} {done}/{total}", "forest")
    yield Progress(stage, len(jobs), len(jobs), "forests done", "forest")
    return results


def _in_pool(jobs, workers, stage):
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"))
    t0 = time.monotonic()
    results: dict = {}
    try:
        pending = {pool.submit(forest_job, {**args, "threads": 1}): key
                   for key, args in jobs.items()}
        while pending:
            done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in done:
                key = pending.pop(fut)
                try:
                    results[key] = fut.result()
                except Exception as exc:  # a worker died or the fit failed
                    raise StageError(f"isolation forest {_label(key)} failed: {exc}") from exc
            running = ", ".join(_label(k) for k in pending.values())
            yield Progress(stage, len(results), len(jobs),
                           f"{time.monotonic() - t0:.0f} s; running {running}" if running
                           else "forests done", "forest")
    finally:
        if len(results) < len(jobs):
            _terminate(pool)
        pool.shutdown(wait=True, cancel_futures=True)
    return results


def _terminate(pool: ProcessPoolExecutor) -> None:
    # concurrent.futures has no public kill; a cancel must not wait for a 1-minute fit
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.terminate()
