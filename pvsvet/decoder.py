"""The VAE decoder of the panes' reconstructions, in a process of its own.

Decoding one curve needs TensorFlow, whose import takes seconds of pure Python. Run on
a thread of the GUI process, that import holds the interpreter lock while the window is
being drawn, and the first seconds after opening a store (`pvsvet --bench`: 6.7 s to a
usable window on a 110,000-object store instead of ~1.5 s) are spent waiting for it.
Here one spawned worker process imports TensorFlow, loads the model once and decodes
on request; the GUI's thread only waits on a pipe, so the window stays responsive and
the reconstruction appears when the worker is ready. The worker is started on the
first request and stopped at exit; a worker that died is replaced on the next request.
"""
from __future__ import annotations

import atexit
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

_LOCK = threading.Lock()
_POOL: ProcessPoolExecutor | None = None


def _decode(store_path: str, rows: list[int]) -> np.ndarray:
    """In the worker: the engine's reconstruction (the model stays loaded between calls)."""
    from engine.vae import reconstruct

    return np.asarray(reconstruct(store_path, rows))


def _pool() -> ProcessPoolExecutor:
    global _POOL
    with _LOCK:
        if _POOL is None:
            import multiprocessing

            # spawn: a fork of a process running Qt's threads is not safe
            _POOL = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        return _POOL


def shutdown() -> None:
    """Stop the worker (at exit; tests call it too)."""
    global _POOL
    with _LOCK:
        pool, _POOL = _POOL, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


def reconstruct(store_path: str | Path, rows) -> np.ndarray:
    """:func:`engine.vae.reconstruct` of ``rows``, decoded in the worker process.

    Blocks the calling thread (never call it on the GUI thread: the panes call it
    through :func:`pvsvet.workers.call_async`). A worker that died (killed, out of
    memory) is replaced once before the error is passed on.
    """
    rows = [int(r) for r in np.atleast_1d(rows)]
    for attempt in (0, 1):
        try:
            return _pool().submit(_decode, str(store_path), rows).result()
        except BrokenProcessPool:
            shutdown()
            if attempt:
                raise RuntimeError("the VAE decoder process stopped (out of memory?)") from None
    raise AssertionError("unreachable")


atexit.register(shutdown)
