"""The main window, offscreen: linked panes, lasso, keyboard labels, export."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from engine.store import Store
from pvsvet.catalog import COLUMN_KEYS


def _click_row(qtbot, window, position: int) -> int:
    view = window.table.table
    index = window.table.model.index(position, COLUMN_KEYS.index("id"))
    view.scrollTo(index)
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=view.visualRect(index).center())
    return int(window.state.view.rows[position])


def test_table_click_updates_every_pane(qtbot, window, gui_store):
    row = _click_row(qtbot, window, 4)
    assert window.state.selection.current == row
    with Store(gui_store) as s:
        lc = s.lightcurve(row)
        from engine.context import load_context
        ctx = load_context(s, row)
    lcp = window.panes["light_curve"]
    assert lcp.row == row
    g = lc.mag[lc.band == 0]
    shown_g = lcp.shown["g"][1]
    assert np.allclose(np.sort(shown_g[:len(g)]), np.sort(g))        # the selected object's points
    assert "gp_g" in lcp.shown                                       # GP drawn in magnitudes
    gp = lcp.shown["gp_g"][1][:160]
    assert abs(np.median(gp) - np.median(g)) < 0.5
    assert ctx is not None                                            # top-ranked: in /context
    hr = window.panes["hr"]
    assert hr.current_xy == pytest.approx((ctx["hr"]["bp_rp"], ctx["hr"]["M_G"]))
    sed = window.panes["sed"]
    assert np.allclose(sed.shown[1], ctx["sed"]["lam_flam"])
    lat = window.panes["latent"]
    x, y = lat.xy()
    cx, cy = lat._items["current"].getData()
    assert (cx[0], cy[0]) == pytest.approx((x[row], y[row]))
    assert window.panes["labels"].row == row


def test_keys_move_through_the_ranking(qtbot, window):
    _click_row(qtbot, window, 0)
    qtbot.keyClick(window.table.table, Qt.Key_J)
    qtbot.keyClick(window.table.table, Qt.Key_J)
    assert window.state.selection.current == int(window.state.view.rows[2])
    qtbot.keyClick(window.table.table, Qt.Key_K)
    assert window.state.selection.current == int(window.state.view.rows[1])


def test_lasso_selects_exactly_the_enclosed_objects(qtbot, window):
    mpath = pytest.importorskip("matplotlib.path")
    lat = window.panes["latent"]
    x, y = lat.xy()
    cx, cy = np.median(x), np.median(y)
    t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    poly = np.c_[cx + 2.0 * np.cos(t) * (1 + 0.3 * np.sin(3 * t)), cy + 1.5 * np.sin(t)]
    lat.mode.setCurrentIndex(2)                                       # lasso
    _drag(lat.vb, poly)                                               # through the ViewBox
    expected = np.flatnonzero(mpath.Path(poly).contains_points(np.c_[x, y]))
    sel = window.state.selection
    assert len(expected) > 5 and np.array_equal(sel.rows, expected)
    scores = window.state.catalog.score()[expected]
    assert sel.current == expected[np.argmax(scores)]                 # shows the most anomalous
    assert window.panes["light_curve"].row == sel.current


class _FakeDrag:
    """The parts of pyqtgraph's MouseDragEvent the ViewBox reads."""

    def __init__(self, vb, pts, i):
        self.vb, self.pts, self.i = vb, pts, i

    def button(self):
        return Qt.LeftButton

    def isStart(self):  # noqa: N802
        return self.i == 0

    def isFinish(self):  # noqa: N802
        return self.i == len(self.pts) - 1

    def scenePos(self):  # noqa: N802
        return self.vb.mapViewToScene(QPointF(*self.pts[self.i]))

    def buttonDownScenePos(self):  # noqa: N802
        return self.vb.mapViewToScene(QPointF(*self.pts[0]))

    def accept(self):
        pass


def _drag(vb, poly):
    pts = np.vstack([poly, poly[:1]])
    for i in range(len(pts)):
        vb.mouseDragEvent(_FakeDrag(vb, pts, i))


def test_label_key_is_journalled_and_survives_reopening(qtbot, window, gui_store, settings):
    pytest.importorskip("engine.labels")
    from engine.labels import LabelJournal
    from pvsvet.main_window import MainWindow
    from pvsvet.state import AppState

    row = _click_row(qtbot, window, 1)
    oid = window.state.catalog.object_id(row)
    first = window.panes["labels"].labels[0]
    window.panes["labels"].note.setText("odd bump at phase 0.3")
    window.table.table.setFocus()
    qtbot.keyClick(window.table.table, "1")
    col = COLUMN_KEYS.index("label")
    assert window.table.model.index(1, col).data() == first
    with LabelJournal(gui_store) as j:
        entry = j.current()[oid]
    assert entry.label == first and entry.note == "odd bump at phase 0.3"
    qtbot.keyClick(window.table.table, "2")
    window.menus.undo_action.trigger()                               # Ctrl+Z
    assert window.state.catalog.text("label", row) == first
    window.close()
    again = MainWindow(AppState(), settings)
    qtbot.addWidget(again)
    assert again.open_store(gui_store)
    assert again.state.catalog.text("label", row) == first
    again.state.selection.set_current(row)
    items = [again.panes["labels"].history.item(i).text()
             for i in range(again.panes["labels"].history.count())]
    assert len(items) == 3 and first in items[-1]          # label, label, undo (newest first)
    assert "odd bump" in items[-1]


@pytest.mark.parametrize("ext", [".ecsv", ".xml", ".csv"])
def test_export_reads_back_and_matches_the_journal(qtbot, window, gui_store, tmp_path, ext):
    pytest.importorskip("engine.labels")
    from astropy.table import Table

    from engine.labels import LabelJournal

    labels = window.panes["labels"].labels
    for pos, lab in ((0, labels[0]), (3, labels[1]), (5, labels[0])):
        window.state.add_label(int(window.state.view.rows[pos]), lab, note=f"n{pos}")
    out = window.menus.export_to(tmp_path / f"targets{ext}")
    assert out is not None and out.exists()
    fmt = {".ecsv": "ascii.ecsv", ".xml": "votable", ".csv": "ascii.csv"}[ext]
    table = Table.read(out, format=fmt)
    with LabelJournal(gui_store) as j:
        current = {k: v.label for k, v in j.current().items()}
    got = {str(i): str(lab) for i, lab in zip(table["id"], table["label"])}
    assert got == current and len(got) == 3


@pytest.mark.parametrize("key,group", [("score_active", "scores/active"),
                                       ("score_diagnostic", "scores/diagnostic"),
                                       ("score_vetting", "scores/vetting")])
def test_optional_scores_get_their_own_sortable_column(qtbot, window, gui_store, key, group):
    """After Run > Score with labels (or a diagnostic-space score run) the table shows
    that score and ranks by it."""
    table, col = window.table, COLUMN_KEYS.index(key)
    assert table.table.isColumnHidden(col)             # no such scores yet
    n = len(window.state.catalog)
    active = np.random.default_rng(5).random(n)
    with Store(gui_store, "a") as s:
        s.write_group(group, {"score": active / active.max(),
                              "rank": np.argsort(np.argsort(-active)) + 1})
    window.state.reload()
    assert not table.table.isColumnHidden(col)
    table.model.sort(col, Qt.DescendingOrder)
    assert int(window.state.view.rows[0]) == int(np.argmax(active))
    assert table.model.data(table.model.index(0, col)) == "1.000"


def test_vetting_question_column_says_why_an_object_was_flagged(qtbot, window, gui_store):
    """A vetting-space score run adds a column naming, for every scored row, the question
    behind its score and its −log10 p, with the question and its p value as a tooltip
    (issue 17, defect 5: it was one word, no value, blank unless p < 0.1)."""
    table, col = window.table, COLUMN_KEYS.index("why")
    assert table.table.isColumnHidden(col)
    n = len(window.state.catalog)
    rng = np.random.default_rng(6)
    surprise = rng.exponential(0.3, (n, 5)).astype("f4")       # most rows: nothing below 0.1
    surprise[7] = np.nan                                         # one unscored object
    score = np.nanmax(surprise, axis=1)
    names = ["fold", "bands", "event", "dip", "colour"]
    texts = {q: f"question {q}?" for q in names}
    with Store(gui_store, "a") as s:
        s.write_group("scores/vetting", {"score": score / np.nanmax(score),
                                         "rank": np.argsort(np.argsort(-np.nan_to_num(score, nan=-1))) + 1,
                                         "question": np.full(n, -1, "i1"), "surprise": surprise},
                      {"features": names, "questions": texts})
    window.state.reload()
    assert not table.table.isColumnHidden(col)
    cat = window.state.catalog
    assert cat.rank_space == "vetting"                 # the best space ranks the table
    for pos in range(n):
        row = int(window.state.view.rows[pos])
        text = table.model.data(table.model.index(pos, col))
        if row == 7:
            assert text == ""
            continue
        q = int(np.argmax(surprise[row]))
        assert text == f"{names[q]} {surprise[row, q]:.1f}"
        if pos < 3:
            tip = table.model.data(table.model.index(pos, col), Qt.ToolTipRole)
            assert texts[names[q]] in tip and f"{10 ** -surprise[row, q]:.2g}" in tip
