"""Issue 17's cosmetics, seen in screenshots of the window at its first-start size: a
clipped header in Why anomalous, a clipped combo in Run comparison, similar-object cells
pushed out of view and a count that took the star for a neighbour, and a Period pane
silent about a catalogue period longer than its periodogram reaches."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QStyle, QStyleOptionComboBox

from engine.store import Store

from .test_similar import _show as _show_similar


def _front(qtbot, window, key: str):
    dock = window.docks[key]
    dock.show()
    dock.raise_()
    pane = window.panes[key]
    qtbot.waitUntil(pane.isVisible, timeout=3000)
    return pane


def _header_fits(table) -> None:
    """Every line of every header section fits its section (the style sheet draws headers
    bold, with 6 px padding either side)."""
    hh = table.horizontalHeader()
    font = QFont(hh.font())
    font.setBold(True)
    fm = QFontMetrics(font)
    for col in range(table.columnCount()):
        for line in table.horizontalHeaderItem(col).text().split("\n"):
            assert fm.horizontalAdvance(line) + 12 <= hh.sectionSize(col), line


def _cells_fit(table) -> None:
    fm = table.fontMetrics()
    for i in range(table.rowCount()):
        for j in range(table.columnCount()):
            item = table.item(i, j)
            if item is not None and table.columnSpan(i, j) == 1:
                assert fm.horizontalAdvance(item.text()) <= table.columnWidth(j), item.text()


def test_why_pane_headers_and_numbers_are_not_clipped(qtbot, window):
    pane = _front(qtbot, window, "why")
    window.state.selection.set_current(int(window.state.view.rows[0]))
    qtbot.waitUntil(lambda: "class_features" in pane.values, timeout=5000)
    assert pane.features.rowCount() >= 2
    for size in ((1680, 1000), (1280, 800)):
        window.resize(*size)
        qtbot.wait(50)
        _header_fits(pane.features)
        _cells_fit(pane.features)
        assert pane.features.horizontalScrollBar().maximum() == 0, size   # all in view
    # a store without vetting scores: the message spans the row instead of being cut
    # into the "question" column
    assert pane.vetting.rowCount() == 1 and pane.vetting.columnSpan(0, 0) == 3
    assert "vetting" in pane.vetting.item(0, 0).toolTip()


def _text_room(combo) -> int:
    opt = QStyleOptionComboBox()
    combo.initStyleOption(opt)
    return combo.style().subControlRect(QStyle.CC_ComboBox, opt, QStyle.SC_ComboBoxEditField,
                                        combo).width()


def test_run_comparison_combos_show_their_text(qtbot, window):
    pane = _front(qtbot, window, "compare")
    qtbot.wait(50)
    assert pane.space.currentText().startswith("cartesian (")
    for combo in (pane.space, pane.against, pane.mode):
        widest = max(combo.fontMetrics().horizontalAdvance(combo.itemText(i))
                     for i in range(combo.count()))
        assert widest <= _text_room(combo), combo.currentText()
    bar = pane.select_button.geometry()
    assert bar.right() <= pane.width()                       # the whole bar in view


def test_similar_count_is_of_neighbours_and_cells_stay_in_view(qtbot, window):
    pane = _show_similar(qtbot, window)
    row = int(window.state.view.rows[0])
    window.state.selection.set_current(row)
    qtbot.waitUntil(lambda: not pane._stale and pane.rows[0] == row, timeout=3000)
    k = pane.k.value()
    assert len(pane.rows) == k + 1
    assert pane.status.text().startswith(f"0 of {k} neighbours checked")
    pane.toggle(3)
    assert pane.status.text().startswith(f"1 of {k} neighbours checked ·")
    pane.toggle(0)                                           # the star itself
    assert pane.status.text().startswith(f"1 of {k} neighbours checked and ★ itself")
    assert len(pane.target_rows("checked")) == 2
    for size in ((1680, 1000), (1280, 800)):
        window.resize(*size)
        qtbot.wait(100)
        width = pane.grid.viewport().width()
        for cell in pane.cells:
            assert cell.sceneBoundingRect().right() <= width + 1, (size, cell.titleLabel.text)


def test_period_pane_says_when_the_catalogue_period_is_beyond_the_periodogram(
        qtbot, window, gui_store):
    """An LPV with a catalogue period longer than a third of the baseline: the pane says
    so, still folds on it, and a typed long period folds too."""
    row = int(window.state.view.rows[5])
    with Store(gui_store) as s:
        lc = s.lightcurve(row)
    baseline = float(np.ptp(lc.time))
    long_p = round(0.8 * baseline, 1)
    with Store(gui_store, "a") as s:
        s.update_objects({"period": [long_p]}, [row])
    window.state.reload()
    assert float(window.state.catalog.period[row]) == long_p
    pane = _front(qtbot, window, "period")
    window.state.selection.set_current(row)
    qtbot.waitUntil(lambda: pane.result is not None and pane.row == row, timeout=60_000)
    res = pane.result
    assert res.longest_period < long_p and np.isclose(res.baseline, baseline)
    text = pane.status.text()
    assert f"catalogue P = {long_p:.6g} d is longer than the periodogram reaches" in text
    assert "a third of the" in text
    assert not pane.cat_marker.isVisible()                   # no place on the axis
    assert pane.trial == long_p                              # the fold uses it
    assert len(pane.shown["g"][0]) == 2 * int(np.sum(lc.band == 0))
    pane.period_edit.setText(f"{2 * baseline:.1f}")          # a typed one, longer still
    pane.period_edit.returnPressed.emit()
    assert pane.trial == float(f"{2 * baseline:.1f}") and len(pane.shown["r"][0])
    # an object whose period the periodogram covers says nothing of the kind
    short = int(np.argmin(window.state.catalog.period))
    window.state.selection.set_current(short)
    qtbot.waitUntil(lambda: pane.result is not None and pane.row == short, timeout=60_000)
    assert "longer than the periodogram reaches" not in pane.status.text()
    assert pane.cat_marker.isVisible()
