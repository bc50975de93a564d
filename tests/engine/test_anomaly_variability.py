"""Is it variable at all? The constant-model significance, and noise ranked last."""
import dataclasses

import numpy as np
import pytest

from engine.anomaly import score
from engine.anomaly.foldstats import chi2_sigma, fold_stats
from engine.anomaly.stats import not_variable, rank_order, ranks, top_rows
from engine.config import ScoreConfig
from engine.info import collect, format_text
from engine.progress import run_quiet
from engine.store import LightCurve, Store

# latent means and flat GP curves only: the paper's two spaces
CFG = ScoreConfig(n_estimators=100, n_jobs=1, top_k=50, top_overlap=20, aad_trees=50,
                  spaces=("cartesian", "spherical"))
N_PHASE = 160
ERR = 0.05


def _store(path, n=240, n_points=60, seed=0):
    """Half the stars constant (noise under their own errors only), half sinusoids of
    0.3 mag; GP curves flat (scaled zeros). Latent means: one population, and the six
    most isolated points planted on *constant* stars, so a plain ranking puts noise first."""
    rng = np.random.default_rng(seed)
    lcs, period = [], 10 ** rng.uniform(-0.5, 1.5, n)
    constant = np.arange(n) % 2 == 0
    for i in range(n):
        t = np.sort(rng.uniform(0, 800, n_points))
        band = (np.arange(n_points) % 2).astype("u1")
        err = ERR * rng.uniform(0.5, 1.5, n_points)          # heteroscedastic errors
        mag = 17.0 + 0.4 * band + rng.normal(0, err)
        if not constant[i]:
            mag += 0.3 * np.sin(2 * np.pi * t / period[i])
        lcs.append(LightCurve(t, mag, err, band))
    mu = rng.normal(size=(n, 10)) * 0.3
    planted = np.flatnonzero(constant)[:6]
    mu[planted] += 6.0
    with Store.create(path) as st:
        st.append_objects({"id": [f"o{i}" for i in range(n)], "period": period,
                           "class": np.where(constant, "RSCVN", "RR")}, lcs)
        st.write_group("interp", {"mean": np.zeros((n, 2, N_PHASE), "f4"),
                                  "raw_mean_mag": np.full((n, 2), 17.0),
                                  "raw_std_mag": np.full((n, 2), 0.2)})
        st.write_group("vae", {"mu": mu.astype("f4")})
    return path, constant, planted


def test_significance_of_noise_is_normal_and_of_a_variable_star_large(tmp_path):
    path, constant, _ = _store(tmp_path / "v.h5")
    sigma = fold_stats(path)["variability_sigma"]
    noise = sigma[constant]
    # pure noise under its own errors: z ~ N(0, 1) (120 draws)
    assert abs(noise.mean()) < 0.35 and 0.65 < noise.std() < 1.35
    assert noise.max() < 5.0
    # 0.3 mag sinusoid over 0.05 mag errors with 60 points: far beyond any threshold
    assert sigma[~constant].min() > 20


def test_chi2_sigma_is_exact_in_the_tail_and_continuous_at_the_fallback():
    from scipy.stats import chi2, norm

    dof = np.array([5.0, 100.0, 1000.0])
    x = chi2.isf(1e-30, dof)                           # 11.4 sigma
    assert chi2_sigma(x, dof) == pytest.approx(norm.isf(1e-30), rel=1e-6)
    # far past float underflow of P (logsf finite, sf = 0): still finite and growing
    z = chi2_sigma(np.array([1e5, 1e6, 1e7]), np.full(3, 10.0))
    assert np.isfinite(z).all() and (np.diff(z) > 0).all()
    assert np.isnan(chi2_sigma(np.array([3.0]), np.array([0.0]))).all()


def test_demoted_rows_rank_after_every_other_row_in_score_order():
    score_ = np.array([0.9, 0.1, np.nan, 0.8, 0.5, 0.95])
    low = np.array([True, False, False, False, True, False])
    r = ranks(score_, low)
    np.testing.assert_array_equal(rank_order(r), [5, 3, 1, 0, 4])
    assert r[2] == 0                                   # unscored stays unranked
    np.testing.assert_array_equal(top_rows(score_, 2, low), [5, 3])
    np.testing.assert_array_equal(rank_order(ranks(score_)), [5, 0, 3, 4, 1])
    assert not_variable(np.array([1.0, np.nan, 7.0]), 5.0).tolist() == [True, False, False]


def test_score_ranks_noise_last_by_default_and_on_request_does_not(tmp_path):
    path, constant, planted = _store(tmp_path / "v.h5")
    run_quiet(score(path, CFG))
    with Store(path) as st:
        rank, raw = st.read("scores/cartesian/rank"), st.read("scores/cartesian/score")
        flag = st.read("scores/cartesian/not_variable").astype(bool)
        attrs = st.attrs("scores/cartesian")
    n_var = int((~constant).sum())
    # the forest still finds the planted points most isolated (raw scores unchanged) ...
    assert set(np.argsort(-raw)[:6]) == set(planted)
    # ... but every curve consistent with noise comes after every variable star
    np.testing.assert_array_equal(flag, constant)
    assert rank[~constant].max() == n_var and rank[constant].min() == n_var + 1
    assert attrs["variability"]["n_not_variable"] == int(constant.sum())
    assert attrs["class_mix"]["top"] == {"RR": 20}
    info = collect(path)["variability"]
    assert info["n_not_variable"] == int(constant.sum()) and info["ranked_last"]
    assert "not significantly variable" in format_text(collect(path))
    # the user asks for them: the plain ranking puts the planted noise first
    run_quiet(score(path, dataclasses.replace(CFG, demote_nonvariable=False)))
    with Store(path) as st:
        rank = st.read("scores/cartesian/rank")
        assert not st.has("scores/cartesian/not_variable")
    assert set(np.flatnonzero((rank > 0) & (rank <= 6))) == set(planted)


def test_gui_catalogue_flags_noise_and_orders_it_last(tmp_path):
    from pvsvet.catalog import NOT_VARIABLE, CatalogView
    from pvsvet.loading import load_catalog

    path, constant, planted = _store(tmp_path / "v.h5")
    run_quiet(score(path, CFG))
    cat, _ = load_catalog(path)
    view = CatalogView(cat)
    first = view.rows[:int((~constant).sum())]
    assert not constant[first].any() and constant[view.rows[-1]]
    assert cat.text("flags", int(planted[0])) == NOT_VARIABLE
    assert "sigma" in cat.flag_reason(int(planted[0]))
    assert cat.text("flags", int(np.flatnonzero(~constant)[0])) == ""
