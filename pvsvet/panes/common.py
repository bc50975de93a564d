"""Small helpers shared by the panes: plot styling and the 'no data' message."""
from __future__ import annotations

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
