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
        dlg.setMaximum(p.total or 0)
        dlg.setValue(min(p.done, p.total) if p.total else 0)
        dlg.setLabelText(f"{INTRO}\n\n{p.stage}: {p.done:,}/{p.total:,} {p.unit}  {p.message}"
                         [:600])

    def finished() -> None:
        runner.progressed.disconnect(progressed)
        runner.idle.disconnect(finished)
        dlg.reset()
        dlg.close()
        if store.exists() and window.state.path != store:
            window.open_store(store)

    runner.progressed.connect(progressed)
    runner.idle.connect(finished)
    dlg.canceled.connect(runner.cancel)
    if not window.menus.start_run("demo", lambda: demo_bootstrap(store)):
        finished()
        return None
    dlg.show()
    return dlg
