"""First start: build the demo catalogue and run the pipeline, with a progress dialog."""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QProgressDialog

from engine.progress import Progress

from .runs import DEMO_OBJECTS, DEMO_TRAIN_MINUTES, demo_bootstrap, demo_is_complete

logger = logging.getLogger(__name__)

INTRO = (f"Preparing the demo catalogue: {DEMO_OBJECTS:,} synthetic ZTF-like stars "
         "(11 classes plus injected anomalies), then the whole pipeline — GP interpolation, "
         f"VAE training (a short {DEMO_TRAIN_MINUTES:g}-minute budget), encoding, scoring, "
         "offline context.\nThis takes a few minutes on two cores. Cancel at any time: the "
         "next start continues where it stopped.")


def show_first_ranked(window, what: str) -> None:
    """Select rank 1 of the current ranking, scroll the table to it, and say in the status
    bar what the store now holds (the table had been left wherever the object selected
    while the pipeline ran ended up, rank ~8,900, with no word of what was computed)."""
    state = window.state
    if len(state.view):
        state.selection.set_current(int(state.view.rows[0]))
        window.table.table.scrollToTop()
    window.statusBar().showMessage(f"{what}: {state.summary()}", 0)


def ensure_demo(window, store: Path) -> QProgressDialog | None:
    """Open the demo store, building and processing it first if needed."""
    if demo_is_complete(store):
        window.open_store(store)
        return None
    if store.exists():
        window.open_store(store)   # show what is there while the rest runs
    store.parent.mkdir(parents=True, exist_ok=True)
    dlg = QProgressDialog(INTRO + "\n\nstarting…", "Cancel", 0, 0, window)
    dlg.setWindowTitle("pvsvet — first start")
    dlg.setWindowModality(Qt.WindowModal)
    dlg.setMinimumDuration(0)
    dlg.setMinimumWidth(560)
    runner = window.menus.runner

    def progressed(p: Progress) -> None:
        if p.stage == "pipeline":
            return                       # the stage count is in the line below
        dlg.setMaximum(p.total or 0)
        dlg.setValue(min(p.done, p.total) if p.total else 0)
        stage = window.menus.stage_text(p.stage)
        dlg.setLabelText(f"{INTRO}\n\n{stage}: {p.done:,}/{p.total:,} {p.unit}  {p.message}"
                         [:600])

    outcome = {"ok": False}

    def succeeded(_name, _result) -> None:
        outcome["ok"] = True

    def finished() -> None:
        runner.progressed.disconnect(progressed)
        runner.idle.disconnect(finished)
        runner.finished.disconnect(succeeded)
        dlg.reset()
        dlg.close()
        if store.exists() and window.state.path != store:
            window.open_store(store)
        if outcome["ok"] and window.state.path == store:
            show_first_ranked(window, "first start done")

    runner.progressed.connect(progressed)
    runner.finished.connect(succeeded)
    runner.idle.connect(finished)
    dlg.canceled.connect(runner.cancel)
    if not window.menus.start_run("demo", lambda: demo_bootstrap(store)):
        finished()
        return None
    dlg.show()
    return dlg
