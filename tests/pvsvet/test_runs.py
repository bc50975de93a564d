"""Background runs from the Run menu: progress, cancel leaves the store as it was, finish reloads."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from engine import config as C
from engine.store import Store


def _scores(path):
    with Store(path) as s:
        return s.read("scores/cartesian/score"), [r for r in s.runs("score") if r["status"] == "ok"]


def test_run_from_menu_can_be_cancelled_and_leaves_the_store(qtbot, window, gui_store):
    pytest.importorskip("engine.anomaly")
    before, ok_before = _scores(gui_store)
    seen, cancelled = [], []
    runner = window.menus.runner
    runner.progressed.connect(seen.append)
    runner.cancelled.connect(cancelled.append)
    window.menus.run_actions["score"].trigger()
    assert runner.busy and window.menus.cancel_button.isVisibleTo(window)
    qtbot.waitUntil(lambda: len(seen) > 0 or not runner.busy, timeout=60000)
    window.menus.cancel_button.click()
    qtbot.waitUntil(lambda: not runner.busy, timeout=60000)
    assert cancelled == ["Score"]
    after, ok_after = _scores(gui_store)
    assert np.array_equal(before, after, equal_nan=True) and len(ok_after) == len(ok_before)
    assert len(window.state.catalog) == 300                 # reloaded, still usable
    assert all(a.isEnabled() for a in window.menus.run_actions.values())


def test_finished_run_reloads_the_panes(qtbot, window, gui_store):
    pytest.importorskip("engine.anomaly")
    from pvsvet.runs import run_factory

    base = C.Config()
    cfg = dataclasses.replace(base, score=dataclasses.replace(base.score, n_estimators=50,
                                                              n_jobs=1, convergence_check=False))
    loads = []
    window.state.loaded.connect(loads.append)
    before = window.state.catalog.score("cartesian").copy()
    assert window.menus.start_run("score", run_factory("score", gui_store, cfg))
    qtbot.waitUntil(lambda: not window.menus.runner.busy, timeout=120000)
    assert loads, "the panes were not reloaded"
    after = window.state.catalog.score("cartesian")
    assert np.nanmax(after) == pytest.approx(1.0) and not np.allclose(before, after,
                                                                       equal_nan=True)
    assert window.state.selection.current is not None


def test_a_failing_run_shows_the_error_and_keeps_the_window(qtbot, window, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from engine.errors import StageError

    def broken():
        raise StageError("gui.h5: stage score failed: no latent means")
        yield  # pragma: no cover

    errors = []
    window.menus.runner.errored.connect(lambda *a: errors.append(a))
    window.menus.start_run("score", broken)
    qtbot.waitUntil(lambda: not window.menus.runner.busy, timeout=10000)
    assert errors and "no latent means" in errors[0][1]
    boxes = [w for w in window.findChildren(QMessageBox) if w.isVisible()]
    assert boxes and "no latent means" in boxes[0].text()
    boxes[0].close()
    assert window.state.path is not None and window.isVisible()


def test_cancel_closes_the_stage_before_the_gui_hears_of_it(qtbot):
    """The stage's clean-up (GeneratorExit at its yield) runs on the worker thread and
    is over when ``cancelled`` arrives; progress and the callback come on the GUI thread."""
    import threading

    from engine.progress import Progress
    from pvsvet.workers import Runner, call_async

    closed, gui = [], threading.current_thread()
    release = threading.Event()

    def stage():
        try:
            for i in range(10_000):
                yield Progress("toy", i, 10_000, "", "it")
                release.wait(0.01)
        finally:
            closed.append(threading.current_thread())

    runner = Runner()
    seen, events = [], []
    runner.progressed.connect(lambda p: seen.append(threading.current_thread()))
    runner.cancelled.connect(lambda name: events.append(("cancelled", list(closed))))
    runner.finished.connect(lambda *a: events.append(("finished", None)))
    assert runner.start("toy", stage) and not runner.start("again", stage)
    qtbot.waitUntil(lambda: len(seen) > 2, timeout=10000)
    runner.cancel()
    qtbot.waitUntil(lambda: not runner.busy, timeout=10000)
    assert [e[0] for e in events] == ["cancelled"]
    assert events[0][1] and events[0][1][0] is not gui      # closed first, off the GUI thread
    assert set(seen) == {gui}

    answers = []
    call_async(lambda: 6 * 7, lambda r, err: answers.append((r, err, threading.current_thread())))
    call_async(lambda: 1 / 0, lambda r, err: answers.append((r, err, threading.current_thread())))
    qtbot.waitUntil(lambda: len(answers) == 2, timeout=10000)
    assert {a[:2] for a in answers} == {(42, None), (None, "ZeroDivisionError: division by zero")}
    assert all(a[2] is gui for a in answers)


def test_run_score_on_a_store_without_saved_settings_gives_the_vetting_ranking(
        qtbot, window, gui_store):
    """Issue 17, defect 2: `run` and Run ▸ Score computed only the paper's two spaces, so
    a real store never got the vetting ranking the GUI shows first (nor the "why"
    column); the default settings now score it and the diagnostic space too."""
    pytest.importorskip("engine.anomaly")
    from pvsvet.runs import run_factory, store_config

    with Store(gui_store, "a") as s:              # as a store scored by an older `run`
        for space in ("vetting", "diagnostic"):
            s.delete_group(f"scores/{space}")
    window.state.reload()
    assert window.state.catalog.rank_space not in ("vetting", "diagnostic")
    base = store_config(gui_store)                  # no saved settings: the defaults
    assert {"vetting", "diagnostic"} <= set(base.score.spaces)
    cfg = dataclasses.replace(base, score=dataclasses.replace(
        base.score, n_estimators=40, n_jobs=1, convergence_check=False))
    from engine.progress import run_quiet

    # what Run ▸ Score runs (the background runner itself is tested above)
    result = run_quiet(run_factory("score", gui_store, cfg)())
    assert result["ran"] == ["score"], result
    assert {"vetting", "diagnostic"} <= set(result["results"]["score"])
    window.state.reload()
    cat = window.state.catalog
    assert {"vetting", "diagnostic", "cartesian", "spherical"} <= set(cat.scores)
    assert cat.rank_space == "vetting"
    first = int(window.state.view.rows[0])
    assert cat.ranks["vetting"][first] == 1
    with Store(gui_store) as s:
        question = s.read("scores/vetting/question")
    assert cat.text("why", first)                   # the why column has something to say
    assert question.shape == (len(cat),)


def _missing_when_a_fresh_run_starts(tmp_path, modules: str, absent: str, *extra: str):
    """Start a Runner in a fresh interpreter (nothing imported yet: ``absent`` is checked)
    and return which of the modules ``modules`` names (source text, evaluated after
    ``from pvsvet.workers import *``) its stage found not yet imported; ``extra``: further
    arguments of ``Runner.start``, as source text."""
    import subprocess
    import sys

    start = ", ".join(["'probe'", "stage", *extra])
    script = tmp_path / "probe.py"
    script.write_text(
        "import sys\n"
        "from PySide6.QtCore import QCoreApplication\n"
        "app = QCoreApplication([])\n"
        "from pvsvet.workers import *\n"
        f"names = {modules}\n"
        f"assert {absent!r} not in sys.modules\n"
        "seen = {}\n"
        "def stage():\n"
        "    seen.update({m: m in sys.modules for m in names})\n"
        "    yield from ()\n"
        "r = Runner()\n"
        "r.idle.connect(app.quit)\n"          # after the thread has finished
        f"assert r.start({start})\n"
        "app.exec()\n"
        "print(sorted(m for m, there in seen.items() if not there))\n")
    env = {**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         env=env, timeout=300, cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


def test_runner_imports_the_stages_compiled_libraries_on_the_gui_thread(tmp_path):
    """A first import of scikit-learn on the worker thread, while the GUI thread ran
    astropy's Lomb-Scargle for the Period pane, once crashed the process (a segfault in
    the import). The runner imports them before its thread starts; checked in a fresh
    interpreter, where nothing has imported them yet."""
    assert _missing_when_a_fresh_run_starts(tmp_path, "WORKER_MODULES",
                                            "sklearn.ensemble") == "[]"


def test_runner_loads_numbas_lazy_registries_on_the_gui_thread(tmp_path):
    """numba's first compile or cache load imports its typing registries (cffi, pycparser)
    on the thread that calls the kernel; on the worker thread, with PySide's import hook,
    that crashed the GUI suite (a segfault in Qt's event loop). The runner loads them
    before its thread starts."""
    lazy = "('numba.core.typing.cffi_utils', 'numba.core.typing.npydecl', 'pycparser')"
    assert _missing_when_a_fresh_run_starts(tmp_path, lazy, "pycparser") == "[]"


def test_runs_that_train_or_encode_import_tensorflow_on_the_gui_thread_first(tmp_path):
    """A first ``import tensorflow`` on the worker thread of the first-start pipeline hung
    the GUI suite twice (the worker idle inside the import, the GUI thread in the main
    window's event filter). Every run whose stages train or encode names TensorFlow for
    the GUI thread to import, and the runner imports it there before the thread starts
    (checked in a fresh interpreter, where nothing has imported it yet)."""
    from engine.provenance import RUNNABLE
    from pvsvet.runs import RUNS, VAE_RUNS

    for key, (_, stages, _) in RUNS.items():
        vae_stages = key == "pipeline" or bool({"train", "encode"} & set(stages or ()))
        assert (key in VAE_RUNS) == vae_stages, key
    assert {"train", "encode"} <= set(RUNNABLE) and "demo" in VAE_RUNS
    assert _missing_when_a_fresh_run_starts(tmp_path, "VAE_MODULES", "tensorflow",
                                            "VAE_MODULES") == "[]"
    # without the modules argument, a run does not import TensorFlow (seconds) up front
    assert _missing_when_a_fresh_run_starts(tmp_path, "VAE_MODULES",
                                            "tensorflow") == "['tensorflow']"
