"""Rows added after the fit (``run --new-only``) are marked in the table and filterable."""
from __future__ import annotations

import numpy as np
import pytest

from engine.store import Store

from .conftest import make_store

N, N_NEW, N_LATE = 300, 40, 10


def stamp_store(path):
    """A scored synthetic store whose last N_NEW rows came by ``--new-only`` (stamp 1),
    with N_LATE more objects appended since and not scored yet."""
    from engine.incremental import copy_objects

    make_store(path, N, context=False)
    with Store(path, "a") as st:
        for space in ("cartesian", "spherical"):
            group = f"scores/{space}"
            if not st.has(group):
                continue
            arrays = {k: st.read(f"{group}/{k}") for k in st.group_keys(group)}
            arrays["added"] = np.r_[np.zeros(N - N_NEW, "i4"), np.ones(N_NEW, "i4")]
            attrs = {k: v for k, v in st.attrs(group).items() if k not in ("written", "write_id")}
            st.write_group(group, arrays, attrs)
    copy_objects(path, path.with_name("late.h5"), slice(0, N_LATE))
    copy_objects(path.with_name("late.h5"), path, slice(None))
    return path


@pytest.fixture
def gui_store(tmp_path):     # the window fixture opens this store
    return stamp_store(tmp_path / "stamped.h5")


def test_catalog_reads_the_stamps(gui_store):
    from pvsvet.catalog import CatalogView, Filter
    from pvsvet.loading import load_catalog

    cat, _ = load_catalog(gui_store)
    assert len(cat) == N + N_LATE and cat.has_added()
    assert (cat.added[:N - N_NEW] == 0).all() and (cat.added[N - N_NEW:N] == 1).all()
    assert (cat.added[N:] == -1).all()
    assert [cat.text("added", r) for r in (0, N - 1, N)] == ["", "new", "not scored"]
    view = CatalogView(cat)
    view.set_filter(Filter(new_only=True))
    assert sorted(view.rows.tolist()) == list(range(N - N_NEW, N + N_LATE))
    cat.added[N - N_NEW:N - N_NEW + 5] = 2          # a later run: only its rows are "new"
    assert cat.text("added", N - 1) == "run 1" and cat.text("added", N - N_NEW) == "new"


def test_table_shows_and_filters_new_rows(window):
    from pvsvet.catalog import COLUMN_KEYS

    pane = window.table
    col = COLUMN_KEYS.index("added")
    assert not pane.table.isColumnHidden(col) and not pane.filters.new.isHidden()
    pane.filters.new.setChecked(True)
    assert pane.model.rowCount() == N_NEW + N_LATE
    shown = {pane.model.data(pane.model.index(i, col)) for i in range(pane.model.rowCount())}
    assert shown == {"new", "not scored"}
    pane.filters.new.setChecked(False)
    assert pane.model.rowCount() == N + N_LATE
