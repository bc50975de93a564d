"""The Selection, the catalogue view and the geometry helpers, without Qt."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from pvsvet.catalog import Catalog, CatalogView, Filter
from pvsvet.geometry import points_in_polygon
from pvsvet.state import AppState, Selection


def test_selection_emits_once_per_change_and_ignores_echo():
    sel, seen = Selection(), []
    sel.changed.connect(lambda s, src: seen.append((s.rows.tolist(), s.current, src)))
    assert sel.select([5, 3], current=5, source="table")
    assert not sel.select([3, 5], current=5, source="latent")   # same selection: no echo
    assert seen == [([3, 5], 5, "table")]
    sel.set_current(7)
    assert sel.rows.tolist() == [7] and sel.current == 7 and len(seen) == 2


def test_selection_batch_and_change_from_callback():
    sel, seen = Selection(), []
    sel.changed.connect(lambda s, src: seen.append(s.current))
    with sel.batch():
        sel.set_current(1)
        sel.set_current(2)
    assert seen == [2]

    def redirect(s, src):   # a view that changes the selection while being notified
        if s.current == 3:
            s.set_current(4, source="redirect")
    sel.changed.connect(redirect)
    sel.set_current(3)
    assert sel.current == 4 and seen[-2:] == [3, 4]


def test_selection_callback_failure_does_not_stop_others(caplog):
    sel, seen = Selection(), []
    sel.changed.connect(lambda s, src: 1 / 0)
    sel.changed.connect(lambda s, src: seen.append(s.current))
    sel.set_current(9)
    assert seen == [9] and "failed" in caplog.text


def _catalog(n=1000, seed=1):
    rng = np.random.default_rng(seed)
    score = rng.random(n).astype("f4")
    score[:10] = np.nan
    rank = np.zeros(n, "i4")
    ok = np.flatnonzero(np.isfinite(score))
    rank[ok[np.argsort(-score[ok])]] = np.arange(1, len(ok) + 1)
    ids = np.array([f"ZTFJ{i:06d}".encode() for i in rng.permutation(n)])
    return Catalog(ids=ids, names=np.char.add(b"ZTF J", ids), classes=rng.choice(
        [b"EW", b"SR", b"Mira"], n), period=rng.random(n) * 10, gr=rng.random(n).astype("f4"),
        scores={"cartesian": score, "spherical": score}, ranks={"cartesian": rank})


def test_view_sorts_by_rank_with_unscored_last_and_filters():
    cat = _catalog()
    view = CatalogView(cat)
    first = view.rows[:5]
    assert cat.rank[first].tolist() == [1, 2, 3, 4, 5]
    assert not np.isfinite(cat.score("cartesian")[view.rows[-10:]]).any()
    view.sort("period", descending=True)
    assert np.all(np.diff(cat.period[view.rows]) <= 0)
    view.set_filter(Filter(classes=("Mira",), score_min=0.5))
    assert len(view) == np.sum((cat.classes == b"Mira") & (np.nan_to_num(cat.score("cartesian")) >= 0.5))
    assert np.all(cat.classes[view.rows] == b"Mira")
    row = int(view.rows[3])
    assert view.position(row) == 3


def test_view_search_exact_then_substring_and_labels():
    cat = _catalog()
    view = CatalogView(cat)
    target = cat.object_id(42)
    view.set_filter(Filter(search=target))
    assert view.rows.tolist() == [42]
    view.set_filter(Filter(search="ztfj00001"))          # case-insensitive substring
    assert len(view) == 10 and all(b"ZTFJ00001" in cat.ids[r] for r in view.rows)
    cat.set_labels({target: "anomaly", cat.object_id(7): "EW", "unknown": "anomaly"},
                   ["anomaly", "EW"])
    view.set_filter(Filter(labels=("anomaly",)))
    assert view.rows.tolist() == [42]
    view.set_filter(Filter(unlabelled_only=True))
    assert len(view) == len(cat) - 2
    assert cat.text("label", 7) == "EW" and cat.row_of_id("nope") is None


def test_points_in_polygon_matches_matplotlib():
    path = pytest.importorskip("matplotlib.path")
    rng = np.random.default_rng(0)
    pts = rng.uniform(-2, 2, (5000, 2))
    poly = np.array([(-1, -1), (1.5, -0.5), (0.2, 0.1), (1, 1.2), (-1.2, 0.8)])
    ours = points_in_polygon(pts[:, 0], pts[:, 1], poly)
    ref = path.Path(poly).contains_points(pts)
    assert ours.sum() > 100 and np.array_equal(ours, ref)


def test_appstate_reads_detail_and_engine_stays_qt_free(tmp_path):
    from tests.pvsvet.conftest import make_store
    path = make_store(tmp_path / "s.h5", n=120)
    st = AppState()
    st.open(path)
    assert len(st.catalog) == 120 and st.latent.shape == (120, 10)
    row = int(st.view.rows[0])
    det = st.detail(row)
    from engine.store import Store
    with Store(path) as s:
        lc = s.lightcurve(row)
    assert np.array_equal(det.lightcurve.mag, lc.mag) and det.interp["mean"].shape == (2, 160)
    assert st.detail(row) is det                          # cached


def test_state_and_catalog_import_no_qt():
    import subprocess
    code = ("import sys, pvsvet.state, pvsvet.catalog, pvsvet.synthetic, pvsvet.runs; "
            "bad = [m for m in ('PySide6', 'pyqtgraph', 'tensorflow') if m in sys.modules]; "
            "sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_flag_column_shows_the_most_serious_warning_and_its_reason():
    from engine.store import Status

    cat = _catalog(20)
    cat.flags[3] = int(Status.GP_UNPHYSICAL | Status.OTHER_BANDS)
    cat.flags[4] = int(Status.OTHER_BANDS)            # benign: nothing to warn about
    cat.flags[5] = int(Status.REJECTED_CUT)
    cat.flag_msgs = np.array([b""] * 20, dtype="S80")
    cat.flag_msgs[3] = b"x: g mean leaves the data range by more than 3x its scatter"
    assert cat.text("flags", 3) == "⚠ unphysical GP"
    assert "leaves the data range" in cat.flag_reason(3)
    assert cat.text("flags", 4) == "" and cat.text("flags", 0) == ""
    assert cat.text("flags", 5) == "below cut"
    view = CatalogView(cat)
    view.sort("flags", descending=True)
    assert int(view.rows[0]) == 3          # the largest bit pattern (GP flags) first
