"""Where chunked work runs: in-process, a local process pool, or dask.distributed.

Every executor offers :meth:`imap_unordered`: apply a picklable top-level function
to each item and yield ``(item_key, result)`` as tasks finish, with a bounded number
of tasks in flight so memory stays bounded on any catalogue size. The driver (the
stage) stays the single writer of the store and of the work cache. Closing the
generator (a cancel) drops pending tasks.

A task that raises (or a worker that dies) surfaces in the driver as
:class:`TaskError`, whose message names the function and the task key (stages use
the first object row of the chunk, or ``(start, stop)``, as the key, so the message
names the object range).
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator, Protocol

from .errors import StageError

logger = logging.getLogger(__name__)

#: Tasks kept in flight per worker: enough to hide scheduling latency, few enough
#: that at most ``2 * workers`` chunks of arguments and results are held in memory.
IN_FLIGHT_PER_WORKER = 2


class TaskError(StageError):
    """A task of a chunked stage failed in a worker.

    Attributes
    ----------
    key : the task key (e.g. the first object row of the chunk)
    """

    def __init__(self, message: str, key: Any = None):
        super().__init__(message)
        self.key = key


def describe_key(key: Any) -> str:
    """Human wording of a task key: ``(start, stop)`` -> "objects start-stop-1"."""
    if isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, int) for k in key):
        return f"objects {key[0]}-{key[1] - 1}"
    if isinstance(key, int):
        return f"the chunk starting at object {key}"
    return f"task {key!r}"


def _task_error(fn: Callable, key: Any, where: str, exc: BaseException) -> TaskError:
    name = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', fn)}"
    return TaskError(f"{name} failed on {describe_key(key)} in {where}: "
                     f"{type(exc).__name__}: {exc}", key)


class Executor(Protocol):
    workers: int
    name: str

    def imap_unordered(self, fn: Callable[[Any], Any],
                       items: Iterable[tuple[Any, Any]]) -> Iterator[tuple[Any, Any]]:
        """``items`` are ``(key, argument)``; yields ``(key, fn(argument))`` as done."""

    def close(self) -> None: ...


class _ContextMixin:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SerialExecutor(_ContextMixin):
    """Everything in this process (tests, one worker, debugging).

    Tasks run with one BLAS thread, like a pool worker: the chunked stages work on
    small matrices, where a multi-threaded BLAS only adds synchronisation, and on a
    busy machine its spinning threads made the GP stage 5x slower (measured here).
    """

    name = "serial"

    def __init__(self) -> None:
        self.workers = 1

    def imap_unordered(self, fn, items):
        for key, arg in items:
            try:
                with _one_blas_thread():
                    result = fn(arg)
            except Exception as exc:
                raise _task_error(fn, key, "this process", exc) from exc
            yield key, result

    def close(self) -> None:
        pass


#: Environment of worker processes: each is one core's worth of work, so TensorFlow
#: (engine.vae.runtime reads PVSVET_TF_THREADS) must not start a thread per core.
_WORKER_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "PVSVET_TF_THREADS": "1"}


def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(1)


def _exit_when_orphaned(parent: int, interval: float = 1.0) -> None:
    """Watch the driver; exit this worker once it is gone.

    A pool worker blocks on its task queue forever when the driver dies without
    shutting the pool down (``kill -9``, out of memory): this thread ends it.
    """
    import threading

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="pvsvet-orphan-watch").start()


def _worker_init(parent: int | None = None) -> None:
    # One BLAS thread per worker process: the pool already uses every core.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    os.environ.update(_WORKER_ENV)
    if parent is not None:
        _exit_when_orphaned(parent)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass


class ProcessExecutor(_ContextMixin):
    """A local pool of worker processes (spawned, so safe beside threads and Qt).

    Parameters
    ----------
    workers : int
        Number of worker processes.
    """

    name = "processes"

    def __init__(self, workers: int = 2):
        self.workers = max(1, int(workers))
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"),
                                             initializer=_worker_init, initargs=(os.getpid(),))
        return self._pool

    def imap_unordered(self, fn, items):
        pool = self._get_pool()
        it = iter(items)
        pending: dict[Any, Any] = {}
        try:
            while True:
                while len(pending) < IN_FLIGHT_PER_WORKER * self.workers:
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
                    yield key, self._result(fn, key, fut)
        finally:
            for fut in pending:
                fut.cancel()

    def _result(self, fn, key, fut) -> Any:
        try:
            return fut.result()
        except BrokenProcessPool as exc:
            # A worker died (killed, out of memory): the pool is unusable; a later
            # call starts a fresh one.
            self._discard_pool()
            raise _task_error(fn, key, "a worker process that died", exc) from exc
        except Exception as exc:
            raise _task_error(fn, key, "a worker process", exc) from exc

    def _discard_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Shut the pool down: pending tasks are dropped, running ones finish."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _engine_version() -> str:
    import engine
    return engine.__version__


class DaskExecutor(_ContextMixin):
    """dask.distributed: an existing cluster (``address``) or a LocalCluster of ``n`` workers.

    Parameters
    ----------
    address : str
        Scheduler address of a running cluster (``tcp://host:8786``); empty to start
        a LocalCluster.
    local_workers : int
        Worker processes of the LocalCluster (one thread each).
    timeout : float, seconds
        How long to wait for the scheduler.

    Workers must run the same environment as the driver (they import ``engine``);
    this is checked when connecting. They receive arrays, never the store path.
    """

    name = "dask"

    def __init__(self, address: str = "", local_workers: int = 0, timeout: float = 30.0):
        from distributed import Client

        self._cluster = None
        try:
            if address:
                self._client = Client(address, timeout=timeout)
            else:
                self._cluster, security = _secure_local_cluster(max(1, local_workers))
                self._client = Client(self._cluster, security=security)
        except (OSError, TimeoutError) as exc:
            self.close()
            raise StageError(f"cannot reach the dask scheduler at {address or 'LocalCluster'}: "
                             f"{exc}") from exc
        self.address = self._client.scheduler.address
        self.workers = self._check_workers(timeout)

    def _check_workers(self, timeout: float) -> int:
        """Wait for a worker, check each imports this version of engine; return the count."""
        from . import __version__
        try:
            self._client.wait_for_workers(1, timeout=timeout)
            versions = self._client.run(_engine_version)
        except Exception as exc:
            self.close()
            raise StageError(f"dask cluster at {self.address}: workers cannot import engine "
                             f"(start them from the pvsvet environment): {exc}") from exc
        bad = {w: v for w, v in versions.items() if v != __version__}
        if bad:
            self.close()
            raise StageError(f"dask cluster at {self.address}: workers run pvsvet {bad}, the "
                             f"driver runs {__version__}; use the same environment")
        return max(1, len(versions))

    def imap_unordered(self, fn, items):
        from distributed import as_completed

        it = iter(items)
        keys: dict[Any, Any] = {}
        ac = as_completed()
        try:
            for _ in range(IN_FLIGHT_PER_WORKER * self.workers):
                if not self._submit_next(fn, it, keys, ac):
                    break
            for fut in ac:
                key = keys.pop(fut.key)
                try:
                    result = fut.result()
                except Exception as exc:
                    raise _task_error(fn, key, f"a dask worker ({self.address})", exc) from exc
                finally:
                    fut.release()
                self._submit_next(fn, it, keys, ac)
                yield key, result
        finally:
            for fut in list(ac.futures):
                fut.cancel()

    def _submit_next(self, fn, it, keys, ac) -> bool:
        try:
            key, arg = next(it)
        except StopIteration:
            return False
        fut = self._client.submit(fn, arg, pure=False)
        keys[fut.key] = key
        ac.add(fut)
        return True

    def close(self) -> None:
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


#: Loopback on a port the system picks: every listener of the local cluster.
LOOPBACK = "127.0.0.1"


def _secure_local_cluster(n_workers: int):
    """A LocalCluster that no other local user can drive.

    dask unpickles what a scheduler or worker is sent, so anyone who can connect runs
    code in the workers. Every listener binds to 127.0.0.1 on a port of the system's
    choosing; scheduler, workers and client talk mutual TLS with a throw-away
    certificate authority made for this cluster (``Security.temporary``), so a
    connection without its certificate is refused in the handshake. The HTTP servers
    that distributed always starts (dashboard, metrics) bind to loopback too and serve
    no routes.
    """
    import dask
    from distributed import LocalCluster
    from distributed.security import Security

    security = Security.temporary()
    no_routes = {"distributed.scheduler.http.routes": [], "distributed.worker.http.routes": []}
    with dask.config.set(no_routes):
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               host=LOOPBACK, dashboard_address=f"{LOOPBACK}:0",
                               worker_dashboard_address=f"{LOOPBACK}:0", security=security,
                               env=dict(_WORKER_ENV))
    return cluster, security


def make_executor(workers: int = 1, scheduler: str = "", dask_local: int = 0) -> Executor:
    """The executor for the given settings (dask if asked, else processes, else serial)."""
    if scheduler and dask_local:
        raise StageError("give either a dask scheduler address or --dask-local N, not both")
    if scheduler or dask_local:
        return DaskExecutor(scheduler, dask_local)
    if workers and workers > 1:
        return ProcessExecutor(workers)
    return SerialExecutor()
