"""Where chunked work runs: in-process, a local process pool, or dask.distributed.

Every executor offers :meth:`imap_unordered`: apply a picklable top-level function
to each item and yield ``(item_key, result)`` as tasks finish, with a bounded number
of tasks in flight so memory stays bounded on any catalogue size. The driver (the
stage) stays the single writer of the store and of the work cache. Closing the
generator (a cancel) drops pending tasks.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable, Iterable, Iterator, Protocol

logger = logging.getLogger(__name__)


class Executor(Protocol):
    workers: int
    name: str

    def imap_unordered(self, fn: Callable[[Any], Any],
                       items: Iterable[tuple[Any, Any]]) -> Iterator[tuple[Any, Any]]:
        """``items`` are ``(key, argument)``; yields ``(key, fn(argument))`` as done."""

    def close(self) -> None: ...


class SerialExecutor:
    """Everything in this process (tests, one worker, debugging)."""

    name = "serial"

    def __init__(self) -> None:
        self.workers = 1

    def imap_unordered(self, fn, items):
        for key, arg in items:
            yield key, fn(arg)

    def close(self) -> None:
        pass


def _worker_init() -> None:
    # One BLAS thread per worker process: the pool already uses every core.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass


class ProcessExecutor:
    """A local pool of worker processes (spawned, so safe beside threads and Qt)."""

    name = "processes"

    def __init__(self, workers: int = 2):
        self.workers = max(1, int(workers))
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"),
                                             initializer=_worker_init)
        return self._pool

    def imap_unordered(self, fn, items):
        pool = self._get_pool()
        it = iter(items)
        pending: dict[Any, Any] = {}
        try:
            while True:
                while len(pending) < 2 * self.workers:
                    try:
                        key, arg = next(it)
                    except StopIteration:
                        break
                    pending[pool.submit(fn, arg)] = key
                if not pending:
                    return
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    key = pending.pop(fut)
                    yield key, fut.result()
        finally:
            for fut in pending:
                fut.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor:
    """dask.distributed: an existing cluster (``address``) or a LocalCluster of ``n`` workers."""

    name = "dask"

    def __init__(self, address: str = "", local_workers: int = 0):
        from distributed import Client, LocalCluster

        self._cluster = None
        if address:
            self._client = Client(address)
        else:
            self._cluster = LocalCluster(n_workers=max(1, local_workers), threads_per_worker=1,
                                         processes=True, dashboard_address=None)
            self._client = Client(self._cluster)
        info = self._client.scheduler_info()
        self.workers = max(1, len(info.get("workers", {})))
        self.address = self._client.scheduler.address

    def imap_unordered(self, fn, items):
        from distributed import as_completed

        it = iter(items)
        keys: dict[Any, Any] = {}
        ac = as_completed()
        try:
            def submit_next() -> bool:
                try:
                    key, arg = next(it)
                except StopIteration:
                    return False
                fut = self._client.submit(fn, arg, pure=False)
                keys[fut.key] = key
                ac.add(fut)
                return True

            for _ in range(2 * self.workers):
                if not submit_next():
                    break
            for fut in ac:
                key = keys.pop(fut.key)
                result = fut.result()
                fut.release()
                submit_next()
                yield key, result
        finally:
            for fut in list(ac.futures):
                fut.cancel()

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(workers: int = 1, scheduler: str = "", dask_local: int = 0) -> Executor:
    """The executor for the given settings (dask if asked, else processes, else serial)."""
    if scheduler or dask_local:
        return DaskExecutor(scheduler, dask_local)
    if workers and workers > 1:
        return ProcessExecutor(workers)
    return SerialExecutor()
