"""The period pane on a real SDSS Stripe 82 RR Lyrae: its periodogram recovers the
catalogue period, a click folds on a peak, the view options redraw, and a period chosen
there is recorded with the label (journal ``period``)."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from engine.ingest import ingest
from engine.labels import LabelJournal
from engine.progress import run_quiet

FIRST = "4099"       # the first star of periods.csv (not chosen for being easy)


@pytest.fixture
def s82_store(shared_data, tmp_path):
    root = shared_data / "sdss_s82_rrlyrae"
    with open(root / "periods.csv", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["Num"] == FIRST)
    cat = tmp_path / "one.csv"
    cat.write_text(f"Num,Type,Per\n{FIRST},{row['Type']},{row['Per']}\n")
    path = tmp_path / "s82.h5"
    run_quiet(ingest(path, cat, [str(root / "light-curves" / f"{FIRST}.csv")],
                     columns={"id": "Num", "period": "Per", "class": "Type"},
                     class_map={"ab": "RR", "c": "RRc"}))
    return path, float(row["Per"])


def _period_pane(qtbot, path, settings):
    """The main window on ``path`` with the period pane in front and its periodogram done."""
    from pvsvet.app import make_app, raise_pane
    from pvsvet.main_window import MainWindow
    from pvsvet.state import AppState

    make_app()
    w = MainWindow(AppState(), settings)
    qtbot.addWidget(w)
    assert w.open_store(path)
    w.show()
    assert raise_pane(w, "period")
    pane = w.panes["period"]
    qtbot.waitUntil(lambda: pane.result is not None, timeout=120_000)
    return w, pane


def test_periodogram_of_a_stripe82_rr_lyrae_recovers_its_period(qtbot, s82_store, settings):
    path, period = s82_store
    w, pane = _period_pane(qtbot, path, settings)
    assert pane.result.bands == (0, 1)                       # g and r together
    assert pane.result.best_period == pytest.approx(period, rel=1e-4)
    assert "= catalogue P" in pane.status.text()
    # a click beside the highest peak folds on the peak
    assert pane.click_period(period * 1.0004) == pytest.approx(pane.result.best_period)
    lc = w.state.detail(0).lightcurve
    g = lc.mag[lc.band == 0]
    x, y = pane.shown["g"]
    assert np.allclose(np.sort(y[:len(g)]), np.sort(g)) and 0 <= x.min() and x.max() < 2
    pane.offset.setValue(0.5)                                # offset r, then per-band panels
    assert pane.shown["r"][1].min() == pytest.approx(lc.mag[lc.band == 1].min() + 0.5)
    pane.panels.setChecked(True)
    assert pane.shown["r"][1].min() == pytest.approx(lc.mag[lc.band == 1].min())
    pane.errors.setChecked(False)
    assert not any(err.isVisible() for err, _ in pane._items.values())
    # a typed period is kept for the labels: the label key records it in the journal
    pane.period_edit.setText("0.6418")
    pane.period_edit.returnPressed.emit()
    pane.keep_for_labels()
    assert w.handle_key(0, text="1")
    with LabelJournal(path) as j:
        entry = j.current()[FIRST]
    assert entry.label == w.state.label_set[0] and entry.period == pytest.approx(0.6418)
    from tests.pvsvet.conftest import _dispose
    _dispose(w)


def test_residuals_remove_the_fold_and_show_what_is_left(qtbot, s82_store, settings):
    """Ticking "residuals" prewhitens the real star at its period: the periodogram is
    recomputed on what is left (its highest peak is no longer the catalogue period), the
    fold shows residual magnitudes far flatter than the curve, and unticking goes back."""
    from engine.periodogram import alias_of

    path, period = s82_store
    w, pane = _period_pane(qtbot, path, settings)
    raw_g = np.ptp(pane.shown["g"][1])
    pane.residual.setChecked(True)
    assert pane.removed == pytest.approx(period)
    qtbot.waitUntil(lambda: pane.result is not None, timeout=120_000)
    assert pane.result.removed == pytest.approx(period) and pane.result.harmonics
    assert alias_of(pane.result.best_period, period) not in ("", "P/2")
    assert "residuals after removing P" in pane.status.text()
    assert "= catalogue P" not in pane.status.text()
    assert np.ptp(pane.shown["g"][1]) < 0.5 * raw_g          # the sawtooth is gone
    pane.residual.setChecked(False)
    assert pane.removed is None and pane.result.removed != pane.result.removed  # NaN: raw
    assert np.ptp(pane.shown["g"][1]) == pytest.approx(raw_g)
    from tests.pvsvet.conftest import _dispose
    _dispose(w)
