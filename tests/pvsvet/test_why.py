"""The Why anomalous view shows the engine's numbers for the current object: the vetting
answers, the forest's per-feature contributions (refitted forest = the stored score), the
catalogue features against the class; and says why the GP/VAE part is missing."""
from __future__ import annotations

import numpy as np
import pytest

from engine.anomaly.explain import ClassFeatures, ForestExplainer, vetting_answers
from engine.anomaly.stage import score
from engine.config import ScoreConfig
from engine.progress import run_quiet
from engine.store import Store


@pytest.fixture
def scored_store(tmp_path):
    from tests.pvsvet.conftest import make_store

    path = make_store(tmp_path / "why.h5", n=300, context=False)
    # the real score stage (small forest): vetting tail probabilities and a forest that
    # stored its feature matrix
    run_quiet(score(path, ScoreConfig(spaces=("vetting", "cartesian"), n_estimators=100,
                                      convergence_check=False), force=True))
    return path


def test_why_pane_values_equal_the_engines(qtbot, scored_store, settings):
    from pvsvet.app import make_app, raise_pane
    from pvsvet.main_window import MainWindow
    from pvsvet.state import AppState
    from tests.pvsvet.conftest import _dispose

    make_app()
    w = MainWindow(AppState(), settings)
    qtbot.addWidget(w)
    assert w.open_store(scored_store)
    w.show()
    assert raise_pane(w, "why")
    pane = w.panes["why"]
    row = int(w.state.view.rows[2])
    w.state.selection.set_current(row)
    assert pane.space.currentText() == "cartesian"          # the only forest space
    qtbot.waitUntil(lambda: "forest" in pane.values, timeout=60_000)
    with Store(scored_store) as st:
        answers = vetting_answers(st, row)
        raw = float(st.read("scores/cartesian/raw", rows=row))
    assert pane.values["vetting"] == answers
    assert [pane.vetting.item(i, 1).text() for i in range(len(answers))] == \
        [f"{a['log10p']:.2f}" for a in answers]
    expected = ForestExplainer("cartesian").fit(scored_store).explain(row)
    got = pane.values["forest"]
    assert got == expected and got["raw"] == pytest.approx(raw, rel=1e-12)
    top = max(expected["features"], key=lambda f: f["path_change"])
    assert pane.forest.item(0, 0).text() == top["name"]        # largest contribution first
    assert pane.forest.item(0, 3).text() == f"{top['path_change']:+.2f}"
    assert pane.values["class_features"] == ClassFeatures.from_store(scored_store).explain(row)
    assert pane.features.item(0, 0).text() == "log10 P"
    assert "no GP curves or trained VAE" in pane.recon_note.text()
    # the why column's tooltip points here; another object gets its own numbers
    assert "Why anomalous" in w.state.catalog.why_tooltip(row)
    other = int(w.state.view.rows[0])
    w.state.selection.set_current(other)
    assert pane.values["forest"]["row"] == other
    assert np.isclose(pane.values["forest"]["raw"], pane.values["forest"]["raw_stored"])
    _dispose(w)


def test_no_reconstruction_is_asked_of_a_failed_gp_fit(tmp_path):
    """A star whose GP fit failed has no curve: the GP-against-VAE view says why, with
    the fit's own message, instead of decoding NaN."""
    from engine.anomaly.explain import ExplainError, reconstruction_residual
    from tests.pvsvet.conftest import make_store

    path = make_store(tmp_path / "f.h5", n=50, context=False)
    with Store(path, "a") as s:
        arrays = {k: s.read(f"interp/{k}") for k in s.group_keys("interp")}
        for k in ("mean", "raw_mean_mag"):
            arrays[k] = arrays[k].astype("f8")
            arrays[k][7] = np.nan
        arrays["status_msg"] = np.array([b""] * 50, dtype="S80")
        arrays["status_msg"][7] = b"l_phi collapsed (reached the lower bound 0.01)"
        s.write_group("interp", arrays, s.attrs("interp"))
    with pytest.raises(ExplainError, match=r"f\.h5: row 7 has no GP curve.*l_phi collapsed"):
        reconstruction_residual(path, 7)
    with pytest.raises(ExplainError, match="no trained VAE"):     # row 8 has its curve
        reconstruction_residual(path, 8)
