"""Several astronomers in the GUI: merge a colleague's labels, the conflict dialog."""
from __future__ import annotations

import shutil

import pytest


@pytest.fixture
def colleague(window, tmp_path):
    """Ann (us) labels rows 0 and 1; Bob, on a copy of the store, labels row 0 the same,
    row 1 differently and row 2 (new to us)."""
    from engine.labels import LabelJournal

    state = window.state
    rows = [int(r) for r in state.view.rows[:3]]
    window.menus.set_author("ann")
    state.add_label(rows[0], "anomaly")
    state.add_label(rows[1], "SR")
    theirs = tmp_path / "bob.h5"
    shutil.copy(state.path, theirs)
    ids = [state.catalog.object_id(r) for r in rows]
    with LabelJournal(theirs) as j:
        j.add(ids[0], "anomaly", author="bob")
        j.add(ids[1], "Mira", author="bob")
        j.add(ids[2], "EW", author="bob")
    return theirs, rows


def test_merge_in_the_gui_shows_conflicts_and_overwrites_nothing(window, colleague):
    from engine.labels import LabelJournal
    from pvsvet.catalog import COLUMN_KEYS

    theirs, rows = colleague
    cat = window.state.catalog
    dlg = window.collab.merge(str(theirs))
    assert dlg is not None and [c.object_id for c in dlg.conflicts] == [cat.object_id(rows[1])]
    assert dlg.table.rowCount() == 1
    assert [dlg.table.item(0, j).text() for j in range(5)] == [
        cat.object_id(rows[1]), "SR", "ann", "Mira", "bob"]
    assert cat.text("label", rows[1]) == "SR"                 # ours kept
    assert cat.text("label", rows[2]) == "EW"                 # theirs, new to us, shown
    model = window.table.model
    pos = window.state.view.position(rows[2])
    col = COLUMN_KEYS.index("label")
    assert model.index(pos, col).data() == "EW"               # the table cell too
    dlg.table.setCurrentCell(0, 0)                            # clicking shows the object
    assert window.state.selection.current == rows[1]
    dlg.resolve("theirs")
    assert cat.text("label", rows[1]) == "Mira" and dlg.table.rowCount() == 0
    with LabelJournal(window.state.path) as j:
        assert [(e.label, e.author) for e in j.history(cat.object_id(rows[1]))] == [
            ("SR", "ann"), ("Mira", "bob")]
    dlg.close()


def test_merge_of_a_bad_file_is_a_message_not_a_crash(window, tmp_path, monkeypatch):
    pane = window.panes["compare"]               # (and a store with one run: the pane says so)
    assert pane.comparison is None and "comparing needs two" in pane.provenance.text()
    from PySide6.QtWidgets import QMessageBox

    said = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: said.append(a[2]))
    assert window.collab.merge(str(tmp_path / "nope.h5")) is None
    assert said and "nope.h5: neither a label journal" in said[0]


