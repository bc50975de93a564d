"""The run comparison pane: the engine's numbers for a store scored twice, provenance of
both runs, a row click shows the object, 'new in the top N' filters the table."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest


@pytest.fixture
def compared(qtbot, tmp_path, settings):
    """A small store scored twice (cartesian; 30 trees seed 0, then 80 trees seed 5)."""
    from engine.anomaly import score
    from engine.config import ScoreConfig
    from engine.progress import run_quiet
    from pvsvet.app import make_app
    from pvsvet.main_window import MainWindow
    from pvsvet.state import AppState

    from .conftest import _dispose, make_store

    path = make_store(tmp_path / "cmp.h5", n=300, context=False)
    cfg = ScoreConfig(n_estimators=30, n_jobs=1, spaces=("cartesian",), convergence_check=False,
                      top_k=50, top_overlap=10)
    run_quiet(score(path, cfg, force=True))
    run_quiet(score(path, dataclasses.replace(cfg, n_estimators=80, seed=5), force=True))
    make_app()
    w = MainWindow(AppState(), settings)
    qtbot.addWidget(w)
    assert w.open_store(path)
    w.show()
    yield w, path
    _dispose(w)


def test_compare_pane_lists_the_engines_numbers(compared):
    from engine.compare import compare

    w, path = compared
    pane = w.panes["compare"]
    assert pane.space.currentData() == "cartesian"
    pane.top.setValue(20)
    pane.refresh()
    c = compare(path, "cartesian", top=20)
    assert "n_estimators=30" in pane.provenance.text()
    assert "n_estimators=80" in pane.provenance.text() and "seed=5" in pane.provenance.text()
    np.testing.assert_array_equal(pane.rows, c.new_in_top())
    assert pane.list.rowCount() == len(c.new_in_top()) > 0
    r = int(pane.rows[0])
    assert pane.list.item(0, 0).text() == w.state.catalog.object_id(r)
    assert pane.list.item(0, 4).text() == str(int(c.new_rank[r]))
    pane.mode.setCurrentIndex(list(pane.mode.itemData(i) for i in range(pane.mode.count()))
                              .index("rose"))
    np.testing.assert_array_equal(pane.rows, c.risers(200))
    assert pane.list.item(0, 5).text() == f"{int(c.rise[pane.rows[0]]):+d}"
    pane.list.setCurrentCell(2, 0)                              # a row click shows it
    assert w.state.selection.current == int(pane.rows[2])
    # against another space's current ranking: the engine's comparison of the two
    other = next(sp for sp in w.state.catalog.spaces() if sp != "cartesian")
    pane.against.setCurrentIndex(pane.against.findData(other))
    c2 = compare(path, "cartesian", top=20, against=other)
    np.testing.assert_array_equal(pane.comparison.old_rank, c2.old_rank)
    assert f"{other} (current)" in pane.provenance.text()
    pane.against.setCurrentIndex(0)
    # "new in the top N" as a table filter: select them, with "selection only" ticked
    pane.mode.setCurrentIndex(0)
    listed = set(int(r) for r in pane.rows)
    w.table.filters.selected.setChecked(True)
    pane.select_listed()
    assert set(int(r) for r in w.state.view.rows) == listed

