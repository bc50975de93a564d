"""Light curves of the current object: raw points, GP mean ±2σ, VAE reconstruction.

Magnitudes of the GP and the reconstruction are the scaled curves of eq. 6 turned
back into magnitudes, ``m = y·σ + m̄`` with ``raw_mean_mag`` and ``raw_std_mag``.
"""
from __future__ import annotations

import logging

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..loading import MODEL_GROUPS
from ..state import AppState, ObjectDetail
from ..workers import call_async
from .common import BAND_COLOURS, BAND_NAMES, MessagePlot, plot_widget, rgba

logger = logging.getLogger(__name__)


def fold(time: np.ndarray, period: float) -> np.ndarray:
    """Phase of eq. 1, φ = t/τ − ⌊t/τ⌋ (time and period in days)."""
    x = time / period
    return x - np.floor(x)


def to_mag(scaled: np.ndarray, raw_mean: np.ndarray, raw_std: np.ndarray) -> np.ndarray:
    """Scaled curves (2, n) back to magnitudes with the per-band m̄ and σ of eq. 6."""
    return scaled * raw_std[:, None] + raw_mean[:, None]


class LightCurvePane(QWidget):
    """Plots of the current object of ``state.selection``."""

    def __init__(self, state: AppState, parent=None):
        super().__init__(parent)
        self.state = state
        self.row: int | None = None
        self.shown: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._recon: dict[int, np.ndarray | str] = {}
        self.pw = plot_widget("phase", "magnitude", "", "mag")
        self.pw.getPlotItem().invertY(True)
        self.pw.getPlotItem().addLegend(offset=(-10, 10), labelTextSize="9pt")
        self.box = MessagePlot(self.pw)
        self.title = QLabel()
        self.title.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.axis = QComboBox()
        self.axis.addItems(["phase", "time"])
        self.gp = QCheckBox("GP ±2σ", checked=True)
        self.recon = QCheckBox("VAE reconstruction", checked=True)
        self.cycles = QCheckBox("2 cycles", checked=True)
        self._build_layout()
        for sig in (self.axis.currentIndexChanged, self.gp.toggled, self.recon.toggled,
                    self.cycles.toggled):
            sig.connect(self.redraw)
        state.selection.changed.connect(self.on_selection)
        state.loaded.connect(self.on_loaded)
        self.redraw()

    def _build_layout(self) -> None:
        bar = QHBoxLayout()
        bar.addWidget(self.title, 1)
        for w in (self.axis, self.gp, self.recon, self.cycles):
            bar.addWidget(w)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addWidget(self.box, 1)

    # -- state ---------------------------------------------------------------
    def on_loaded(self, state: AppState) -> None:
        self._recon.clear()
        self.redraw()

    def on_selection(self, sel, source) -> None:
        if sel.current != self.row:
            self.row = sel.current
            self.redraw()

    def settings(self) -> dict:
        return {"axis": self.axis.currentText(), "gp": self.gp.isChecked(),
                "recon": self.recon.isChecked(), "cycles": self.cycles.isChecked()}

    def restore(self, s: dict) -> None:
        self.axis.setCurrentText(str(s.get("axis", "phase")))
        for box, key in ((self.gp, "gp"), (self.recon, "recon"), (self.cycles, "cycles")):
            if key in s:
                box.setChecked(str(s[key]).lower() in ("true", "1"))

    # -- drawing ---------------------------------------------------------------
    def redraw(self) -> None:
        pi = self.pw.getPlotItem()
        pi.clear()
        self.shown = {}
        if self.row is None or self.state.path is None:
            self.title.setText("")
            self.box.say("select an object in the table")
            return
        det = self.state.detail(self.row)
        if det.busy or det.error:
            self.box.say("store busy (a run is committing) — retrying" if det.busy
                         else det.error)
            return
        self._draw(det)

    def _draw(self, det: ObjectDetail) -> None:
        cat = self.state.catalog
        phase_mode = self.axis.currentText() == "phase"
        self.title.setText(f"<b>{det.object_id}</b> &nbsp; {cat.text('class', det.row)} &nbsp; "
                           f"P = {det.period:.6g} d")
        pi = self.pw.getPlotItem()
        pi.setLabel("bottom", "phase" if phase_mode else "time", units=None if phase_mode
                    else "MJD")
        notes = []
        ok_period = np.isfinite(det.period) and det.period > 0
        if phase_mode and not ok_period:
            notes.append("no valid period: showing time")
            phase_mode = False
        self._draw_points(det, phase_mode)
        if phase_mode:
            notes += self._draw_models(det)
        self.box.say(" · ".join(n for n in notes if n))

    def _xs(self, x: np.ndarray, phase_mode: bool) -> np.ndarray:
        return np.concatenate([x, x + 1]) if phase_mode and self.cycles.isChecked() else x

    def _ys(self, y: np.ndarray, phase_mode: bool) -> np.ndarray:
        return np.concatenate([y, y]) if phase_mode and self.cycles.isChecked() else y

    def _draw_points(self, det: ObjectDetail, phase_mode: bool) -> None:
        lc, pi = det.lightcurve, self.pw.getPlotItem()
        for code, (name, colour) in enumerate(zip(BAND_NAMES, BAND_COLOURS)):
            m = lc.band == code
            if not m.any():
                continue
            t, mag, err = lc.time[m], lc.mag[m].astype("f8"), lc.magerr[m].astype("f8")
            x = self._xs(fold(t, det.period) if phase_mode else t - 0.0, phase_mode)
            y, e = self._ys(mag, phase_mode), self._ys(err, phase_mode)
            pi.addItem(pg.ErrorBarItem(x=x, y=y, height=2 * e, beam=0,
                                       pen=pg.mkPen(rgba(colour, 90), width=1)))
            pi.plot(x, y, pen=None, symbol="o", symbolSize=5, symbolBrush=colour,
                    symbolPen=None, name=f"ZTF {name}")
            self.shown[name] = (x, y)

    def _draw_models(self, det: ObjectDetail) -> list[str]:
        notes = []
        if det.interp is None:
            return ["no interpolation yet — Run ▸ Interpolate"]
        it = det.interp
        if it.get("status"):
            notes.append(f"GP flagged: {it.get('status_msg') or it['status']}")
        mean = to_mag(it["mean"], it["raw_mean_mag"], it["raw_std_mag"])
        sig = it["std"] * it["raw_std_mag"][:, None]
        if self.gp.isChecked():
            self._draw_gp(it["phase"], mean, sig)
        if self.recon.isChecked():
            notes.append(self._draw_recon(det, it))
        return notes

    def _draw_gp(self, phase: np.ndarray, mean: np.ndarray, sig: np.ndarray) -> None:
        pi = self.pw.getPlotItem()
        x = self._xs(phase, True)
        for b, colour in enumerate(BAND_COLOURS):
            y, s = self._ys(mean[b], True), self._ys(sig[b], True)
            lo = pi.plot(x, y - 2 * s, pen=pg.mkPen(rgba(colour, 60), width=0.5))
            hi = pi.plot(x, y + 2 * s, pen=pg.mkPen(rgba(colour, 60), width=0.5))
            pi.addItem(pg.FillBetweenItem(lo, hi, brush=pg.mkBrush(rgba(colour, 48))))
            pi.plot(x, y, pen=pg.mkPen(colour, width=2),
                    name=f"GP {BAND_NAMES[b]} ±2σ" if b == 0 else None)
            self.shown[f"gp_{BAND_NAMES[b]}"] = (x, y)

    def _draw_recon(self, det: ObjectDetail, it: dict) -> str:
        if not MODEL_GROUPS & self.state.groups:
            return "no trained VAE yet — Run ▸ Retrain VAE"
        rec = self._recon.get(det.row)
        if rec is None:
            self._request_recon(det.row)
            return "decoding VAE reconstruction…"
        if isinstance(rec, str):
            return rec
        pi, x = self.pw.getPlotItem(), self._xs(it["phase"], True)
        mag = to_mag(rec, it["raw_mean_mag"], it["raw_std_mag"])
        for b, colour in enumerate(BAND_COLOURS):
            pi.plot(x, self._ys(mag[b], True),
                    pen=pg.mkPen(colour, width=1.5, style=Qt.DashLine),
                    name="VAE reconstruction" if b == 0 else None)
        return ""

    def _request_recon(self, row: int) -> None:
        path = self.state.path
        self._recon[row] = "decoding VAE reconstruction…"

        def work():
            from engine.vae import reconstruct
            return np.asarray(reconstruct(path, [row]))[0]

        def done(result, err):
            self._recon[row] = result if err is None else f"reconstruction unavailable: {err}"
            if row == self.row and path == self.state.path:
                self.redraw()

        call_async(work, done)
