"""Issue 17's defects, each reproduced through the window as a user meets it."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.store import Store
from pvsvet.catalog import COLUMN_KEYS

from .test_gui import _click_row


def _click_header(qtbot, window, key: str) -> None:
    header = window.table.table.horizontalHeader()
    col = COLUMN_KEYS.index(key)
    x = header.sectionViewportPosition(col) + header.sectionSize(col) // 2
    qtbot.mouseClick(header.viewport(), Qt.LeftButton, pos=header.rect().center().__class__(
        x, header.height() // 2))


def _one_object(window) -> int:
    """The table's highlighted row, the Selection and the panes agree; return that row."""
    sel = window.state.selection.current
    idx = window.table.table.currentIndex()
    if idx.isValid():
        assert int(window.state.view.rows[idx.row()]) == sel
    assert window.panes["labels"].row == sel
    assert window.panes["light_curve"].row == sel
    return sel


def _label_with_key(qtbot, window, key: str = "1") -> str:
    window.table.table.setFocus()
    qtbot.keyClick(window.table.table, key)
    return window.panes["labels"].labels["1234567890".index(key)]


def _journal(store):
    from engine.labels import LabelJournal
    with LabelJournal(store) as j:
        return {k: v.label for k, v in j.current().items()}


def test_label_goes_to_the_highlighted_star_after_sorting(qtbot, window, gui_store):
    """Defect 1: sort by a score column, click the new first row, press a label key."""
    _click_row(qtbot, window, 0)
    first = window.state.selection.current
    _click_header(qtbot, window, "score_spherical")
    _one_object(window)
    assert int(window.state.view.rows[0]) != first       # the sort changed the first row
    row = _click_row(qtbot, window, 0)
    assert _one_object(window) == row
    label = _label_with_key(qtbot, window, "3")
    assert _journal(gui_store) == {window.state.catalog.object_id(row): label}


def test_label_goes_to_the_highlighted_star_after_the_score_filter(qtbot, window, gui_store):
    """Defect 1: a filter that hides the current object must not leave another highlighted."""
    row = _click_row(qtbot, window, 40)
    score = window.state.catalog.score()
    window.table.filters.smin.setValue(float(score[row]) + 0.05)   # hides the current one
    _one_object(window)
    assert window.state.view.position(row) is None
    other = _click_row(qtbot, window, 0)
    assert _one_object(window) == other
    label = _label_with_key(qtbot, window, "2")
    assert _journal(gui_store) == {window.state.catalog.object_id(other): label}


def test_label_goes_to_the_highlighted_star_after_a_reload(qtbot, window, gui_store):
    """Defect 1: Score with labels reloads the store; the sorted order and the highlighted
    object must survive it together."""
    window.table.model.sort(COLUMN_KEYS.index("score_spherical"), Qt.DescendingOrder)
    row = _click_row(qtbot, window, 3)
    with Store(gui_store, "a") as s:                     # what a rescore commits
        n = s.n_objects
        act = np.random.default_rng(2).random(n)
        s.write_group("scores/active", {"score": act, "rank": np.argsort(np.argsort(-act)) + 1})
    window.state.reload()
    assert _one_object(window) == row
    assert window.table.table.currentIndex().isValid()
    assert window.table.model.index(3, COLUMN_KEYS.index("id")).data() == \
        window.state.catalog.object_id(row)
    label = _label_with_key(qtbot, window, "1")
    assert _journal(gui_store) == {window.state.catalog.object_id(row): label}


def _write_space(store, space: str, seed: int) -> np.ndarray:
    with Store(store, "a") as s:
        n = s.n_objects
        score = np.random.default_rng(seed).random(n)
        s.write_group(f"scores/{space}", {"score": score / score.max(),
                                          "rank": np.argsort(np.argsort(-score)) + 1})
    return score


def test_the_first_ranking_is_the_best_space_and_the_filter_follows_it(qtbot, window, gui_store):
    """Defect 2: rank by the best scored space; a score header sorts highest first on its
    first click; "score ≥" filters the shown space, not always the Cartesian one."""
    diag = _write_space(gui_store, "diagnostic", 11)
    window.state.reload()
    cat, view, table = window.state.catalog, window.state.view, window.table
    assert cat.rank_space == "diagnostic" and view.sort_key == "rank"
    assert int(view.rows[0]) == int(np.argmax(diag))
    assert table.model.headerData(COLUMN_KEYS.index("rank"), Qt.Horizontal) == "rank (diag.)"
    rank_col = COLUMN_KEYS.index("rank")
    with Store(gui_store) as s:
        ranks = {sp: s.read(f"scores/{sp}/rank") for sp in ("diagnostic", "cartesian")}

    def rank_cells(space):           # the rank column shows the ranked-by space's ranks
        return all(table.model.index(p, rank_col).data() == str(ranks[space][view.rows[p]])
                   for p in range(10))
    assert rank_cells("diagnostic") and table.model.index(0, rank_col).data() == "1"
    _click_header(qtbot, window, "score_spherical")
    sph = cat.score("spherical")
    assert int(view.rows[0]) == int(np.nanargmax(sph))        # highest first, first click
    _click_header(qtbot, window, "rank")                       # rank 1 first, first click
    assert int(view.rows[0]) == int(np.argmax(diag))
    _click_header(qtbot, window, "score_spherical")
    table.filters.smin.setValue(0.9)
    assert np.all(cat.score("diagnostic")[view.rows] >= 0.9)
    assert len(view) == int(np.sum(diag / diag.max() >= 0.9))
    table.set_rank_space("cartesian")                          # the user's choice
    assert np.all(cat.score("cartesian")[view.rows] >= 0.9)
    assert table.filters.space.currentData() == "cartesian"
    assert table.model.headerData(rank_col, Qt.Horizontal) == "rank (cart.)"
    table.filters.smin.setValue(0.0)
    table.model.sort(rank_col, Qt.AscendingOrder)
    assert rank_cells("cartesian") and table.model.index(0, rank_col).data() == "1"
    _one_object(window)


def test_a_label_records_the_space_shown_and_its_run(qtbot, window, gui_store):
    """Issue 18: GUI labels recorded space='cartesian' and no run; now the shown space's
    score, rank and scoring run, as the CLI records them."""
    from engine.labels import LabelJournal

    _write_space(gui_store, "diagnostic", 12)
    window.state.reload()
    row = _click_row(qtbot, window, 2)
    _label_with_key(qtbot, window, "1")
    with LabelJournal(gui_store) as j:
        e = j.current()[window.state.catalog.object_id(row)]
    with Store(gui_store) as s:
        written = s.attrs("scores/diagnostic")["written"]
        rank = int(s.read("scores/diagnostic/rank")[row])
    assert (e.space, e.rank, e.run) == ("diagnostic", rank, str(written)) and rank == 3
    assert e.author                                             # the one default author


def _context_rows(store):
    with Store(store) as s:
        rows = s.read("context/row")
        grid = s.read("context/fit_grid")
        cls = s.read_objects(["class"])["class"]
    return rows, grid, cls


def test_sed_shows_a_fit_only_for_a_candidate_with_an_acceptable_fit(qtbot, window, gui_store):
    """Defect 3: a dust-shell fit was drawn for every star (EW and BY Dra too), and for
    fits the context stage had flagged as unphysical; the λ labels ran together."""
    from engine.context import ContextStatus

    rows, grid, cls = _context_rows(gui_store)
    fitted = rows[grid != b""]
    ew = next(int(r) for r in fitted if cls[r] in ("EW", "BYDra", "RSCVN"))
    lpv = next(int(r) for r in fitted if cls[r] in ("Mira", "SR"))
    sed, sel = window.panes["sed"], window.state.selection
    sel.set_current(ew)
    assert not sed.fit_shown and "not a dust-shell candidate" in sed.box.text
    sel.set_current(lpv)
    assert sed.fit_shown and "Ṁ<sub>dust</sub>" in sed.params.text()
    axis = sed.pw.getPlotItem().getAxis("bottom")
    lo, hi = axis.range
    levels = axis.tickValues(lo, hi, axis.width())
    labelled = levels[0][1]
    texts = axis.tickStrings(labelled, 1.0, levels[0][0])
    assert all(t and "." not in t[t.index(".") + 2:] for t in texts if "." in t)
    px = np.diff(labelled) / (hi - lo) * axis.width()
    assert len(labelled) >= 2 and px.min() >= 40                  # room for each label
    assert all(t == "" for t in axis.tickStrings(levels[1][1], 1.0, levels[1][0]))
    i = int(np.flatnonzero(rows == lpv)[0])
    with Store(gui_store, "a") as s:                              # as the stage flags it
        status = s.read("context/status")
        status[i] = int(ContextStatus.POOR_FIT)
        msg = s.read("context/status_msg").astype("S80")
        msg[i] = b"poor dust-shell fit (reduced chi2 3813.0)"
        s.write_group("context", {**{k: s.read(f"context/{k}") for k in s.group_keys("context")},
                                  "status": status, "status_msg": msg},
                      s.attrs("context"))
    window.state.reload()
    assert sel.current == lpv
    assert not sed.fit_shown and "poor dust-shell fit (reduced chi2 3813.0)" in sed.box.text


def test_sed_says_once_that_an_object_without_a_position_has_no_cross_match(qtbot, window,
                                                                            gui_store):
    """Defect 7: a wall of "I/355/gaiadr3 at (nan, +nan): not in the cache"."""
    rows, _, _ = _context_rows(gui_store)
    row = int(rows[0])
    with Store(gui_store, "a") as s:
        s.update_objects({"ra": [np.nan], "dec": [np.nan]}, [row])
    window.state.reload()
    window.state.selection.set_current(row)
    assert window.panes["sed"].box.text == "no position: no cross-match"


def test_first_start_ends_on_rank_one_with_a_summary(qtbot, window, gui_store, monkeypatch):
    """Defect 4: after the first start the table was left at rank ~8,900 (the object
    selected while the pipeline ran) and the dialog vanished without a word."""
    from engine.progress import Progress
    from pvsvet import demo_dialog

    def bootstrap(store):                       # a pipeline that adds the vetting space
        yield Progress("score", 0, 1, "", "space")
        _write_space(store, "vetting", 21)
        yield Progress("score", 1, 1, "", "space")
        return {}

    monkeypatch.setattr(demo_dialog, "demo_bootstrap", bootstrap)
    _click_row(qtbot, window, 0)
    before = window.state.selection.current
    dlg = demo_dialog.ensure_demo(window, gui_store)
    assert dlg is not None
    qtbot.waitUntil(lambda: not window.menus.runner.busy and not dlg.isVisible(), timeout=30000)
    view = window.state.view
    assert window.state.catalog.rank_space == "vetting"
    assert view.position(before) != 0                      # the old object moved down
    assert _one_object(window) == int(view.rows[0])
    assert window.table.table.currentIndex().row() == 0
    msg = window.statusBar().currentMessage()
    assert msg.startswith("first start done: 300 objects") and "scored: vetting" in msg


def test_latent_pane_plots_the_feature_matrix_the_forests_scored(qtbot, window, gui_store):
    """Issue 18: the pane's own Blumenson transform put θ9 at 2π − θ9 of what the forest
    scored; now it plots /scores/<space>/features, every column of every space."""
    import dataclasses

    from engine.anomaly.features import to_spherical
    from engine.anomaly.stage import score
    from engine.config import ScoreConfig
    from engine.progress import run_quiet

    cfg = dataclasses.replace(ScoreConfig(), n_estimators=20, convergence_check=False,
                              n_jobs=1, spaces=("cartesian", "spherical"))
    run_quiet(score(gui_store, cfg, force=True))
    window.state.reload()
    lat = window.panes["latent"]
    names = [lat.xaxis.itemText(i) for i in range(lat.xaxis.count())]
    assert names[:2] == ["mu_0", "mu_1"] and "theta_9" in names and "z1" not in names
    with Store(gui_store) as s:
        for space in ("cartesian", "spherical"):
            stored = s.read(f"scores/{space}/features")
            for j, name in enumerate(s.attrs(f"scores/{space}")["features"]):
                assert np.array_equal(lat.coordinate(name), stored[:, j].astype("f8"),
                                      equal_nan=True), (space, name)
        mu = s.read("vae/mu")
    theta9 = to_spherical(mu.astype("f8"), "paper")[:, 9]
    assert np.allclose(lat.coordinate("theta_9"), theta9, atol=1e-5, equal_nan=True)


def test_class_filter_filters_the_latent_plot_and_box_select_can_filter_the_table(
        qtbot, window):
    """Defect 9: the class filter left the latent plot unfiltered; "50 selected" after a
    box select, but the table neither showed nor filtered to them."""
    lat, table, cat = window.panes["latent"], window.table, window.state.catalog
    cls = cat.class_names()[0]
    table.filters.cls.setCurrentText(cls)
    drawn = lat._items["points"].data["data"]
    assert len(drawn) and np.all(cat.classes[drawn.astype(int)] == cls.encode())
    table.filters.cls.setCurrentIndex(0)
    x, y = lat.xy()
    cx, cy = np.median(x), np.median(y)
    poly = np.array([(cx - 1, cy - 1), (cx + 1, cy - 1), (cx + 1, cy + 1), (cx - 1, cy + 1)])
    rows = lat.apply_polygon(poly)
    assert len(rows) > 3
    table.filters.selected.setChecked(True)
    assert sorted(window.state.view.rows.tolist()) == sorted(rows.tolist())
    assert table.count.text().startswith(f"{len(rows):,} of")
    _one_object(window)


def test_table_columns_fit_their_headers_and_who_comes_first(qtbot, window, gui_store):
    """Defect 8: clipped headers ("score (cart."), names cut to "ZTFJ190…", ranks cut; with
    four score columns id, name and class scrolled off; no column chooser."""
    _write_space(gui_store, "diagnostic", 31)
    _write_space(gui_store, "vetting", 32)
    window.state.reload()
    t = window.table.table
    hh, fm = t.horizontalHeader(), t.horizontalHeader().fontMetrics()
    shown = [c for c in range(len(COLUMN_KEYS)) if not t.isColumnHidden(c)]
    assert {COLUMN_KEYS.index(f"score_{sp}") for sp in
            ("vetting", "diagnostic", "cartesian", "spherical")} <= set(shown)
    for col in shown:
        text = window.table.model.headerData(col, Qt.Horizontal)
        assert hh.sectionSize(col) >= fm.horizontalAdvance(text) + 20, text
    cat = window.state.catalog
    longest = max(t.fontMetrics().horizontalAdvance(cat.text("name", r)) for r in
                  window.state.view.rows[:100])
    assert t.columnWidth(COLUMN_KEYS.index("name")) >= longest
    t.horizontalScrollBar().setValue(0)
    for key in ("rank", "id", "name", "class"):                  # in view at the left
        col = COLUMN_KEYS.index(key)
        assert hh.sectionViewportPosition(col) + hh.sectionSize(col) <= t.viewport().width()
    assert hh.visualIndex(COLUMN_KEYS.index("id")) < hh.visualIndex(
        COLUMN_KEYS.index("score_vetting"))
    ra = COLUMN_KEYS.index("ra")
    assert t.isColumnHidden(ra)                                  # optional, off by default
    act = next(a for a in window.table.filters.columns.menu().actions() if a.text() == "RA [°]")
    act.trigger()
    assert not t.isColumnHidden(ra)
    assert window.table.model.index(0, ra).data() == f"{cat.extra['ra'][int(window.state.view.rows[0])]:.5f}"
    assert "ra=1" in window.table.settings()["columns"]          # kept in the settings


def test_progress_rates_wait_for_a_meaningful_interval_and_stages_are_counted(qtbot, window):
    """Defect 11: "13,420,026.2 lc/s" from a stage that resumed from its cache a few ms
    after it started; no overall progress across stages."""
    from engine.progress import Progress
    from pvsvet.menus import eta_text

    p = Progress("interpolate", 13_420, 20_000, "", "lc")
    assert "/s" not in eta_text(p, started=100.0, now=100.001)
    assert "1,342 lc/s" in eta_text(p, started=100.0, now=110.0)
    m = window.menus
    m._plan, m._overall, m._stages = [], None, []
    m._on_progress(Progress("pipeline", 1, 5, "train: settings changed", "stage"))
    m._on_progress(Progress("train", 3, 40, "", "epoch"))
    assert m.run_label.text().startswith("stage 2 of 5 · train: 3/40 epoch")
    m._plan = ["demo"] + m._plan
    assert m.stage_text("train") == "stage 3 of 6 · train"


def test_quiet_tensorflow_only_without_a_gpu(monkeypatch):
    import pvsvet

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.delitem(__import__("sys").modules, "tensorflow", raising=False)
    monkeypatch.setattr(pvsvet.Path, "glob", lambda self, pat: iter(["nvidia0"]))
    pvsvet._quiet_tensorflow()
    assert "TF_CPP_MIN_LOG_LEVEL" not in __import__("os").environ      # a GPU: TF speaks
    monkeypatch.setattr(pvsvet.Path, "glob", lambda self, pat: iter([]))
    pvsvet._quiet_tensorflow()
    assert __import__("os").environ["TF_CPP_MIN_LOG_LEVEL"] == "3"


def test_export_dialog_choices_reach_the_engine(qtbot, window, gui_store, tmp_path):
    """Defect 9: the GUI export had no label or top-N choice nor the space."""
    from astropy.table import Table

    from pvsvet.export_dialog import ExportDialog

    cat = window.state.catalog
    labels = window.panes["labels"].labels
    window.state.add_label(int(window.state.view.rows[7]), labels[0])
    dlg = ExportDialog(cat.label_names, cat.spaces(), "spherical")
    qtbot.addWidget(dlg)
    dlg.top.setValue(5)
    choice = dlg.choice()
    assert choice == {"labels": None, "top": 5, "space": "spherical"}
    out = window.menus.export_to(tmp_path / "t.csv", **choice)
    t = Table.read(out, format="ascii.csv")
    sph_top = np.argsort(-np.nan_to_num(cat.score("spherical"), nan=-1))[:5]
    assert list(t["id"]) == [cat.object_id(r) for r in sph_top]
    dlg.labels.item(0).setCheckState(Qt.Checked)
    assert dlg.choice()["labels"] == [labels[0]]


def test_one_default_author_settable_and_kept(qtbot, window, gui_store, settings, monkeypatch):
    """Defect 9: the author was "root" from the GUI and blank from the CLI."""
    from engine.labels import default_author
    from pvsvet.main_window import MainWindow
    from pvsvet.state import AppState

    assert window.state.author == default_author()
    window.menus.set_author("ann")
    row = _click_row(qtbot, window, 0)
    _label_with_key(qtbot, window, "1")
    from engine.labels import LabelJournal
    with LabelJournal(gui_store) as j:
        assert j.current()[window.state.catalog.object_id(row)].author == "ann"
    window.save_settings()
    again = MainWindow(AppState(), settings)
    qtbot.addWidget(again)
    assert again.state.author == "ann"


def test_bands_are_not_called_ztf_and_flags_are_said_in_words(qtbot, window, gui_store):
    """Defect 7: SDSS g/r were labelled "ZTF g / ZTF r"; "GP flagged: 512" said nothing."""
    from engine.store import Status

    lcp = window.panes["light_curve"]
    legend = [label.text for _, label in lcp._legend.items[:2]]
    assert legend == ["g", "r"]                     # the store records no survey
    row = int(window.state.view.rows[0])
    with Store(gui_store, "a") as s:
        arrays = {k: s.read(f"interp/{k}") for k in s.group_keys("interp")}
        arrays["status"][row] = int(Status.OTHER_BANDS)
        s.write_group("interp", arrays, s.attrs("interp"))
        s.write_group("sim", {"seed": np.zeros(1)}, {"synthetic": True})
    window.state.reload()
    window.state.selection.set_current(row)
    assert "note: points in bands other than g and r left out" in lcp.box.text
    assert "512" not in lcp.box.text and "GP flagged" not in lcp.box.text
    assert [label.text for _, label in lcp._legend.items[:2]] == ["g (simulated ZTF)",
                                                                 "r (simulated ZTF)"]


def test_real_photometry_appended_to_the_demo_is_not_called_simulated(qtbot, window, gui_store):
    """Real SDSS photometry that ``ingest`` appended to a demo store was labelled
    "g (simulated ZTF)": the label came from the store, not from the object. Rows past
    the demo's ``n_objects`` are named by the survey the ingest recorded."""
    lcp = window.panes["light_curve"]
    n = len(window.state.catalog)
    assert n >= 4
    with Store(gui_store, "a") as s:
        s.write_group("sim", {"seed": np.zeros(1)}, {"synthetic": True, "n_objects": n // 2})
        s.record_run("ingest", "ok", survey="SDSS")
    window.state.reload()

    def legend_of(row):
        window.state.selection.set_current(row)
        return [label.text for _, label in lcp._legend.items[:2]]

    assert legend_of(n // 2 - 1) == ["g (simulated ZTF)", "r (simulated ZTF)"]
    assert legend_of(n // 2) == ["SDSS g", "SDSS r"]
    assert legend_of(0) == ["g (simulated ZTF)", "r (simulated ZTF)"]


def test_gui_export_remembers_its_last_folder(qtbot, window, gui_store, tmp_path, monkeypatch):
    """Defect 9: the GUI export had no memory of the last folder. The modal dialogs are
    answered as a user would (the export itself is the engine's, for real)."""
    from PySide6.QtWidgets import QDialog, QFileDialog

    from pvsvet.export_dialog import ExportDialog

    asked = []
    elsewhere = tmp_path / "targets"
    elsewhere.mkdir()

    def save_as(parent, title, default, filters):
        asked.append(default)
        return str(elsewhere / f"t{len(asked)}.csv"), filters

    monkeypatch.setattr(ExportDialog, "exec", lambda self: QDialog.Accepted)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save_as))
    window.menus.export_dialog()
    window.menus.export_dialog()
    assert asked[0].startswith(str(gui_store.parent))        # first time: beside the store
    assert asked[1].startswith(str(elsewhere))                # then: where the last one went
    assert (elsewhere / "t1.csv").exists() and (elsewhere / "t2.csv").exists()


def test_import_dialog_titles_say_what_they_ask_for(qtbot, window, monkeypatch):
    """Defect 11: the import dialog was titled "Catalogue (Cancel: none)"."""
    from PySide6.QtWidgets import QFileDialog

    titles = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda parent, title, *a: (titles.append(title), ("", ""))[1]))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda parent, title, *a: (titles.append(title), "")[1]))
    window.menus.import_dialog()
    assert titles == ["Catalogue table (optional)", "Folder of light-curve files"]
    assert not window.menus.runner.busy                       # Cancel twice: nothing runs


def test_a_failed_gp_fit_shows_the_points_on_their_own_scale(qtbot, window, gui_store):
    """A star whose GP fit failed has an all-NaN curve: the pane says so and draws the
    raw points only (the NaN curve once stretched the magnitude axis down to 0)."""
    from engine.store import Status

    lcp = window.panes["light_curve"]
    row = int(window.state.view.rows[3])
    with Store(gui_store, "a") as s:
        arrays = {k: s.read(f"interp/{k}") for k in s.group_keys("interp")}
        for k in ("mean", "std", "raw_mean_mag", "raw_std_mag"):
            arrays[k] = arrays[k].astype("f8")
            arrays[k][row] = np.nan
        arrays["status"][row] = int(Status.GP_FAILED)
        s.write_group("interp", arrays, s.attrs("interp"))
        s.write_group("sim", {"seed": np.zeros(1)}, {"synthetic": True})
        lc = s.lightcurve(row)
    window.state.reload()
    window.state.selection.set_current(row)
    assert "no GP curve" in lcp.box.text and "GP fit failed" in lcp.box.text
    assert "gp_g" not in lcp.shown and "g" in lcp.shown
    vb = lcp.pw.getPlotItem().getViewBox()

    def on_the_points():                  # the auto-range is applied on the next paint
        lo, hi = vb.viewRange()[1]
        return lo > lc.mag.min() - 2 and hi < lc.mag.max() + 2

    qtbot.waitUntil(on_the_points, timeout=5000)
