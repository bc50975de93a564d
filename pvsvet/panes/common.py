"""Small helpers shared by the panes: plot styling and the 'no data' message."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

#: ZTF g and r colours (readable on dark and light backgrounds).
BAND_COLOURS = ("#3cb371", "#e0453a")
BAND_NAMES = ("g", "r")
HIGHLIGHT = "#ffd21f"


def plot_widget(xlabel: str, ylabel: str, xunit: str = "", yunit: str = "") -> pg.PlotWidget:
    """A PlotWidget with labelled axes and a light grid."""
    pw = pg.PlotWidget()
    pi = pw.getPlotItem()
    pi.setLabel("bottom", xlabel, units=xunit or None)
    pi.setLabel("left", ylabel, units=yunit or None)
    pi.showGrid(x=True, y=True, alpha=0.15)
    for name in ("bottom", "left"):
        ax = pi.getAxis(name)
        ax.enableAutoSIPrefix(False)
    pi.setMenuEnabled(False)
    return pw


class MessagePlot(QWidget):
    """A plot with a one-line message strip above it (says what is missing and why)."""

    def __init__(self, plot: pg.PlotWidget, parent=None):
        super().__init__(parent)
        self.plot = plot
        self.message = QLabel(wordWrap=True)
        self.message.setAlignment(Qt.AlignCenter)
        self.message.setStyleSheet("color: #c8a050; padding: 2px;")
        self.message.hide()
        self.text = ""
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.message)
        lay.addWidget(plot, 1)

    def say(self, text: str) -> None:
        """Show ``text`` above the plot; an empty string hides the strip."""
        self.text = text
        self.message.setText(text)
        self.message.setVisible(bool(text))


def rgba(colour: str, alpha: int):
    """``colour`` with alpha 0–255, for pens and brushes."""
    c = pg.mkColor(colour)
    c.setAlpha(alpha)
    return c


class LogAxis(pg.AxisItem):
    """A log-mode axis labelled at 1, 2 and 5 × 10ⁿ only (or decades when the range is
    wide), so labels never run together.

    pyqtgraph labels every minor tick (2…9) of a short log range, which on a 300-px SED
    axis printed "0.3.40.5.6.7.8.9". Ticks are unlabelled lines at the other integers.
    """

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 (pyqtgraph override)
        if not self.logMode:
            return super().tickValues(minVal, maxVal, size)
        return log_ticks(minVal, maxVal, size)

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph override)
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        return [log_label(v) if spacing else "" for v in values]


def log_ticks(lo: float, hi: float, size: float) -> list[tuple[float, list[float]]]:
    """Tick levels for a log10 axis from ``lo`` to ``hi`` (log10 units) over ``size`` px:
    ``[(1, labelled), (0, unlabelled)]``; labels at least ~45 px apart."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return []
    decades = np.arange(np.floor(lo), np.ceil(hi) + 1)
    per_decade = size / (hi - lo)
    steps = (1, 2, 5) if per_decade >= 150 else ((1, 3) if per_decade >= 90 else (1,))
    every = max(1, int(np.ceil(45.0 / per_decade))) if steps == (1,) else 1
    labelled, minor = [], []
    for d in decades:
        for k in range(1, 10):
            v = float(d + np.log10(k))
            if not lo <= v <= hi:
                continue
            if k in steps and (k != 1 or int(d) % every == 0):
                labelled.append(v)
            else:
                minor.append(v)
    return [(1.0, labelled), (0.0, minor)]


def log_label(v: float) -> str:
    """Text of a log10 tick value: plain numbers from 0.001 to 10⁴, else 10ⁿ."""
    x = 10.0 ** v
    if 1e-3 <= x < 1e4:
        return f"{x:.3g}"
    mant = x / 10 ** np.floor(v + 1e-9)
    exp = int(np.floor(v + 1e-9))
    sup = str(exp).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"10{sup}" if abs(mant - 1) < 1e-6 else f"{mant:.0f}·10{sup}"
