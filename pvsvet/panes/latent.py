"""Latent-space scatter: any two latent dimensions, spherical angles, log P or g−r.

Below :data:`DENSITY_ABOVE` points every object is drawn; above, the field is a 2-D
histogram image and only the selection, the labelled and the top-ranked objects are
drawn as points on top. Box and lasso selections feed the shared selection.
"""
from __future__ import annotations

import logging

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.anomaly.features import cartesian_names, spherical_names, to_spherical

from ..geometry import points_in_polygon, simplify
from ..loading import last_angle, read_feature
from ..state import AppState
from .common import HIGHLIGHT, MessagePlot, rgba

logger = logging.getLogger(__name__)

DENSITY_ABOVE = 20000
N_OVERLAY = 2000           # top-ranked objects drawn over the density image
#: The colour map of points coloured by score, and of its colour bar.
SCORE_MAP = "plasma"
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac", "#86bcb6", "#d37295")


class SelectViewBox(pg.ViewBox):
    """A ViewBox that, in box or lasso mode, turns a drag into a polygon."""

    def __init__(self, on_polygon, **kw):
        super().__init__(**kw)
        self.mode = "pan"
        self.on_polygon = on_polygon
        self._path: list[tuple[float, float]] = []
        self._outline = pg.PlotCurveItem(pen=pg.mkPen(HIGHLIGHT, width=1.5, style=Qt.DashLine))
        self._outline.setZValue(100)
        self.addItem(self._outline, ignoreBounds=True)

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 (Qt override)
        if self.mode == "pan" or ev.button() != Qt.LeftButton:
            return super().mouseDragEvent(ev, axis)
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            start = self.mapSceneToView(ev.buttonDownScenePos())
            self._path = [(start.x(), start.y())]
        self._path.append((p.x(), p.y()))
        poly = self._polygon()
        closed = np.vstack([poly, poly[:1]])
        self._outline.setData(closed[:, 0], closed[:, 1])
        if ev.isFinish():
            self._outline.setData([], [])
            self.on_polygon(poly)

    def _polygon(self) -> np.ndarray:
        pts = np.asarray(self._path)
        if self.mode == "box":
            (x0, y0), (x1, y1) = pts[0], pts[-1]
            return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
        return pts


def axis_choices(latent_dim: int) -> list[str]:
    """Axis names when the store keeps no scored feature matrices: the latent means as
    the store names them (mu_0…), their spherical coordinates, log10 P and g−r."""
    dims = cartesian_names(latent_dim)[:latent_dim]
    return dims + spherical_names(latent_dim)[:latent_dim] + ["log10_period", "m_gr"]


class LatentPane(QWidget):
    """Scatter of two chosen coordinates, linked to ``state.selection``."""

    def __init__(self, state: AppState, parent=None):
        super().__init__(parent)
        self.state = state
        self._coords: dict[str, np.ndarray] = {}
        self._sph: np.ndarray | None = None
        self._wanted: dict[str, str] = {}     # axis choices restored before data loads
        self.vb = SelectViewBox(self.apply_polygon)
        self.pw = pg.PlotWidget(viewBox=self.vb)
        _style(self.pw)
        self.box = MessagePlot(self.pw)
        self.xaxis, self.yaxis, self.colour, self.mode = (QComboBox() for _ in range(4))
        self.colour.addItems(["class", "score", "label"])
        self.mode.addItems(["pan/zoom", "box select", "lasso select"])
        self.legend = QLabel(wordWrap=True)
        self.colour_bar = _score_bar(self.pw)
        self._items = self._make_items()
        self._build_layout()
        for combo in (self.xaxis, self.yaxis, self.colour):
            combo.currentIndexChanged.connect(self.redraw)
        self.mode.currentIndexChanged.connect(self._on_mode)
        state.selection.changed.connect(self.on_selection)
        state.loaded.connect(self.on_loaded)
        state.labels_changed.connect(lambda rows: self.redraw())
        state.view_changed.connect(self.redraw)
        self.on_loaded(state)

    def _make_items(self) -> dict:
        items = {"image": pg.ImageItem(), "points": pg.ScatterPlotItem(pen=None, size=4),
                 "selected": pg.ScatterPlotItem(size=9, brush=None,
                                                pen=pg.mkPen(HIGHLIGHT, width=1.5)),
                 "current": pg.ScatterPlotItem(size=18, symbol="star", brush=HIGHLIGHT,
                                               pen=pg.mkPen("k", width=1))}
        for z, item in enumerate(items.values()):
            item.setZValue(z)
            self.pw.addItem(item)
        return items

    def _build_layout(self) -> None:
        bar = QHBoxLayout()
        for text, w in (("x", self.xaxis), ("y", self.yaxis), ("colour", self.colour),
                        ("", self.mode)):
            if text:
                bar.addWidget(QLabel(text))
            bar.addWidget(w)
        bar.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addWidget(self.box, 1)
        lay.addWidget(self.legend)

    # -- data ----------------------------------------------------------------
    def on_loaded(self, state: AppState) -> None:
        cat = state.catalog
        self._sph = None
        # without stored features, period and colour come from the catalogue
        self._coords = {} if state.features else {
            "log10_period": np.log10(np.where(cat.period > 0, cat.period, np.nan)),
            "m_gr": cat.gr.astype("f8")}
        dim = state.latent.shape[1] if state.latent is not None else 0
        if state.features:
            choices = list(state.features)             # the numbers the forests scored
        else:
            choices = axis_choices(dim) if dim >= 2 else ["log10_period", "m_gr"]
        for combo, default, key in ((self.xaxis, 0, "x"), (self.yaxis, 1, "y")):
            want = self._wanted.get(key) or (combo.currentText() if combo.count() > 2 else "")
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(choices)
            combo.setCurrentIndex(choices.index(want) if want in choices and dim
                                  else default)
            combo.blockSignals(False)
        if dim:
            self._wanted = {}
        self.redraw()

    def coordinate(self, name: str) -> np.ndarray:
        """Values of one axis choice for every object: the stored feature matrix of the
        score stage where it exists (what the forest scored, θ9 included), else the
        latent means and the engine's spherical transform with the stored convention."""
        state = self.state
        if name in self._coords:
            return self._coords[name]
        if name in state.features:
            space, col = state.features[name]
            self._coords[name] = read_feature(state.path, space, col)[:len(state.catalog)]
            return self._coords[name]
        lat = state.latent
        if name.startswith("mu_"):
            return lat[:, int(name[3:])].astype("f8")
        if self._sph is None:
            self._sph = to_spherical(lat, last_angle(state.path))
        return self._sph[:, 0 if name == "r" else int(name.split("_")[1])]

    def xy(self) -> tuple[np.ndarray, np.ndarray]:
        return self.coordinate(self.xaxis.currentText()), self.coordinate(self.yaxis.currentText())

    # -- drawing -----------------------------------------------------------------
    def redraw(self) -> None:
        n = len(self.state.catalog)
        if not n or not self.xaxis.count():
            return
        x, y = self.xy()
        dense = n > DENSITY_ABOVE
        self.box.say("" if self.state.latent is not None else
                     "no latent space yet — Run ▸ Retrain VAE (then Encode); showing log P, g−r")
        if not self.state.view.mask().any():
            self.box.say("no object passes the table's filter")
        shown = self.state.view.mask()        # the table's filter (class, label, score…)
        if dense:
            self._draw_density(x[shown], y[shown])
            rows = np.intersect1d(self._overlay_rows(), np.flatnonzero(shown))
        else:
            self._items["image"].clear()
            rows = np.flatnonzero(shown)
        self._items["points"].setData(x[rows], y[rows], brush=self._brushes(rows), data=rows)
        self.pw.setLabel("bottom", self.xaxis.currentText())
        self.pw.setLabel("left", self.yaxis.currentText())
        self.on_selection(self.state.selection, None)

    def _overlay_rows(self) -> np.ndarray:
        cat = self.state.catalog
        top = np.flatnonzero((cat.rank > 0) & (cat.rank <= N_OVERLAY))
        return np.union1d(top, np.flatnonzero(cat.label_code >= 0))

    def _draw_density(self, x: np.ndarray, y: np.ndarray) -> None:
        ok = np.isfinite(x) & np.isfinite(y)
        if not ok.any():
            return
        lo_x, hi_x = np.percentile(x[ok], [0.05, 99.95])
        lo_y, hi_y = np.percentile(y[ok], [0.05, 99.95])
        hist, xe, ye = np.histogram2d(x[ok], y[ok], bins=256,
                                      range=[[lo_x, hi_x + 1e-9], [lo_y, hi_y + 1e-9]])
        img = self._items["image"]
        img.setImage(np.log1p(hist), autoLevels=True)
        img.setColorMap(pg.colormap.get("viridis"))
        img.setRect(xe[0], ye[0], xe[-1] - xe[0], ye[-1] - ye[0])

    def _brushes(self, rows: np.ndarray) -> list:
        cat, how = self.state.catalog, self.colour.currentText()
        self.colour_bar.setVisible(how == "score")
        if how == "score":
            self.colour_bar.setLabel("right", f"{cat.rank_space or 'no'} score")
            s = np.nan_to_num(cat.score()[rows], nan=0.0)
            lut = pg.colormap.get(SCORE_MAP).getLookupTable(0, 1, 256, alpha=True)
            idx = np.clip((s * 255).astype(int), 0, 255)
            cols = [pg.mkBrush(*lut[i]) for i in range(256)]
            self.legend.setText(f"colour: {cat.rank_space or 'no'} anomaly score "
                                "(dark 0 → bright 1)")
            return [cols[i] for i in idx]
        if how == "label":
            names, codes = cat.label_names, cat.label_code[rows]
            cols = [pg.mkBrush(rgba(PALETTE[i % len(PALETTE)], 230)) for i in range(len(names))]
            grey = pg.mkBrush(rgba("#808080", 70))
            self.legend.setText(self._legend_html(names, "unlabelled: grey"))
            return [cols[c] if c >= 0 else grey for c in codes]
        classes = np.unique(cat.classes)
        code = np.searchsorted(classes, cat.classes[rows])
        cols = [pg.mkBrush(rgba(PALETTE[i % len(PALETTE)], 150)) for i in range(len(classes))]
        self.legend.setText(self._legend_html([c.decode() for c in classes], ""))
        return [cols[c] for c in code]

    @staticmethod
    def _legend_html(names: list[str], extra: str) -> str:
        parts = [f"<span style='color:{PALETTE[i % len(PALETTE)]}'>●</span> {n}"
                 for i, n in enumerate(names)]
        return " &nbsp; ".join(parts + ([extra] if extra else []))

    def on_selection(self, sel, source) -> None:
        if not len(self.state.catalog) or not self.xaxis.count():
            return
        x, y = self.xy()
        rows = sel.rows[:5000]
        self._items["selected"].setData(x[rows], y[rows])
        cur = [] if sel.current is None else [sel.current]
        self._items["current"].setData(x[cur], y[cur])

    # -- selecting ---------------------------------------------------------------
    def _on_mode(self) -> None:
        self.vb.mode = ("pan", "box", "lasso")[self.mode.currentIndex()]
        self.vb.setMouseEnabled(self.vb.mode == "pan", self.vb.mode == "pan")

    def apply_polygon(self, polygon) -> np.ndarray:
        """Select the objects inside ``polygon`` ((M, 2) data coordinates); return rows."""
        x, y = self.xy()
        inside = points_in_polygon(x, y, simplify(polygon)) & self.state.view.mask()
        rows = np.flatnonzero(inside)              # only what is drawn can be selected
        current = None
        if len(rows):
            score = np.nan_to_num(self.state.catalog.score()[rows], nan=-1)
            current = int(rows[np.argmax(score)])   # show the most anomalous one
        self.state.selection.select(rows, current, source=self)
        return rows

    def settings(self) -> dict:
        return {"x": self.xaxis.currentText(), "y": self.yaxis.currentText(),
                "colour": self.colour.currentText()}

    def restore(self, s: dict) -> None:
        self._wanted = {k: str(v) for k, v in s.items() if v}
        for combo, key in ((self.xaxis, "x"), (self.yaxis, "y"), (self.colour, "colour")):
            if s.get(key) and combo.findText(str(s[key])) >= 0:
                combo.setCurrentText(str(s[key]))


def _score_bar(pw: pg.PlotWidget) -> pg.ColorBarItem:
    """A colour bar (score 0 to 1) at the right of the plot, shown while points are
    coloured by score: the legend's words alone did not say which colour is which."""
    bar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=pg.colormap.get(SCORE_MAP),
                          interactive=False, width=12, rounding=0.01)
    pw.getPlotItem().layout.addItem(bar, 2, 5)
    bar.setVisible(False)
    return bar


def _style(pw: pg.PlotWidget) -> None:
    pi = pw.getPlotItem()
    pi.showGrid(x=True, y=True, alpha=0.15)
    pi.setMenuEnabled(False)
