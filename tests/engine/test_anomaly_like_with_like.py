"""Like with like: how a star was observed must not make it an anomaly."""
import numpy as np
import pytest

from engine.anomaly.foldstats import fold_stats
from engine.anomaly.vetting import combine, like_with_like, vetting_steps
from engine.progress import run_quiet
from engine.store import LightCurve, Store

from .test_anomaly_foldstats import N_PHASE


def _two_surveys(seed=0, n_a=2700, n_b=300):
    """Survey A: 600 points of 0.02 mag over 1,000 d; survey B (10%): 80 points of
    0.15 mag over 3,000 d, whose noise lowers the fold coherence, decorrelates the
    bands' curves, lengthens the runs off the curve and flattens the dips of *normal*
    stars. Three planted anomalies per survey, each extreme among its own survey's
    stars (a scrambled fold, bands out of step)."""
    rng = np.random.default_rng(seed)
    n = n_a + n_b
    b = np.arange(n) >= n_a
    fold = {"n_points": np.where(b, 80.0, 600.0) * rng.uniform(0.9, 1.1, n),
            "median_err": np.where(b, 0.15, 0.02) * rng.uniform(0.9, 1.1, n),
            "baseline": np.where(b, 3000.0, 1000.0) * rng.uniform(0.95, 1.05, n),
            "band_corr": 1 - np.where(b, rng.uniform(0, 0.3, n), rng.uniform(0, 0.02, n)),
            "fade_run": np.where(b, rng.normal(5, 1.0, n), rng.normal(3, 0.5, n)),
            "brightening_run": np.where(b, rng.normal(5, 1.0, n), rng.normal(3, 0.5, n)),
            "dip_flatness": np.where(b, rng.uniform(0.3, 0.7, n), rng.uniform(0.2, 0.5, n)),
            # points off the curve counted in each star's own noise: alike in both surveys
            "drop_excess": rng.choice([-0.71, 0.0, 0.0, 0.0, 0.71], n),
            "dip_width": rng.uniform(0.1, 0.25, n)}          # brief dips: all asked
    coherence = np.where(b, rng.normal(0.5, 0.3, n), rng.normal(2.0, 0.3, n))
    planted = np.array([10, 20, 30, n_a + 10, n_a + 20, n_a + 30])
    coherence[[10, n_a + 10]] = [0.0, -1.5]            # scrambled folds
    fold["band_corr"][[20, n_a + 20]] = [0.8, -0.6]     # bands out of step
    coherence[[30, n_a + 30]] = [0.2, -1.2]
    delta = np.full(n, 1e-3)
    hyper = np.column_stack([np.full(n, 0.2), np.full(n, 3.0), 10 ** coherence * delta, delta])
    log_period = rng.uniform(-0.5, 1.5, n)
    m_gr = rng.normal(0.4, 0.1, n)
    return log_period, m_gr, hyper, fold, b, planted


def _rank(log_period, m_gr, hyper, fold, like):
    surprise, _ = run_quiet(vetting_steps(log_period, m_gr, hyper, fold, None, 0, like))
    raw, _ = combine(surprise, np.ones(len(m_gr), bool))
    return np.argsort(-raw, kind="stable")


def test_the_noisier_surveys_normal_stars_are_not_ranked_as_anomalies():
    log_period, m_gr, hyper, fold, b, planted = _two_surveys()
    top = int(0.05 * len(b))                                    # top 5%: 150 objects
    normal_b = b.copy()
    normal_b[planted] = False
    # compared with everyone, the noisy survey's normal stars fill the top and hide
    # some of the quiet survey's anomalies below it
    plain = _rank(log_period, m_gr, hyper, fold, like=False)
    assert normal_b[plain[:top]].sum() > 0.5 * top
    assert not set(planted) <= set(plain[:top].tolist())
    # compared with the stars observed alike, they take about their share (5% of 297)
    order = _rank(log_period, m_gr, hyper, fold, like=True)
    assert normal_b[order[:top]].sum() <= 30
    # and the planted anomalies of both surveys lead (the fold and event questions are
    # asked within period groups of >= 500: their best p is 1/500, so a few ties)
    assert set(planted) <= set(order[:50].tolist())


def test_like_with_like_removes_a_shift_of_the_peers_and_keeps_a_departure():
    rng = np.random.default_rng(1)
    n = 4000
    cov = np.column_stack([rng.uniform(0, 1, n), rng.uniform(0, 1, n)])
    x = 10 * cov[:, 0] + rng.normal(0, 1, n)     # the statistic drifts with the covariate
    x[7] += 8.0
    z = run_quiet(like_with_like({"x": x}, cov, k=100))["x"]
    ok = np.arange(n) != 7
    assert abs(np.median(z[ok])) < 0.1 and 0.8 < np.std(z[ok]) < 1.3
    assert z[7] > 6 and np.argmax(z) == 7
    # rows without covariates: against everyone; missing values stay missing
    cov[3] = np.nan
    x[5] = np.nan
    z = run_quiet(like_with_like({"x": x}, cov, k=100))["x"]
    assert np.isfinite(z[3]) and np.isnan(z[5])


def test_fold_statistics_record_what_the_instrument_did(tmp_path):
    t = np.linspace(100.0, 400.0, 40)
    band = (np.arange(40) % 2).astype("u1")
    err = np.where(band == 0, 0.01, 0.03)
    with Store.create(tmp_path / "s.h5") as st:
        st.append_objects({"id": ["a"], "period": [0.7]},
                          [LightCurve(t, 15.0 + 0 * t, err, band)])
        zeros = np.zeros((1, 2, N_PHASE), "f4")
        st.write_group("interp", {"mean": zeros, "raw_mean_mag": np.full((1, 2), 15.0),
                                  "raw_std_mag": np.ones((1, 2))})
    out = fold_stats(tmp_path / "s.h5")
    assert out["n_points"][0] == 40 and out["baseline"][0] == 300.0
    assert out["median_err"][0] == pytest.approx(0.02)


def _tail_surveys(seed=3, n_a=4500, n_b=500):
    """A statistic whose core is the same in two surveys (median 0, the same MAD) and
    whose tail is not: normal in survey A, Student's t (3 dof) in survey B (as the real
    Stripe 82 RR Lyrae's blue excess beside the demo's); one planted outlier in each,
    extreme for its own survey."""
    rng = np.random.default_rng(seed)
    n = n_a + n_b
    b = np.arange(n) >= n_a
    t3 = rng.standard_t(3, n) * (0.6745 / 0.7649)     # MAD of t3 scaled to the normal's
    x = np.where(b, t3, rng.normal(0, 1, n))
    planted = np.array([17, n_a + 17])
    x[planted] = [6.0, 60.0]
    cov = np.column_stack([np.log10(np.where(b, 80, 600) * rng.uniform(0.9, 1.1, n)),
                           np.log10(np.where(b, 0.15, 0.02) * rng.uniform(0.9, 1.1, n))])
    return x, cov, b, planted


def test_a_survey_with_a_heavier_tail_is_judged_by_its_own_tail():
    from engine.anomaly.vetting import local_tail_probability, tail_probability

    x, cov, b, planted = _tail_surveys()
    normal_b = b.copy()
    normal_b[planted] = False
    # against the catalogue's tail (mostly survey A's), survey B's ordinary stars
    # crowd the smallest p: several times the nominal 0.5% below p = 0.005 (1.6-4% over
    # seeds 3-7)
    p_all = tail_probability(x)
    assert np.mean(p_all[normal_b] < 0.005) > 0.012
    # against the tail of the stars observed alike, about their nominal share (0.4-0.6%)
    p = run_quiet(local_tail_probability({"x": x}, cov, k=400))["x"]
    assert np.mean(p[normal_b] < 0.005) < 0.01
    assert np.mean(p[~b & (np.arange(len(x)) != planted[0])] < 0.005) < 0.01
    # and each survey's outlier still stands out of its own survey
    assert p[planted[0]] < 1e-3 and p[planted[1]] < 1e-3
    assert np.argmin(np.where(b, np.inf, p)) == planted[0]
    assert np.argmin(np.where(b, p, np.inf)) == planted[1]


def test_local_tails_fall_back_to_the_catalogue_without_covariates():
    from engine.anomaly.vetting import local_tail_probability, tail_probability

    x, cov, b, planted = _tail_surveys()
    x[5] = np.nan
    cov[9] = np.nan
    p = run_quiet(local_tail_probability({"x": x, "y": -x}, cov, k=400))
    assert p["x"][5] == 1.0 and p["y"][5] == 1.0
    assert p["x"][9] == tail_probability(x)[9] and p["y"][9] == tail_probability(-x)[9]
    # one search serves both statistics: each is the same as asked alone
    np.testing.assert_array_equal(p["y"], run_quiet(local_tail_probability({"y": -x}, cov,
                                                                           k=400))["y"])
    p = p["x"]
    assert p[9] == tail_probability(x)[9]
    # with too few objects for the peers, everything is the catalogue's tail
    few = run_quiet(local_tail_probability({"x": x[:300]}, cov[:300], k=400))["x"]
    np.testing.assert_array_equal(few, tail_probability(x[:300]))
