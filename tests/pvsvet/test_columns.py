"""The table's column chooser (RA/Dec, magnitudes, point counts, the demo's injected
truth) and the colour bar of the score-coloured latent scatter."""
from __future__ import annotations

import numpy as np
import pytest

OPTIONAL_HEADERS = {"RA [°]": "ra", "Dec [°]": "dec", "g [mag]": "mean_g", "r [mag]": "mean_r",
                    "n g": "n_g", "n r": "n_r", "injected": "truth_anomaly"}


def _chooser(window) -> dict:
    return {a.text(): a for a in window.table.filters.columns.menu().actions()}


def test_optional_columns_show_the_stores_values(window):
    from engine.store import Store
    from pvsvet.catalog import COLUMN_KEYS

    t, state = window.table.table, window.state
    offered = _chooser(window)
    assert set(OPTIONAL_HEADERS) <= set(offered)
    with Store(state.path) as st:
        obj = st.read_objects(list(OPTIONAL_HEADERS.values()))
    for header, key in OPTIONAL_HEADERS.items():
        col = COLUMN_KEYS.index(key)
        assert t.isColumnHidden(col)                       # off until chosen
        offered[header].trigger()
        assert not t.isColumnHidden(col)
        for pos in (0, 7):
            row = int(state.view.rows[pos])
            cell = window.table.model.index(pos, col).data()
            assert float(cell) == pytest.approx(float(obj[key][row]), abs=1e-2), header
    # sorting by a chosen column sorts by the store's values
    window.table.model.sort(COLUMN_KEYS.index("n_g"))
    n_g = np.asarray(obj["n_g"])[state.view.rows]
    assert (np.diff(n_g) >= 0).all()
    _score_colouring_has_a_colour_bar(window)        # (one window for both: test time)


def test_the_demos_injected_kind_is_a_column(qtbot, tmp_path, settings):
    from engine.simulate import make_demo
    from engine.store import Store
    from pvsvet.app import make_app
    from pvsvet.catalog import COLUMN_KEYS
    from pvsvet.main_window import MainWindow
    from pvsvet.state import AppState

    from .conftest import _dispose

    path = tmp_path / "demo.h5"
    for _ in make_demo(path, n_objects=120, seed=1, dust=False):
        pass
    with Store(path) as st:
        kinds = st.read_objects(["truth_kind"])["truth_kind"]
    assert any(kinds)                                      # the demo injected some
    make_app()
    w = MainWindow(AppState(), settings)
    qtbot.addWidget(w)
    try:
        assert w.open_store(path)
        _chooser(w)["truth"].trigger()
        col = COLUMN_KEYS.index("truth_kind")
        assert not w.table.table.isColumnHidden(col)
        shown = {w.table.model.index(p, col).data() for p in range(len(w.state.view))}
        assert shown == {str(k) for k in kinds}
    finally:
        _dispose(w)


def _score_colouring_has_a_colour_bar(window):
    import pyqtgraph as pg

    from pvsvet.panes.latent import SCORE_MAP

    pane = window.panes["latent"]
    bar = pane.colour_bar
    pane.colour.setCurrentText("class")
    assert not bar.isVisible()
    pane.colour.setCurrentText("score")
    assert bar.isVisible() and tuple(bar.levels()) == (0.0, 1.0)
    assert bar.colorMap().name == pg.colormap.get(SCORE_MAP).name
    # the brightest point has the bar's top colour, the bar's axis names the space
    pts = pane._items["points"]
    rows = np.asarray(pts.data["data"], dtype=np.int64)
    score = np.nan_to_num(window.state.catalog.score()[rows], nan=0)
    top = pts.data["brush"][int(np.argmax(score))].color()
    want = pg.colormap.get(SCORE_MAP).map(1.0, mode="qcolor")
    assert (top.red(), top.green(), top.blue()) == (want.red(), want.green(), want.blue())
    assert window.state.catalog.rank_space in bar.getAxis("right").labelText
