"""The similar-objects grid: neighbours equal a brute-force search, and labelling the grid,
a part of it or a lasso region writes one journal entry per object."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from engine.labels import LabelJournal
from engine.neighbours import NeighbourIndex, brute_force, latent_means
from engine.store import Store


def _show(qtbot, window):
    dock = window.docks["similar"]
    dock.show()
    dock.raise_()
    pane = window.panes["similar"]
    qtbot.waitUntil(lambda: pane.isVisible() and not pane._stale, timeout=3000)
    return pane


def test_index_equals_brute_force_with_unencoded_rows():
    x = np.random.default_rng(3).normal(size=(2000, 10))
    x[[5, 77]] = np.nan                                   # never encoded: not neighbours
    index = NeighbourIndex().fit(x)
    for row in (0, 10, 1999):
        rows, dist = index.query(row, 12)
        ref_rows, ref_dist = brute_force(x, row, 12)
        assert np.array_equal(rows, ref_rows) and np.allclose(dist, ref_dist)
        assert row not in rows and not {5, 77} & set(rows)
    assert len(index.query(5, 12)[0]) == 0


def test_grid_shows_the_brute_force_neighbours_folded(qtbot, window, gui_store):
    pane = _show(qtbot, window)
    row = int(window.state.view.rows[3])
    window.state.selection.set_current(row)
    qtbot.waitUntil(lambda: not pane._stale and pane.rows[0] == row, timeout=3000)
    k = pane.k.value()
    ref, ref_dist = brute_force(latent_means(gui_store), row, k)
    assert np.array_equal(pane.rows, np.concatenate([[row], ref]))
    assert np.allclose(pane.distances[1:], ref_dist, rtol=1e-6)
    with Store(gui_store) as s:                            # cell 2 draws neighbour 2's points
        lc = s.lightcurve(int(ref[1]))
    shown_x, shown_y = pane.cells[2].points[0].getData()
    assert np.allclose(np.sort(shown_y), np.sort(lc.mag[lc.band == 0]))
    assert shown_x.min() >= 0 and shown_x.max() < 1        # folded on the catalogue period


def test_label_checked_and_all_write_one_entry_per_object(qtbot, window, gui_store):
    pane = _show(qtbot, window)
    row = int(window.state.view.rows[0])
    window.state.selection.set_current(row)
    qtbot.waitUntil(lambda: not pane._stale and pane.rows[0] == row, timeout=3000)
    shown = pane.rows.copy()
    pane.toggle(2)
    pane.toggle(5)
    assert pane.label_checked.isEnabled()
    pane.label.setCurrentText("EW")
    qtbot.mouseClick(pane.label_checked, Qt.LeftButton)
    ids = [window.state.catalog.object_id(int(r)) for r in shown]
    with LabelJournal(gui_store) as j:
        entries = j.entries()
    assert sorted(e.object_id for e in entries) == sorted([ids[2], ids[5]])
    assert all(e.label == "EW" and e.space and e.rank for e in entries)
    qtbot.waitUntil(lambda: not pane._stale, timeout=3000)
    pane.label.setCurrentText("anomaly")
    qtbot.mouseClick(pane.label_all, Qt.LeftButton)
    with LabelJournal(gui_store) as j:
        entries = j.entries()[2:]
        current = j.current()
    assert sorted(e.object_id for e in entries) == sorted(ids)   # the object + k neighbours
    assert {current[i].label for i in ids} == {"anomaly"}
    assert window.state.catalog.text("label", int(shown[3])) == "anomaly"


def test_a_lasso_region_is_labelled_whole(qtbot, window, gui_store):
    lat = window.panes["latent"]
    x, y = lat.xy()
    cx, cy, r = np.median(x), np.median(y), np.std(x)
    poly = np.array([(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)])
    rows = lat.apply_polygon(poly)
    assert len(rows) > 16                                   # more than the grid shows
    pane = _show(qtbot, window)
    qtbot.waitUntil(lambda: pane.mode == "selection", timeout=3000)
    assert len(pane.rows) == 16 and set(pane.rows) <= set(rows)
    assert "the selection" in pane.header.text()
    with pytest.raises(Exception, match="unknown label"):    # a typo writes nothing
        pane.label_rows("all", "anomally")
    assert pane.label_rows("all", "interesting") == len(rows)
    with LabelJournal(gui_store) as j:
        entries = j.entries()
    ids = {window.state.catalog.object_id(int(r)) for r in rows}
    assert len(entries) == len(rows) and {e.object_id for e in entries} == ids

