"""The README's main command on a fresh machine: no store yet, so the demo is built and the
pipeline run from the first-start dialog, then the window opens it."""
from __future__ import annotations

import dataclasses

import numpy as np

from engine import config as C
from engine.store import Store


def test_first_start_builds_the_demo_runs_the_pipeline_and_opens_it(qtbot, tmp_path,
                                                                     settings, monkeypatch):
    from pvsvet import demo_dialog, runs
    from pvsvet.app import make_app
    from pvsvet.main_window import MainWindow
    from pvsvet.state import AppState

    base = runs.demo_config()
    small = dataclasses.replace(
        base, vae=dataclasses.replace(base.vae, filters=(8, 16, 32), dense=32, epochs=2,
                                      batch_size=64, n_decode=2),
        score=dataclasses.replace(base.score, n_estimators=50, convergence_check=False,
                                  n_jobs=1),
        context=dataclasses.replace(base.context, top_n=5, n_normal=2))
    real = runs.demo_bootstrap
    # the real bootstrap (catalogue build + whole pipeline), at test size
    monkeypatch.setattr(demo_dialog, "demo_bootstrap",
                        lambda store: real(store, n_objects=300, seed=1, config=small))
    make_app()
    w = MainWindow(AppState(), settings)
    qtbot.addWidget(w)
    w.show()
    store = tmp_path / "appdata" / "demo.h5"
    dlg = demo_dialog.ensure_demo(w, store)
    assert dlg is not None and w.menus.runner.busy
    qtbot.waitUntil(lambda: not w.menus.runner.busy, timeout=600000)
    assert w.state.path == store and len(w.state.catalog) == 300
    with Store(store) as s:
        assert s.has("interp/mean") and s.has("vae/mu") and s.has("scores/cartesian/score")
        assert s.has("context")
        assert np.nanmax(s.read("scores/cartesian/score")) == 1.0
    assert w.state.selection.current == int(w.state.view.rows[0])        # rank 1 shown
    assert w.statusBar().currentMessage().startswith("first start done: 300 objects")
    # Run > Score afterwards uses the settings the demo saved (all four of its spaces),
    # not the defaults' two: the one resolver reads them back from the store
    assert (C.science_of("score", runs.store_config(store).score)
            == C.science_of("score", small.score))
    with Store(store) as s:
        before = {sp: s.attrs(f"scores/{sp}").get("write_id") for sp in small.score.spaces}
        n_runs = len(s.runs("score"))
    w.menus.start_run("score")
    qtbot.waitUntil(lambda: not w.menus.runner.busy, timeout=300000)
    with Store(store) as s:
        assert len(s.runs("score")) > n_runs
        for space in small.score.spaces:
            assert s.has(f"scores/{space}/score"), space
            assert s.attrs(f"scores/{space}").get("write_id") != before[space], space
    from tests.pvsvet.conftest import _dispose
    _dispose(w)


def test_screenshot_of_a_missing_store_fails_with_a_message(qtbot, tmp_path, capsys):
    """A screenshot never builds the demo or waits on a dialog: it names the store and exits 1."""
    from pvsvet.app import main

    missing = tmp_path / "missing.h5"
    assert main([str(missing), "--screenshot", str(tmp_path / "x.png"),
                 "--settings", str(tmp_path / "s.ini")]) == 1
    assert f"{missing}: no such store" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_screenshot_into_a_missing_folder_fails_with_a_message(qtbot, tmp_path, capsys):
    """The image cannot be written: one line naming it, exit 1 (it used to exit 0)."""
    from engine.progress import run_quiet
    from engine.simulate import make_demo
    from pvsvet.app import main

    store = tmp_path / "s.h5"
    run_quiet(make_demo(str(store), 40, 2))
    png = tmp_path / "no-such-folder" / "x.png"
    assert main([str(store), "--screenshot", str(png),
                 "--settings", str(tmp_path / "s.ini")]) == 1
    assert f"--screenshot {png}: cannot write the image" in capsys.readouterr().err


def test_the_app_collects_garbage_in_the_gui_thread_only(qtbot):
    """A worker thread must never run the cyclic collector (it would destroy Qt objects
    off the GUI thread): make_app turns the automatic collector off and collects from a
    timer of the GUI thread, once per application."""
    import gc
    import weakref

    from pvsvet.app import make_app

    app = make_app()
    collector = app._pvsvet_gc
    assert not gc.isenabled()
    assert collector.timer.isActive() and collector.timer.thread() is app.thread()
    assert make_app()._pvsvet_gc is collector
    class Node:
        pass

    node = Node()
    node.loop = node                            # a cycle only the cyclic collector frees
    freed = weakref.ref(node)
    del node
    thresholds = collector.threshold
    collector.threshold = (0, 0, 0)             # collect at the next tick
    try:
        qtbot.waitUntil(lambda: freed() is None, timeout=5000)
    finally:
        collector.threshold = thresholds
