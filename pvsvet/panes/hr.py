"""Gaia HR diagram: M_G against BP−RP with the Mowlavi et al. (2018) YSO/LPV line."""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ..state import AppState
from .common import HIGHLIGHT, MessagePlot, plot_widget, rgba

logger = logging.getLogger(__name__)

_X_KEYS = ("bp_rp", "bp_rp0", "BP-RP", "color", "x")
_Y_KEYS = ("M_G", "abs_g", "mg", "MG", "abs_mag_g", "y")


def hr_xy(data: Any) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """(rows or None, BP−RP, M_G) from what ``engine.context`` returns.

    Accepts a dict with colour/magnitude keys (and optional ``rows``), a
    ``(x, y)`` or ``(rows, x, y)`` tuple, or an (N, 2) array.
    """
    if data is None:
        return None, np.empty(0), np.empty(0)
    if isinstance(data, dict):
        x = next((data[k] for k in _X_KEYS if k in data), None)
        y = next((data[k] for k in _Y_KEYS if k in data), None)
        if x is None or y is None:
            raise ValueError(f"HR data has no colour/magnitude keys: {sorted(data)}")
        rows = data.get("rows", data.get("row"))
        return (None if rows is None else np.atleast_1d(np.asarray(rows, int)),
                np.atleast_1d(np.asarray(x, "f8")), np.atleast_1d(np.asarray(y, "f8")))
    if isinstance(data, (tuple, list)):
        parts = [np.atleast_1d(np.asarray(p, "f8")) for p in data]
        if len(parts) == 3:
            return parts[0].astype(int), parts[1], parts[2]
        return None, parts[0], parts[1]
    arr = np.asarray(data, "f8")
    return None, arr[:, 0], arr[:, 1]


class HRPane(QWidget):
    """HR diagram with the field, the context sample and the current object."""

    def __init__(self, state: AppState, parent=None):
        super().__init__(parent)
        self.state = state
        self.pw = plot_widget("BP − RP", "M_G", "mag", "mag")
        self.pw.getPlotItem().invertY(True)
        self.box = MessagePlot(self.pw)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.box)
        self.current_xy: tuple[float, float] | None = None
        self._sample_rows: np.ndarray | None = None
        self._sample_xy = (np.empty(0), np.empty(0))
        self._current = pg.ScatterPlotItem(size=20, symbol="star", brush=HIGHLIGHT,
                                           pen=pg.mkPen("k", width=1))
        self._current.setZValue(10)
        state.loaded.connect(self.on_loaded)
        state.selection.changed.connect(self.on_selection)
        self.on_loaded(state)

    def on_loaded(self, state: AppState) -> None:
        pi = self.pw.getPlotItem()
        pi.clear()
        pi.addItem(self._current)
        self._sample_rows = None
        hr = state.hr
        if "context" not in state.groups or hr is None:
            self.box.say("no cross-match yet — Run ▸ Context")
            return
        if hr.get("message"):
            self.box.say(hr["message"])
            return
        try:
            self._draw_field(hr)
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            logger.warning("HR data unreadable: %s", exc)
            self.box.say(f"HR data unreadable: {exc}")
            return
        self.box.say("")
        self.on_selection(state.selection, None)

    def _draw_field(self, hr: dict) -> None:
        pi = self.pw.getPlotItem()
        if hr.get("background") is not None:
            _, bx, by = hr_xy(hr["background"])
            pi.addItem(pg.ScatterPlotItem(bx, by, size=2, pen=None,
                                          brush=pg.mkBrush(rgba("#9aa0a6", 60))))
        rows, x, y = hr_xy(hr.get("points"))
        self._sample_rows, self._sample_xy = rows, (x, y)
        pi.addItem(pg.ScatterPlotItem(x, y, size=5, pen=None,
                                      brush=pg.mkBrush(rgba("#4e79a7", 200)),
                                      name="context sample"))
        if hr.get("mowlavi") is not None:
            _, mx, my = hr_xy(hr["mowlavi"])
            pi.plot(mx, my, pen=pg.mkPen("#e15759", width=2, style=pg.QtCore.Qt.DashLine))
            if len(mx):
                # a third of the way along, so the text stays inside the pane
                f = 0.3
                label = pg.TextItem("YSO | LPV", color="#e15759", anchor=(0, 1))
                label.setPos(float(mx[0] + f * (mx[-1] - mx[0])),
                             float(my[0] + f * (my[-1] - my[0])))
                pi.addItem(label)

    def on_selection(self, sel, source) -> None:
        self.current_xy = None
        row = sel.current
        xy = self._xy_of(row) if row is not None else None
        if xy is None:
            self._current.setData([], [])
            if row is not None and "context" in self.state.groups and self._sample_rows is not None:
                self.box.say("current object: not in the HR sample")
            return
        self.current_xy = xy
        self._current.setData([xy[0]], [xy[1]])
        self.box.say("")

    def _xy_of(self, row: int) -> tuple[float, float] | None:
        rows = self._sample_rows
        if rows is not None and len(rows):
            hit = np.flatnonzero(rows == row)
            if len(hit):
                x, y = self._sample_xy
                return float(x[hit[0]]), float(y[hit[0]])
        det = self.state.detail(row) if "context" in self.state.groups else None
        ctx = det.context if det is not None else None
        if ctx and ctx.get("hr") is not None:
            try:
                _, x, y = hr_xy(ctx["hr"])
            except ValueError:
                return None
            if len(x) and np.isfinite(x[0]) and np.isfinite(y[0]):
                return float(x[0]), float(y[0])
        return None
