"""Run engine stage generators on a worker thread (no widgets touched here).

A :class:`StageWorker` lives on a ``QThread`` and drives one generator: every
``Progress`` it yields is re-emitted as ``progressed``; a cancel request is honoured
at the next yield by closing the generator (the stage then leaves the store as it
was). Exactly one of ``finished``, ``errored`` or ``cancelled`` is emitted, then
``done``. :class:`Runner` owns the thread and allows one run at a time.

Why not superqt's ``create_worker``/``GeneratorWorker``: each of its workers wraps its
whole run in ``warnings.catch_warnings()`` and points the process-wide
``warnings.showwarning`` at its own signal. That state is global, not per thread: two
workers that overlap (a stage run and the light-curve pane's decode) restore each other's
handler, and a warning from any thread can then reach a finished worker (napari#2694).
Tried here, it crashed the first-start test (a segfault in the decode as the demo
pipeline ran). Warnings stay Python's; these few classes keep the threads.
"""
from __future__ import annotations

import importlib
import logging
import sys
import threading
import time
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot

from engine.errors import PvsvetError
from engine.progress import Progress

logger = logging.getLogger(__name__)

GenFactory = Callable[[], Any]

#: compiled libraries the engine's stages import on first use. A first import on a worker
#: thread while the GUI thread runs compiled numerical code of its own (astropy's
#: Lomb-Scargle in the Period pane) once crashed the process (a segfault inside the
#: import of scikit-learn), so :meth:`Runner.start` imports them on the GUI thread first.
WORKER_MODULES = ("scipy.linalg", "scipy.optimize", "scipy.spatial", "scipy.ndimage",
                  "sklearn.ensemble", "sklearn.metrics", "astropy.timeseries", "numba")
#: imported on the GUI thread too, but only before runs that train or encode (a few
#: seconds, once): a first ``import tensorflow`` on the worker thread of the first-start
#: pipeline twice hung the GUI test suite (py-spy: the worker idle inside the import, the
#: GUI thread idle in MainWindow.eventFilter, neither moving again).
VAE_MODULES = ("tensorflow",)


_numba_warm = False


def warm_numba() -> bool:
    """Load numba's typing and lowering registries on the calling (GUI) thread; True if
    numba is there. Its first compile or cache load imports them lazily (cffi and
    pycparser among them), and PySide's import hook then runs on the worker thread: a
    score run crashed the GUI suite that way (a segfault in Qt's event loop while the
    worker imported pycparser and the Period pane ran Lomb-Scargle), 1 run in 4 of
    tests/pvsvet/test_runs.py. About 0.5 s, once per process."""
    global _numba_warm
    if "numba" not in sys.modules:
        return False
    if not _numba_warm:
        from numba.core.registry import cpu_target

        cpu_target.target_context.refresh()     # refreshes the typing context too
        _numba_warm = True
    return True


def import_worker_modules(names: tuple[str, ...] = WORKER_MODULES) -> list[str]:
    """Import ``names`` on the calling thread (the GUI thread), those already imported
    at no cost; returns the ones imported now. A module that is not installed is left
    to the stage that needs it, which reports it."""
    new = []
    for name in names:
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except ImportError as exc:
            logger.debug("not preloaded: %s (%s)", name, exc)
            continue
        new.append(name)
    return new


class StageWorker(QObject):
    """Drives ``factory()`` (a stage generator) to its end, cancel or error."""

    progressed = Signal(object)          # engine.progress.Progress
    finished = Signal(object)            # the stage's return value
    errored = Signal(str, str)           # message, traceback
    cancelled = Signal()
    done = Signal()

    def __init__(self, name: str, factory: GenFactory, min_interval: float = 0.05):
        super().__init__()
        self.name = name
        self._factory = factory
        self._cancel = threading.Event()
        self._min_interval = min_interval   # seconds between progress signals

    def cancel(self) -> None:
        """Ask the stage to stop at its next yield (thread-safe)."""
        self._cancel.set()

    @Slot()
    def run(self) -> None:
        try:
            self._drive()
        finally:
            self.done.emit()

    def _drive(self) -> None:
        gen = None
        try:
            gen = self._factory()
            last = 0.0
            while True:
                if self._cancel.is_set():
                    gen.close()     # GeneratorExit inside the stage: no commit
                    self.cancelled.emit()
                    return
                try:
                    p = next(gen)
                except StopIteration as stop:
                    self.finished.emit(stop.value)
                    return
                now = time.monotonic()
                if isinstance(p, Progress) and now - last >= self._min_interval:
                    last = now
                    self.progressed.emit(p)
        except PvsvetError as exc:
            self.errored.emit(str(exc), traceback.format_exc())
        except Exception as exc:
            logger.exception("%s failed", self.name)
            self.errored.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        finally:
            if gen is not None and hasattr(gen, "close"):
                gen.close()


class Runner(QObject):
    """One background run at a time; re-emits the worker's signals on the GUI thread."""

    started = Signal(str)
    progressed = Signal(object)
    finished = Signal(str, object)
    errored = Signal(str, str, str)      # name, message, traceback
    cancelled = Signal(str)
    idle = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: StageWorker | None = None
        self.name = ""

    @property
    def busy(self) -> bool:
        return self._thread is not None

    def start(self, name: str, factory: GenFactory, modules: tuple[str, ...] = ()) -> bool:
        """Start ``factory()`` on a new thread; False if a run is going on. The
        :data:`WORKER_MODULES` and ``modules`` are imported on this (the GUI) thread
        first."""
        if self.busy:
            return False
        self.name = name
        import_worker_modules(WORKER_MODULES + tuple(modules))
        warm_numba()
        thread, worker = QThread(), StageWorker(name, factory)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        # slots of this GUI-thread object: queued, so re-emitted on the GUI thread
        worker.progressed.connect(self._on_progressed)
        worker.finished.connect(self._on_finished)
        worker.errored.connect(self._on_errored)
        worker.cancelled.connect(self._on_cancelled)
        worker.done.connect(thread.quit)
        thread.finished.connect(self._cleanup)
        self._thread, self._worker = thread, worker
        thread.start()
        self.started.emit(name)
        return True

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    def wait(self, ms: int = 30000) -> bool:
        """Block until the thread ends (shutdown, tests)."""
        return self._thread.wait(ms) if self._thread is not None else True

    @Slot(object)
    def _on_progressed(self, p) -> None:
        self.progressed.emit(p)

    @Slot(object)
    def _on_finished(self, result) -> None:
        self.finished.emit(self.name, result)

    @Slot(str, str)
    def _on_errored(self, message: str, tb: str) -> None:
        self.errored.emit(self.name, message, tb)

    @Slot()
    def _on_cancelled(self) -> None:
        self.cancelled.emit(self.name)

    @Slot()
    def _cleanup(self) -> None:
        thread, worker = self._thread, self._worker
        self._thread = self._worker = None
        if worker is not None:
            worker.deleteLater()
        if thread is not None:
            thread.deleteLater()
        self.idle.emit()


class _Relay(QObject):
    """Lives on the GUI thread, so its slot runs there when the pool thread emits."""

    done = Signal(object, object)         # result, error text (None on success)

    def __init__(self, callback: Callable[[Any, str | None], None]):
        super().__init__()
        self.callback = callback
        self.done.connect(self._deliver)

    @Slot(object, object)
    def _deliver(self, result, err) -> None:
        _relays.discard(self)
        self.deleteLater()
        self.callback(result, err)


class _Call(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay):
        super().__init__()
        self.fn, self.relay = fn, relay

    def run(self) -> None:
        try:
            result, err = self.fn(), None
        except PvsvetError as exc:  # a message written for the user: as it is
            result, err = None, str(exc)
        except Exception as exc:  # reported to the caller, shown in its pane
            result, err = None, f"{type(exc).__name__}: {exc}"
        try:
            self.relay.done.emit(result, err)
        except RuntimeError:  # the window (and the relay's receiver) closed meanwhile
            pass


_relays: set = set()


def call_async(fn: Callable[[], Any], callback: Callable[[Any, str | None], None]) -> None:
    """Run ``fn()`` on Qt's thread pool; ``callback(result, error)`` runs on the GUI thread.

    For short, read-only work that would stall the GUI (loading the VAE to decode
    one curve). The callback must check that its answer is still wanted.
    """
    relay = _Relay(callback)
    _relays.add(relay)     # keep the relay alive until it has delivered
    QThreadPool.globalInstance().start(_Call(fn, relay))
