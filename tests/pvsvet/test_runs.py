"""Background runs from the Run menu: progress, cancel leaves the store as it was, finish reloads."""
from __future__ import annotations

import dataclasses

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
