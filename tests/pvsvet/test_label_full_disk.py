"""Labelling in the GUI on a full disk: the pane says so, keeps the note, and no label
is lost or half written (the file-size limit, RLIMIT_FSIZE, stands in for a full disk:
writes past it fail with EFBIG, which SQLite reports like ENOSPC)."""
from __future__ import annotations

import contextlib
import resource


@contextlib.contextmanager
def _file_size_limit(nbytes: int):
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))   # Python ignores SIGXFSZ
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def _entries(state):
    return [(e.object_id, e.label, e.note) for e in state.journal.entries()]


def test_label_on_a_full_disk_is_refused_in_the_pane_and_nothing_is_lost(window):
    state, pane = window.state, window.panes["labels"]
    state.selection.set_current(3)
    assert pane.assign(state.label_set[0])
    before = _entries(state)
    label_before = state.catalog.text("label", 4)
    state.selection.set_current(4)
    pane.note.setText("a long note " * 400)
    with _file_size_limit(4096):
        assert not pane.assign(state.label_set[0])
    assert "not labelled" in pane.status.text() and "disk is full" in pane.status.text()
    assert pane.note.text().startswith("a long note")          # kept for the retry
    assert _entries(state) == before
    assert state.catalog.text("label", 4) == label_before
    assert pane.assign(state.label_set[0])                     # space again: it lands
    assert _entries(state)[:-1] == before and len(_entries(state)) == len(before) + 1
