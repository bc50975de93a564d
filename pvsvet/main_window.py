"""The main window: the ranked table, docked panes, keys and settings. No science here.

Menus and runs live in :mod:`pvsvet.menus`; the panes only know ``AppState``.
"""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, Qt, QTimer
from PySide6.QtWidgets import (QAbstractSpinBox, QApplication, QComboBox, QDockWidget,
                               QLineEdit, QMainWindow, QMessageBox, QPlainTextEdit, QTextEdit)

from engine.errors import PvsvetError

from .collab import Collaboration
from .interop import Interop
from .menus import MenuHooks, Menus
from .panes.anomaly_table import AnomalyTablePane
from .panes.compare import ComparePane
from .panes.hr import HRPane
from .panes.labels import LabelPane
from .panes.latent import LatentPane
from .panes.light_curve import LightCurvePane
from .panes.period import PeriodPane
from .panes.sed import SEDPane
from .panes.similar import SimilarPane
from .panes.why import WhyPane
from .state import AppState

logger = logging.getLogger(__name__)

_TEXT_INPUTS = (QLineEdit, QPlainTextEdit, QTextEdit, QAbstractSpinBox)
#: Docks that open as tabs beside the light curves (one object's views, one place).
TABBED_WITH_LIGHT_CURVES = ("why", "similar", "period")
#: Docks that open as tabs beside the Labels pane (lists of objects to go through).
TABBED_WITH_LABELS = ("compare",)
_MOVE_KEYS = {Qt.Key_J: 1, Qt.Key_Down: 1, Qt.Key_K: -1, Qt.Key_Up: -1,
              Qt.Key_PageDown: 20, Qt.Key_PageUp: -20}


class MainWindow(QMainWindow):
    """pvsvet's window over one :class:`AppState`.

    Parameters
    ----------
    state : the application state (a store may be opened later)
    settings : where layout and choices persist (tests pass a temporary file)
    """

    WATCH_MS = 1000       # how often the open store is checked for commits of others

    def __init__(self, state: AppState, settings: QSettings | None = None):
        super().__init__()
        self.state = state
        self.settings = settings or QSettings("pvsvet", "pvsvet")
        self.setWindowTitle("pvsvet")
        self.table = AnomalyTablePane(state)
        self.panes = {"table": self.table, "light_curve": LightCurvePane(state), "latent": LatentPane(state),
                      "hr": HRPane(state), "sed": SEDPane(state),
                      "labels": LabelPane(state), "similar": SimilarPane(state),
                      "period": PeriodPane(state), "why": WhyPane(state),
                      "compare": ComparePane(state)}
        self.docks = self._make_docks()
        labels = self.panes["labels"]
        self.menus = Menus(self, state, MenuHooks(
            undo=labels.undo, edit_labels=labels.edit_labels, open_store=self.open_store,
            reset_layout=self.reset_layout,
            view_actions=[d.toggleViewAction() for d in self.docks.values()],
            settings=self.settings))
        self.interop = Interop(self, state, self.table.table, lambda: {
            d.windowTitle(): d.widget() for d in self.findChildren(QDockWidget)})
        self.collab = Collaboration(self, state)
        self._default_state = self.saveState()
        self._retry = QTimer(self, singleShot=True, interval=500)
        self._retry.timeout.connect(self.refresh_panes)
        # another process (pvsvet-engine) may commit a stage to the open store: look
        # once a second (a stat; a short read only when the file changed) and reload
        self._watch = QTimer(self, interval=self.WATCH_MS)
        self._watch.timeout.connect(self.reload_if_changed)
        self._watch.start()
        state.selection.changed.connect(self._after_selection)
        state.loaded.connect(self._on_loaded)
        QApplication.instance().installEventFilter(self)
        self.restore_settings()

    # -- layout ----------------------------------------------------------------
    def _make_docks(self) -> dict[str, QDockWidget]:
        titles = {"table": "Ranked anomalies", "light_curve": "Light curves", "latent": "Latent space", "hr": "HR diagram",
                  "sed": "SED", "labels": "Labels", "similar": "Similar objects",
                  "period": "Period", "why": "Why anomalous",
                  "compare": "Run comparison"}
        docks = {}
        for key, pane in self.panes.items():
            d = QDockWidget(titles[key], self)
            d.setObjectName(f"dock_{key}")
            d.setWidget(pane)
            d.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetClosable
                          | QDockWidget.DockWidgetFloatable)
            docks[key] = d
        self._arrange(docks)
        return docks

    def _arrange(self, docks: dict[str, QDockWidget]) -> None:
        # left: table over labels; right: light curves over latent | HR | SED
        for key, d in docks.items():
            d.setFloating(False)
            d.show()
            area = (Qt.LeftDockWidgetArea if key in ("table", "labels") + TABBED_WITH_LABELS
                    else Qt.RightDockWidgetArea)
            self.addDockWidget(area, d)
        self.splitDockWidget(docks["table"], docks["labels"], Qt.Vertical)
        self.splitDockWidget(docks["light_curve"], docks["latent"], Qt.Vertical)
        self.splitDockWidget(docks["latent"], docks["hr"], Qt.Horizontal)
        self.splitDockWidget(docks["hr"], docks["sed"], Qt.Horizontal)
        self.resize(1680, 1000)
        self.resizeDocks([docks["table"], docks["light_curve"]], [700, 980], Qt.Horizontal)
        self.resizeDocks([docks["table"], docks["labels"]], [690, 250], Qt.Vertical)
        self.resizeDocks([docks["light_curve"], docks["latent"]], [500, 440], Qt.Vertical)
        self.resizeDocks([docks["latent"], docks["hr"], docks["sed"]], [360, 310, 310],
                         Qt.Horizontal)
        for key in TABBED_WITH_LIGHT_CURVES:   # the per-object views share one place
            self.tabifyDockWidget(docks["light_curve"], docks[key])
        docks["light_curve"].raise_()
        for key in TABBED_WITH_LABELS:
            self.tabifyDockWidget(docks["labels"], docks[key])
        docks["labels"].raise_()

    def reset_layout(self) -> None:
        self.restoreState(self._default_state)
        for d in self.docks.values():
            d.show()

    # -- store ---------------------------------------------------------------------
    def open_store(self, path: str | Path) -> bool:
        """Load a store; a bad file gets a message box, never a crash."""
        try:
            self.state.open(path)
        except PvsvetError as exc:
            QMessageBox.warning(self, "Cannot open store", str(exc))
            return False
        self.settings.setValue("last_store", str(Path(path).resolve()))
        return True

    def reload_if_changed(self) -> bool:
        """Reload when a commit finished since the last load (not while our own run is
        going: it reloads when it ends). Keeps order, filter, selection and labels."""
        if self.menus.busy or not self.state.changed_on_disk():
            return False
        try:
            self.state.reload()
        except PvsvetError as exc:       # e.g. it became busy again: the next tick retries
            self.statusBar().showMessage(f"the store changed on disk; could not reload: {exc}",
                                         10000)
            return False
        self.statusBar().showMessage("the store changed on disk (another process committed); "
                                     "reloaded", 8000)
        return True

    def _on_loaded(self, state: AppState) -> None:
        name = state.path.name if state.path else ""
        self.setWindowTitle(f"pvsvet — {name} ({len(state.catalog):,} objects)")
        if state.selection.current is None and len(state.view):
            state.selection.set_current(int(state.view.rows[0]))

    def refresh_panes(self) -> None:
        """Redraw the panes that read the store per object (after a busy store)."""
        row = self.state.selection.current
        if row is not None and self.state.detail(row).busy:
            self._retry.start()
            return
        for key in ("light_curve", "sed"):
            self.panes[key].redraw()
        self.panes["hr"].on_selection(self.state.selection, None)

    def _after_selection(self, sel, source) -> None:
        row = sel.current
        if row is not None and self.state.path is not None and self.state.detail(row).busy:
            self._retry.start()

    # -- keys ----------------------------------------------------------------------
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() != QEvent.KeyPress or not self._is_ours(obj):
            return False
        return self.handle_key(event.key(), event.modifiers(), event.text())

    def _is_ours(self, obj: QObject) -> bool:
        if not hasattr(obj, "window") or obj.window() is not self:
            return False
        focus = QApplication.focusWidget()
        if isinstance(focus, _TEXT_INPUTS) or (isinstance(focus, QComboBox)
                                               and focus.isEditable()):
            return False
        return not isinstance(obj, _TEXT_INPUTS)

    def handle_key(self, key: int, modifiers=Qt.NoModifier, text: str = "") -> bool:
        """Number keys label, j/k and arrows move; return whether the key was used."""
        if modifiers & (Qt.ControlModifier | Qt.AltModifier | Qt.MetaModifier):
            return False
        if text and text in "1234567890":
            return self.panes["labels"].assign_key(text)
        step = _MOVE_KEYS.get(key)
        if step is not None:
            self.table.move(step)
            return True
        return False

    # -- settings --------------------------------------------------------------------
    def restore_settings(self) -> None:
        s = self.settings
        author = s.value("labels/author")
        if author:
            self.state.author = str(author)
        geo, st = s.value("window/geometry"), s.value("window/state")
        if isinstance(geo, QByteArray):
            self.restoreGeometry(geo)
        if isinstance(st, QByteArray):
            self.restoreState(st)
        for key in ("table", "light_curve", "latent"):
            s.beginGroup(key)
            self.panes[key].restore({k: s.value(k) for k in s.childKeys()})
            s.endGroup()

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        for key in ("table", "light_curve", "latent"):
            for k, v in self.panes[key].settings().items():
                s.setValue(f"{key}/{k}", v)
        s.sync()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.menus.shutdown()
        self.interop.shutdown()
        self.save_settings()
        QApplication.instance().removeEventFilter(self)
        super().closeEvent(event)
