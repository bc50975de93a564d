"""Menus of the main window, background runs with progress and Cancel, export and import."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QDialog, QFileDialog, QLabel, QMessageBox, QProgressBar, QPushButton)

from engine.errors import PvsvetError
from engine.progress import Progress
from engine.provenance import RUNNABLE

from .runs import RUNS, VAE_RUNS, run_factory
from .workers import VAE_MODULES, Runner

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMainWindow

    from .state import AppState

logger = logging.getLogger(__name__)

#: The stages a run goes through, in order, where it is known in advance (the overall
#: "stage k of n"); the progress stage names of engine.pipeline and the demo build.
PIPELINE_STAGES = list(RUNNABLE)
RUN_STAGES = {"pipeline": PIPELINE_STAGES, "demo": ["demo"] + PIPELINE_STAGES}

#: A rate is shown only after this long in a stage (s): from a few milliseconds it came out
#: as "13,420,026.2 lc/s" (a stage that resumed from its work cache reports many items at
#: once).
MIN_RATE_SECONDS = 2.0


def eta_text(p: Progress, started: float, now: float | None = None) -> str:
    """'123/456 lc · 40 lc/s · ETA 0:08' from a progress report and its stage's start."""
    elapsed = (time.monotonic() if now is None else now) - started
    parts = [f"{p.done:,}/{p.total:,} {p.unit}" if p.total else f"{p.done:,} {p.unit}"]
    rate = p.done / elapsed if elapsed >= MIN_RATE_SECONDS else 0.0
    if p.done and rate > 0:
        parts.append(f"{rate:,.0f} {p.unit}/s" if rate >= 10 else f"{rate:.2g} {p.unit}/s")
        if p.total and p.done < p.total:
            left = (p.total - p.done) / rate
            parts.append(f"ETA {int(left // 60)}:{int(left % 60):02d}")
    return " · ".join(parts)


@dataclass
class MenuHooks:
    """What the menus act on besides the state: given by the window, so the menus never
    reach into its panes, docks or settings."""

    undo: Callable[[], Any]
    edit_labels: Callable[[], Any]
    open_store: Callable[[str], Any]
    reset_layout: Callable[[], Any]
    view_actions: list = field(default_factory=list)   # QActions that show/hide the panes
    settings: Any = None                                # QSettings (export folder)


class Menus:
    """Builds the menu bar of ``window`` and drives its background runs.

    Parameters
    ----------
    window : the QMainWindow whose menu bar and status bar these are (parent of dialogs)
    state : the application state (the open store)
    hooks : the window's actions the menus call
    """

    def __init__(self, window: "QMainWindow", state: "AppState", hooks: MenuHooks):
        self.w, self.state, self.hooks = window, state, hooks
        self.runner = Runner(window)
        self.run_actions: dict[str, QAction] = {}
        self._started = time.monotonic()
        self._stage = ""
        self._stages: list[str] = []      # stages seen in the current run, in order
        self._plan: list[str] = []        # the stages the current run will go through
        self._overall: tuple[int, int, str] | None = None
        self._build_status()
        self._build_menus()
        self.runner.progressed.connect(self._on_progress)
        self.runner.finished.connect(self._on_finished)
        self.runner.errored.connect(self._on_error)
        self.runner.cancelled.connect(self._on_cancelled)
        self.runner.idle.connect(self._set_idle)
        self._set_idle()

    # -- building ------------------------------------------------------------------
    def _action(self, menu, text: str, slot: Callable, shortcut: Any = None) -> QAction:
        a = QAction(text, self.w)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        a.triggered.connect(lambda *_: slot())
        menu.addAction(a)
        return a

    def _build_menus(self) -> None:
        mb = self.w.menuBar()
        f = mb.addMenu("&File")
        self._action(f, "&Open store…", self.open_dialog, QKeySequence.Open)
        self._action(f, "&Import data…", self.import_dialog)
        self._action(f, "&Export target list…", self.export_dialog, "Ctrl+E")
        f.addSeparator()
        self._action(f, "&Quit", self.w.close, QKeySequence.Quit)
        e = mb.addMenu("&Edit")
        self.undo_action = self._action(e, "&Undo label", self.hooks.undo,
                                        QKeySequence.Undo)
        self._action(e, "Edit label &set…", self.hooks.edit_labels)
        self._action(e, "Label &author…", self.author_dialog)
        r = mb.addMenu("&Run")
        for key, (text, _, _) in RUNS.items():
            if key == "pipeline":
                r.addSeparator()
            self.run_actions[key] = self._action(r, text, lambda k=key: self.start_run(k))
        r.addSeparator()
        self.cancel_action = self._action(r, "&Cancel run", self.runner.cancel, "Ctrl+.")
        v = mb.addMenu("&View")
        for action in self.hooks.view_actions:
            v.addAction(action)
        v.addSeparator()
        self._action(v, "&Reset layout", self.hooks.reset_layout)
        h = mb.addMenu("&Help")
        self._action(h, "&Keys", self.show_keys, QKeySequence.HelpContents)

    def _build_status(self) -> None:
        sb = self.w.statusBar()
        self.run_label = QLabel()
        self.bar = QProgressBar(maximumWidth=260, textVisible=True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.runner.cancel)
        for wdg in (self.run_label, self.bar, self.cancel_button):
            sb.addPermanentWidget(wdg)

    # -- runs -------------------------------------------------------------------------
    def start_run(self, key: str, factory: Callable[[], Any] | None = None,
                  plan: list[str] | None = None) -> bool:
        if self.state.path is None and factory is None:   # the demo bootstrap makes its store
            QMessageBox.information(self.w, "No store", "Open a store first (File ▸ Open).")
            return False
        factory = factory or run_factory(key, self.state.path)
        modules = VAE_MODULES if key in VAE_RUNS else ()
        if not self.runner.start(RUNS.get(key, (key,))[0], factory, modules):
            self.w.statusBar().showMessage("a run is already going on", 4000)
            return False
        self._started, self._stage, self._stages = time.monotonic(), "", []
        self._plan = list(plan or RUN_STAGES.get(key, ()))
        self._overall = None
        self.run_label.setText(f"{self.runner.name}: starting…")
        self.bar.setRange(0, 0)
        for wdg in (self.run_label, self.bar, self.cancel_button):
            wdg.show()
        for a in self.run_actions.values():
            a.setEnabled(False)
        self.cancel_action.setEnabled(True)
        return True

    def _on_progress(self, p: Progress) -> None:
        if p.stage == "pipeline":            # the pipeline's own "stage i of n" report
            self._overall = (p.done, p.total, p.message.split(":")[0])
            return
        if p.stage != self._stage:
            self._stage, self._started = p.stage, time.monotonic()
            if p.stage not in self._stages:
                self._stages.append(p.stage)
        if p.total:
            self.bar.setRange(0, p.total)
            self.bar.setValue(min(p.done, p.total))
        else:
            self.bar.setRange(0, 0)
        msg = f" · {p.message}" if p.message else ""
        self.run_label.setText(f"{self.stage_text(p.stage)}: {eta_text(p, self._started)}"
                               f"{msg}"[:140])

    def stage_text(self, stage: str) -> str:
        """'stage 3 of 5 · train': from the pipeline's own count when it reports one (it
        skips up-to-date stages), else from the run's known stages, else the stage."""
        if self._overall is not None:
            done, total, _ = self._overall
            first = 1 if self._plan[:1] == ["demo"] else 0      # the catalogue build
            return f"stage {first + min(done + 1, total)} of {first + total} · {stage}"
        plan = self._plan
        if stage in plan:
            return f"stage {plan.index(stage) + 1} of {len(plan)} · {stage}"
        return f"stage {len(self._stages)} · {stage}" if len(self._stages) > 1 else stage

    def _on_finished(self, name: str, result: Any) -> None:
        self.w.statusBar().showMessage(f"{name} finished", 8000)
        self._reload()

    def _on_cancelled(self, name: str) -> None:
        self.w.statusBar().showMessage(
            f"{name} cancelled: the store is as it was; finished chunks are kept for the "
            "next run", 10000)
        self._reload()

    def _on_error(self, name: str, message: str, tb: str) -> None:
        box = QMessageBox(QMessageBox.Warning, f"{name} failed", message, parent=self.w)
        box.setDetailedText(tb)
        box.open()
        self._reload()

    def _reload(self) -> None:
        if self.state.path is None:
            return
        try:
            self.state.reload()
        except PvsvetError as exc:
            self.w.statusBar().showMessage(f"could not reload: {exc}", 10000)

    @property
    def busy(self) -> bool:
        """Whether a run started from the menus is going."""
        return self.runner.busy

    def shutdown(self, timeout_ms: int = 30000) -> None:
        """Cancel a running stage and wait for it to stop (the window is closing)."""
        if self.runner.busy:
            self.runner.cancel()
            self.runner.wait(timeout_ms)

    def _set_idle(self) -> None:
        for wdg in (self.run_label, self.bar, self.cancel_button):
            wdg.hide()
        for a in self.run_actions.values():
            a.setEnabled(True)
        self.cancel_action.setEnabled(False)

    # -- files ------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.w, "Open pvsvet store", "",
                                              "pvsvet stores (*.h5 *.hdf5);;All files (*)")
        if path:
            self.hooks.open_store(path)

    def export_dialog(self) -> None:
        """Ask which labels, how many of the ranking and which space, then where."""
        state = self.state
        if state.path is None:
            return
        from .export_dialog import ExportDialog

        dlg = ExportDialog(list(state.catalog.label_names), state.catalog.spaces(),
                           state.catalog.rank_space, self.w)
        # QDialog's enum, not the instance's: PySide6 has no `dlg.Accepted` (an
        # AttributeError made File ▸ Export do nothing after OK)
        if dlg.exec() != QDialog.Accepted:
            return
        folder = self.hooks.settings.value("export/folder") or str(state.path.parent)
        default = str(Path(str(folder)) / (state.path.stem + ".targets.ecsv"))
        path, _ = QFileDialog.getSaveFileName(
            self.w, "Export target list", default,
            "ECSV (*.ecsv);;VOTable (*.xml *.vot);;CSV (*.csv)")
        if path:
            self.hooks.settings.setValue("export/folder", str(Path(path).parent))
            self.export_to(path, **dlg.choice())

    def export_to(self, path: str | Path, labels: list[str] | None = None,
                  top: int | None = None, space: str | None = None) -> Path | None:
        """Write the target list (format from the extension, as the CLI decides it);
        errors in a message box."""
        try:
            from engine.export import export_targets
            export_targets(self.state.path, path, None, labels=labels, top=top,
                           space=space or self.state.catalog.rank_space or None)
        except (ImportError, PvsvetError, OSError) as exc:
            QMessageBox.warning(self.w, "Export failed", f"{path}: {exc}")
            return None
        self.w.statusBar().showMessage(f"exported {path}", 8000)
        return Path(path)

    def import_dialog(self) -> None:
        try:
            from engine.ingest import ingest
        except ImportError:
            QMessageBox.information(self.w, "Import", "engine.ingest is not available.")
            return
        if self.state.path is None:
            QMessageBox.information(self.w, "Import", "Open (or create) a store first.")
            return
        # Cancel here means "no catalogue table" (light curves only): the tooltip of a
        # title is not possible, so the dialog's title says what it asks for
        cat, _ = QFileDialog.getOpenFileName(self.w, "Catalogue table (optional)", "",
                                             "Tables (*.txt *.csv *.ecsv *.fits *.dat);;All (*)")
        folder = QFileDialog.getExistingDirectory(self.w, "Folder of light-curve files")
        if folder:
            path = self.state.path
            self.start_run("import", lambda: ingest(path, cat or None, [folder]))

    def author_dialog(self) -> None:
        """Who the labels are recorded for (kept in the settings; the default is the
        CLI's too: $PVSVET_AUTHOR, else the login name)."""
        from PySide6.QtWidgets import QInputDialog

        name, ok = QInputDialog.getText(self.w, "Label author", "Record labels as:",
                                        text=self.state.author)
        if ok:
            self.set_author(name)

    def set_author(self, name: str) -> None:
        self.state.author = name.strip()
        if self.hooks.settings is not None:
            self.hooks.settings.setValue("labels/author", self.state.author)
        self.w.statusBar().showMessage(f"labels are recorded as {self.state.author!r}", 6000)

    def show_keys(self) -> None:
        QMessageBox.information(self.w, "Keys", (
            "1…9, 0   label the current object (see the Labels pane)\n"
            "j / ↓    next object in the ranking\n"
            "k / ↑    previous object\n"
            "PgDn/PgUp  20 objects down/up\n"
            "Ctrl+Z   undo the last label of the current object\n"
            "Ctrl+E   export the target list\n"
            "Ctrl+.   cancel the running stage"))
