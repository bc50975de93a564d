"""The export choices: which labels, how many of the ranking, which space."""
from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QListWidget,
                               QListWidgetItem, QSpinBox)
from PySide6.QtCore import Qt


class ExportDialog(QDialog):
    """Labels to export (none ticked: no label filter), top N (0: all), ranking space."""

    def __init__(self, labels: list[str], spaces: list[str], space: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export target list")
        self.labels = QListWidget(toolTip="export only objects with these labels (none "
                                  "ticked: with a top N, the top of the ranking, labelled or "
                                  "not; else every labelled object)")
        for lab in labels:
            item = QListWidgetItem(lab)
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Unchecked)
            self.labels.addItem(item)
        self.top = QSpinBox(toolTip="the N best ranked (0: no limit)")
        self.top.setRange(0, 10_000_000)
        self.top.setValue(0 if labels else 100)
        self.space = QComboBox(toolTip="the score space that ranks the list")
        for sp in spaces:
            self.space.addItem(sp, sp)
        self.space.setCurrentIndex(max(0, self.space.findData(space)))
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("labels", self.labels)
        form.addRow("top N", self.top)
        form.addRow("ranked by", self.space)
        form.addRow(buttons)

    def choice(self) -> dict:
        """Keyword arguments of :meth:`pvsvet.menus.Menus.export_to`."""
        ticked = [self.labels.item(i).text() for i in range(self.labels.count())
                  if self.labels.item(i).checkState() == Qt.Checked]
        return {"labels": ticked or None, "top": self.top.value() or None,
                "space": self.space.currentData()}
