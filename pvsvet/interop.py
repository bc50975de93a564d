"""The Interop menu and the table's context menu: SAMP, link-outs, plots as PNG/SVG.

What other tools get: the selection or a target list as a VOTable over SAMP
(:mod:`pvsvet.samp`), the object's pages on the web (:mod:`pvsvet.links`), and each
pane's plot as a PNG or SVG file (pyqtgraph's exporters). Row selections and sky
positions coming back over SAMP arrive on astropy's thread and are handed to the GUI
thread through a queued Qt signal before they touch the shared Selection.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QUrl, Qt, Signal
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox

from .links import Target, links

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMainWindow, QTableView, QWidget

    from .state import AppState

logger = logging.getLogger(__name__)

#: At most this many rows of the table's current order go out as "the shown table"
#: (TOPCAT takes millions, Aladin draws a few thousand markers comfortably).
MAX_SENT = 5000


def target(state: "AppState", row: int) -> Target:
    """The link-out target of a catalogue row (NaN where the store has no position)."""
    cat = state.catalog
    ra, dec = cat.extra.get("ra"), cat.extra.get("dec")
    return Target(cat.object_id(row), float(ra[row]) if ra is not None else float("nan"),
                  float(dec[row]) if dec is not None else float("nan"))


def plot_widgets(pane: "QWidget") -> list:
    """The pyqtgraph plots of a pane that are on screen, in layout order."""
    import pyqtgraph as pg

    return [w for w in pane.findChildren(pg.PlotWidget) if w.isVisible()]


def save_plot(pane: "QWidget", path: str | Path) -> list[Path]:
    """Save a pane's plot(s) as PNG or SVG (from the extension) with pyqtgraph's exporters;
    a pane with several plots gets one file each (``name_2.png``…). Returns the files."""
    from pyqtgraph.exporters import ImageExporter, SVGExporter

    path = Path(path)
    kind = path.suffix.lower()
    if kind not in (".png", ".svg"):
        raise ValueError(f"{path.name}: save plots as .png or .svg")
    out = []
    for k, pw in enumerate(plot_widgets(pane)):
        dest = path if k == 0 else path.with_name(f"{path.stem}_{k + 1}{path.suffix}")
        item = pw.getPlotItem()
        if kind == ".png":
            exp = ImageExporter(item)
            # twice the screen size: sharp enough for a slide or a paper draft
            exp.parameters()["width"] = int(max(item.sceneBoundingRect().width(), 100) * 2)
            exp.export(str(dest))
        else:
            try:
                SVGExporter(item).export(str(dest))
            except ValueError:
                # pyqtgraph 0.14.0's exporter cannot parse the closepath 'Z' that Qt 6
                # writes for closed symbols (fixed upstream after 0.14.0, commit
                # 1b84c2b2): draw the same scene with Qt's own SVG generator instead
                _qt_svg(pw, dest)
        out.append(dest)
    return out


def _qt_svg(pw, dest: Path) -> None:
    """Render a plot widget's scene to SVG with QSvgGenerator (vector, as drawn)."""
    from PySide6.QtCore import QRectF, QSize
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    rect = pw.sceneRect() if hasattr(pw, "sceneRect") else QRectF(pw.rect())
    gen = QSvgGenerator()
    gen.setFileName(str(dest))
    gen.setSize(QSize(int(rect.width()), int(rect.height())))
    gen.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
    gen.setTitle(dest.stem)
    painter = QPainter(gen)
    try:
        pw.scene().render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
    finally:
        painter.end()


class Interop(QObject):
    """Builds the Interop menu of ``window`` and the context menu of ``table``.

    Parameters
    ----------
    window : the main window (menu bar, status bar, parent of dialogs)
    state : the application state
    table : the ranked table's view (its context menu gets the link-outs)
    panes : a callable giving title -> pane (the docks at the time the menu opens, so
        panes added later are offered too), whose plots Interop ▸ Save plot offers
    """

    rows_received = Signal(object, str)
    point_received = Signal(float, float)

    def __init__(self, window: "QMainWindow", state: "AppState", table: "QTableView",
                 panes: dict):
        super().__init__(window)
        self.w, self.state, self.table, self.panes = window, state, table, panes
        self.link = None
        self.last_table: str | None = None
        self.rows_received.connect(self._on_rows, Qt.QueuedConnection)
        self.point_received.connect(self._on_point, Qt.QueuedConnection)
        self._build_menu()
        table.setContextMenuPolicy(Qt.CustomContextMenu)
        table.customContextMenuRequested.connect(self._table_menu)

    # -- menus ---------------------------------------------------------------------------
    def _add(self, menu: QMenu, text: str, slot, tip: str = "") -> QAction:
        a = menu.addAction(text)
        a.setToolTip(tip)
        a.triggered.connect(lambda *_: slot())
        return a

    def _build_menu(self) -> None:
        m = self.w.menuBar().addMenu("&Interop")
        m.setToolTipsVisible(True)
        self.menu = m
        self.connect_action = self._add(m, "&Connect to SAMP hub", self.connect,
                                        "join TOPCAT's or Aladin's hub, or start one on "
                                        "127.0.0.1 when none runs")
        self._add(m, "Send &selection via SAMP", self.send_selection,
                  "the selected objects as a VOTable to every SAMP tool that loads tables")
        self._add(m, "Send shown &table via SAMP", self.send_shown,
                  f"the table's rows in their current order and filter (first {MAX_SENT:,})")
        self._add(m, "Send &labelled targets via SAMP", self.send_labelled,
                  "every labelled object, as the target list export has them")
        self._add(m, "&Highlight selection in the sent table", self.highlight,
                  "tell the SAMP tools which rows of the last sent table are selected here")
        self._add(m, "&Disconnect from SAMP", self.disconnect)
        m.addSeparator()
        self.open_menu = m.addMenu("&Open current object in")
        self.open_menu.aboutToShow.connect(lambda: self._fill_links(self.open_menu,
                                                                    self.state.selection.current))
        m.addSeparator()
        self.save_menu = m.addMenu("Save &plot as PNG/SVG")
        self.save_menu.aboutToShow.connect(self._fill_save)

    def _fill_save(self) -> None:
        import pyqtgraph as pg

        self.save_menu.clear()
        for title, pane in self.panes().items():
            if pane is not None and pane.findChildren(pg.PlotWidget):
                self._add(self.save_menu, f"{title}…",
                          lambda p=pane, t=title: self.save_dialog(p, t))

    def _fill_links(self, menu: QMenu, row: int | None) -> None:
        menu.clear()
        if row is None or self.state.path is None:
            menu.addAction("no current object").setEnabled(False)
            return
        for name, url in links(target(self.state, row)):
            a = menu.addAction(name)
            if url is None:
                a.setEnabled(False)
                a.setText(f"{name} (no coordinates)")
                continue
            a.setData(url)
            a.setToolTip(url)
            a.triggered.connect(lambda *_, u=url: self.open_url(u))
        menu.setToolTipsVisible(True)

    def link_menu(self, row: int) -> QMenu:
        """The context menu of one object (tests read its actions' URLs)."""
        menu = QMenu(self.w)
        self._fill_links(menu.addMenu("Open in"), row)
        self._add(menu, "Send selection via SAMP", self.send_selection)
        return menu

    def _table_menu(self, pos) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        row = int(self.state.view.rows[index.row()])
        if row not in self.state.selection.rows:
            self.state.selection.set_current(row, source=None)   # what the menu acts on
        self.link_menu(row).popup(self.table.viewport().mapToGlobal(pos))

    @staticmethod
    def open_url(url: str) -> bool:
        return QDesktopServices.openUrl(QUrl(url))

    # -- plots ---------------------------------------------------------------------------
    def save_dialog(self, pane, title: str) -> None:
        s = getattr(self.w, "settings", None)
        folder = (s.value("plots/folder") if s is not None else "") or str(Path.home())
        stem = title.lower().replace(" ", "_")
        path, _ = QFileDialog.getSaveFileName(self.w, f"Save plot: {title}",
                                              str(Path(str(folder)) / f"{stem}.png"),
                                              "PNG image (*.png);;SVG drawing (*.svg)")
        if not path:
            return
        if s is not None:
            s.setValue("plots/folder", str(Path(path).parent))
        try:
            files = save_plot(pane, path)
        except (ValueError, OSError) as exc:
            QMessageBox.warning(self.w, "Save plot", str(exc))
            return
        self._say(f"saved {', '.join(f.name for f in files)}" if files
                  else f"{title}: no plot on screen to save")

    # -- SAMP --------------------------------------------------------------------------
    def connect(self) -> bool:
        from .samp import SampError, SampLink

        if self.link is None:
            self.link = SampLink(on_rows=lambda rows, who: self.rows_received.emit(rows, who),
                                 on_point=lambda ra, dec: self.point_received.emit(ra, dec))
        try:
            self._say(self.link.connect(start_hub=True))
        except (SampError, OSError) as exc:
            QMessageBox.warning(self.w, "SAMP", f"cannot connect: {exc}")
            return False
        return True

    def disconnect(self) -> None:
        if self.link is not None:
            self.link.close()
            self._say("left SAMP")

    def shutdown(self) -> None:
        """Leave the hub (and stop pvsvet's own hub) when the window closes."""
        if self.link is not None:
            self.link.close()
            self.link = None

    def send_rows(self, rows: np.ndarray, name: str) -> str | None:
        """Send catalogue ``rows`` (in this order) as a target-list VOTable; the table-id."""
        if self.state.path is None or not len(rows):
            self._say("nothing to send")
            return None
        if (self.link is None or not self.link.connected) and not self.connect():
            return None
        from engine.errors import PvsvetError
        from engine.export import export_targets

        try:
            table = export_targets(self.state.path, None, rows=rows,
                                   space=self.state.catalog.rank_space or None)
            self.last_table = self.link.send_table(table, rows, name)
        except (PvsvetError, OSError) as exc:
            QMessageBox.warning(self.w, "SAMP", f"cannot send {name}: {exc}")
            return None
        n = len(self.link.recipients())
        self._say(f"sent {name} ({len(rows):,} rows) to {n} SAMP tool(s)")
        return self.last_table

    def send_selection(self) -> str | None:
        sel = self.state.selection
        rows = sel.rows if len(sel.rows) else np.array(
            [] if sel.current is None else [sel.current], dtype=np.int64)
        return self.send_rows(rows, f"pvsvet selection ({self._store_name()})")

    def send_shown(self) -> str | None:
        return self.send_rows(np.asarray(self.state.view.rows[:MAX_SENT]),
                              f"pvsvet table ({self._store_name()})")

    def send_labelled(self) -> str | None:
        cat = self.state.catalog
        rows = np.flatnonzero(cat.label_code >= 0)
        rows = rows[np.argsort(np.where(cat.rank[rows] > 0, cat.rank[rows], np.iinfo("i4").max),
                               kind="stable")]
        return self.send_rows(rows, f"pvsvet labelled targets ({self._store_name()})")

    def highlight(self) -> None:
        if self.link is None or self.last_table is None:
            self._say("send a table first")
            return
        n = self.link.send_rows(self.last_table, self.state.selection.rows)
        self._say(f"{n} rows highlighted in the sent table")

    def _on_rows(self, rows, who: str) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        rows = rows[(rows >= 0) & (rows < len(self.state.catalog))]
        if not len(rows):
            return
        score = np.nan_to_num(self.state.catalog.score()[rows], nan=-1)
        self.state.selection.select(rows, int(rows[np.argmax(score)]), source=self)
        self._say(f"{who}: {len(rows):,} rows selected")

    def _on_point(self, ra: float, dec: float) -> None:
        from .samp import nearest_row

        cat = self.state.catalog
        if "ra" not in cat.extra:
            return
        row = nearest_row(cat.extra["ra"], cat.extra["dec"], ra, dec)
        if row is None:
            self._say(f"SAMP pointed at {ra:.5f} {dec:+.5f}: no object within 5″")
            return
        self.state.selection.set_current(row, source=self)
        self._say(f"SAMP pointed at {cat.object_id(row)}")

    def _store_name(self) -> str:
        return self.state.path.name if self.state.path else ""

    def _say(self, text: str) -> None:
        self.w.statusBar().showMessage(text, 8000)
