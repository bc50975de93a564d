"""The vetting space: one tail probability per question, ranked by the most significant."""
import dataclasses
import warnings

import numpy as np
import pytest

from engine import provenance as prov
from engine.anomaly import recall_report, score
from engine.anomaly.features import build_features
from engine.anomaly.foldstats import NAMES, curve_stats, fold_stats
from engine.anomaly.vetting import (MIN_CLASS, MIN_GROUP, NEEDS, QUESTION_NAMES,
                                    class_period_surprise, colour_density_surprise,
                                    combine, merged, peer_blue_excess, period_groups,
                                    tail_probability)
from engine.errors import FeatureError, StageError
from engine.progress import run_quiet
from engine.store import LightCurve, Store

from .test_anomaly_foldstats import ERR, PERIOD, _curve
from .test_anomaly_stage import CFG, make_store

PHASE = np.arange(160) / 160


def test_tail_probability_counts_ties_and_groups_and_ignores_missing_values():
    x = np.array([1.0, 2.0, 2.0, 3.0, np.nan])
    np.testing.assert_allclose(tail_probability(x), [1.0, 0.75, 0.75, 0.25, 1.0])
    groups = np.array([0, 0, 1, 1, 1])
    # group 0: {1, 2}; group 1: {2, 3} (the NaN does not count)
    np.testing.assert_allclose(tail_probability(x, groups), [1.0, 0.5, 1.0, 0.5, 1.0])
    # one question asked two ways with the same answer is not counted twice
    p = tail_probability(np.arange(10.0))
    np.testing.assert_allclose(merged(p, p), p)
    # the smaller of two, ranked again: still a probability over the catalogue
    q = merged(p, p[::-1])
    assert q.min() == pytest.approx(0.2) and q.max() == 1.0


def test_period_groups_merge_sparse_bins_until_each_is_large_enough():
    rng = np.random.default_rng(0)
    logp = np.concatenate([rng.uniform(-0.5, -0.3, 5000), rng.uniform(0.0, 2.0, 700),
                           [3.1, 3.3, np.nan]])
    g = period_groups(logp)
    assert g[-1] == -1
    counts = np.bincount(g[g >= 0])
    assert counts.min() >= MIN_GROUP and counts.sum() == len(logp) - 1
    # stars of a similar period share a group; far apart periods do not
    assert g[0] != g[5000 + np.argmax(logp[5000:5700])]
    assert g[-2] == g[-3]                       # the two lonely long periods joined a group


def test_curve_statistics_tell_rounded_and_box_dips_and_lagged_bands_apart():
    sine = np.sin(2 * np.pi * PHASE)
    u = np.abs((PHASE + 0.5) % 1.0 - 0.5) / 0.1
    box = np.clip((1.0 - u) / 0.15, 0.0, 1.0)           # flat bottom, short ingress
    v_dip = np.clip(1.0 - u / 2, 0.0, None)               # V-shaped, as wide
    curves = np.stack([np.stack([sine, 0.5 * sine + 3.0]),         # bands in step
                       np.stack([sine, -sine]),                   # half a cycle apart
                       np.stack([box, box]), np.stack([v_dip, v_dip])])
    out = curve_stats(curves)
    np.testing.assert_allclose(out["band_corr"][:2], [1.0, -1.0], atol=1e-9)
    # a sinusoid spends 20% of the cycle above 0.8 of its peak, 44% above 0.2
    assert out["dip_flatness"][0] == pytest.approx(0.47, abs=0.02)
    # a V spends a quarter of its dip near the bottom, a box most of it
    assert out["dip_flatness"][2] > 0.75 and out["dip_flatness"][3] == pytest.approx(0.25, abs=0.03)
    # how long the dip lasts: a sinusoid's minimum 44% of the cycle, the box's 20%
    assert out["dip_width"][0] == pytest.approx(0.436, abs=0.01)
    assert out["dip_width"][2] == pytest.approx(0.2, abs=0.01)
    flat = curve_stats(np.full((1, 2, 160), 3.0))       # no variation: no dip to measure
    assert np.isnan(flat["dip_flatness"][0]) and np.isnan(flat["band_corr"][0])
    assert np.isnan(flat["dip_width"][0])


def _raw_store(path, n_points=500, seed=1):
    """Four sinusoidal stars and their exact GP curves: 0 clean, 1 fading by 0.5 mag
    (25 sigma) for 40 consecutive epochs, 2 with 3% of its epochs 2 mag brighter, 3 with
    eight scattered epochs 0.6 mag fainter (eclipses of an unseen companion)."""
    rng = np.random.default_rng(seed)
    lcs = []
    for i in range(4):
        t = np.sort(rng.uniform(0, 900, n_points))
        band = (rng.random(n_points) < 0.5).astype("u1")
        mag = _curve(t / PERIOD % 1, band) + rng.normal(0, ERR, n_points)
        if i == 1:
            mag[200:240] += 0.5
        if i == 2:
            mag[rng.choice(n_points, n_points * 3 // 100, replace=False)] -= 2.0
        if i == 3:
            mag[rng.choice(n_points, 8, replace=False)] += 0.6
        lcs.append(LightCurve(t, mag, np.full(n_points, ERR), band))
    curves = np.stack([_curve(PHASE, 0), _curve(PHASE, 1)])
    mbar, sigma = curves.mean(axis=1), curves.std(axis=1)
    mean = np.repeat(((curves - mbar[:, None]) / sigma[:, None])[None], 4, axis=0)
    with Store.create(path) as st:
        st.append_objects({"id": ["clean", "fade", "flare", "eclipsed"], "period": [PERIOD] * 4},
                          lcs)
        st.write_group("interp", {"mean": mean.astype("f4"), "raw_mean_mag": np.tile(mbar, (4, 1)),
                                  "raw_std_mag": np.tile(sigma, (4, 1))})
    return path


def test_runs_of_points_off_the_fold_are_found_in_time_order(tmp_path):
    out = fold_stats(_raw_store(tmp_path / "raw.h5"))
    assert set(out) == set(NAMES)
    fade, bright = out["fade_run"], out["brightening_run"]
    # noise alone: the largest run sum of a few hundred Gaussian draws is a few sigma
    assert fade[0] < 5 and bright[0] < 5
    # 20 consecutive points per band, 10 sigma each after clipping, in runs of 15
    assert fade[1] > 30 and bright[1] < 5
    assert bright[2] > 8 and fade[2] < 5
    np.testing.assert_allclose(out["band_corr"], 1.0, atol=1e-6)    # same shape in g and r
    # eight scattered faint points are no run (the cadence breaks them up), but they all
    # fall on one side of the curve: drop_excess, which noise leaves near 0 and points
    # off both sides (or the flare's, all brighter) make small or negative
    drops = out["drop_excess"]
    assert fade[3] < 8 and drops[3] > 2.5
    assert abs(drops[0]) < 1.5 and drops[2] < -3 and drops[1] > 2.5


def _vetting_store(path, seed=0, broad_twin=None):
    """The stage test store with GP hyperparameters and fold statistics, and one
    object planted per question (all else drawn from one population); ``broad_twin``: a
    row given the dip question's box flatness with a dip as long as a sinusoid's."""
    rng = np.random.default_rng(seed)
    make_store(path, seed=seed)
    n = 1500
    with Store(path, "a") as st:
        period = st.read_objects(["period"])["period"]
        # RR Lyrae pulsate at 0.4-0.7 d; the catalogue gives one of them 2 d
        rr = np.flatnonzero(st.read_objects(["class"])["class"].astype(str) == "RR")
        period[rr] = 10 ** rng.normal(-0.25, 0.05, len(rr))
        period[PERIOD_ROW] = 2.0
        hyper = np.column_stack([np.full(n, 0.2), np.full(n, 3.0),
                                 10 ** rng.normal(-1.0, 0.2, n), 10 ** rng.normal(-3.0, 0.2, n)])
        fold = {"fold_outlier_frac": rng.uniform(0, 0.004, n), "fold_scatter": np.ones(n),
                "variability": np.full(n, 10.0), "fade_run": rng.normal(3, 0.5, n),
                "brightening_run": rng.normal(3, 0.5, n),
                "band_corr": 1 - rng.uniform(0, 0.05, n), "dip_flatness": rng.uniform(0.2, 0.5, n),
                # one point off the curve at most, either side (as noise gives)
                "drop_excess": rng.choice([-0.71, 0.0, 0.0, 0.0, 0.71], n),
                # the deepest dips: most as long as a sinusoid's, an eclipser's brief
                "dip_width": np.where(rng.random(n) < 0.8, rng.uniform(0.35, 0.46, n),
                                      rng.uniform(0.08, 0.25, n))}
        hyper[100, 3] = 10.0 ** 3.0          # fold: C/delta 1e-4 against ~1e2
        fold["band_corr"][200] = -0.8        # bands: g against r
        fold["fade_run"][300] = 40.0         # event: a long fade
        fold["dip_flatness"][400] = 0.95     # dip: a box
        fold["dip_width"][400] = 0.12
        if broad_twin is not None:
            fold["dip_flatness"][broad_twin], fold["dip_width"][broad_twin] = 0.95, 0.44
        # colour: long-period stars are red, one of them is blue
        long = period > 30
        g = 14.5 + np.where(long, rng.normal(2.0, 0.1, n), rng.normal(0.5, 0.1, n))
        period[500] = 100.0
        g[500] = 14.9
        st.update_objects({"period": period, "mean_g": g, "mean_r": np.full(n, 14.5)},
                          np.arange(n))
        st.write_group("interp", {"hyper": hyper},
                       {"hyper_names": ["l_phi", "l_lambda", "C_mag2", "delta_mag2"]})
        st.write_group("foldstats", fold)
        prov.record(st, "foldstats", None)   # as computed from this /interp
    return path


#: an RR Lyrae of the store seed 0 (engine.tests.test_anomaly_stage.make_store), none of the others
PERIOD_ROW = 603
PLANTED = {100: "fold", 200: "bands", 300: "event", 400: "dip", 500: "colour",
           PERIOD_ROW: "period"}


def test_each_planted_object_ranks_top_and_names_its_question(tmp_path):
    path = _vetting_store(tmp_path / "v.h5")
    cfg = dataclasses.replace(CFG, spaces=("cartesian", "vetting"))
    result = run_quiet(score(path, cfg))
    with Store(path) as st:
        s, rank = st.read("scores/vetting/score"), st.read("scores/vetting/rank")
        question, surprise = st.read("scores/vetting/question"), st.read("scores/vetting/surprise")
        attrs = st.attrs("scores/vetting")
    assert np.nanmax(s) == 1.0 and np.isnan(s[:2]).all() and (rank[:2] == 0).all()
    assert (question[:2] == -1).all() and surprise.shape == (1500, len(QUESTION_NAMES))
    assert attrs["features"] == QUESTION_NAMES and attrs["n_excluded"] == 2
    # each is the most extreme of its question (the grouped ones of their period group,
    # so a few other groups' extremes tie with them): all in the first 10 of 1,498
    for row, q in PLANTED.items():
        assert QUESTION_NAMES[question[row]] == q and rank[row] <= 10, (row, q, rank[row])
    assert np.median(rank[2:]) > 500
    # far beyond the rest of their question: the Pareto tail gives p below what any rank
    # could (1/500 in the fold question's period groups, 1/1,498 for the bands), and
    # the next most extreme answers stay near those rank values
    others = np.ones(len(s), bool)
    others[list(PLANTED)] = False
    assert surprise[100, 0] > 2 + np.log10(500) and surprise[200, 1] > 2 + np.log10(1498)
    assert surprise[others, 0].max() < np.log10(500) + 1
    assert surprise[others, 1].max() < np.log10(1498) + 0.5
    # a question is named only where p < 0.1: at most a tenth of the objects per question
    counts = attrs["question_counts"]["flagged (p < 0.1)"]
    assert 5 <= sum(counts.values()) <= 0.5 * 1498 and (question[2:] == -1).sum() > 500
    assert result["vetting"]["convergence"]["checked"] is False
    report = recall_report(path, fractions=(0.02,), k=20)
    assert "vetting" in report


def test_vetting_without_gp_hyperparameters_says_what_to_run(tmp_path):
    path = make_store(tmp_path / "s.h5")
    with pytest.raises((FeatureError, StageError), match=r"s\.h5.*/interp/.*interpolate"):
        run_quiet(score(path, dataclasses.replace(CFG, spaces=("vetting",))))


def test_colour_questions_flag_a_blue_star_among_red_ones_of_its_period():
    rng = np.random.default_rng(3)
    n = 4000
    logp = np.concatenate([rng.uniform(-0.6, -0.2, n // 2), rng.uniform(2.2, 2.8, n // 2)])
    gr = np.where(logp > 1, rng.normal(2.5, 0.4, n), rng.normal(0.5, 0.1, n))
    mu = rng.normal(size=(n, 10)) * 0.3 + np.where(logp > 1, 2.0, -2.0)[:, None]
    gr[-1] = 0.5                           # a long-period star as blue as the short ones
    gr[0] = 2.5                            # a short-period star as red as the long ones
    dens = colour_density_surprise(logp, gr)
    assert dens[-1] > np.max(dens[n // 2:-1]) and dens[0] > np.max(dens[1:n // 2])
    blue = run_quiet(peer_blue_excess(mu, logp, gr))
    # far bluer than the interquartile range of its peers; the red one is not blue
    assert blue[-1] > 3 and blue[-1] == np.max(blue) and blue[0] < 0
    mu[5] = np.nan
    assert np.isnan(run_quiet(peer_blue_excess(mu, logp, gr))[5])


def test_combine_takes_the_most_significant_question():
    surprise = np.array([[0.1, 3.0, 0.0, 0.0, 0.0], [2.0, 2.0, 2.0, 0.0, 0.0],
                         [2.0, 0.0, 0.0, 0.0, 0.0], [9.0, 9.0, 9.0, 9.0, 9.0],
                         [0.5, 0.2, 0.0, 0.0, 0.0]])
    raw, q = combine(surprise, np.array([True, True, True, False, True]))
    assert list(q) == [1, 0, 0, -1, -1] and np.isnan(raw[3]) and raw[4] > 0   # nothing < 0.1
    assert raw[0] > raw[1] > raw[2]          # ties go to the object surprising more often


def test_vetting_is_not_a_forest_feature_space():
    feats = build_features(np.zeros((3, 10)), np.ones(3), np.ones(3))
    with pytest.raises(FeatureError, match="tail probabilities"):
        feats.space("vetting")


def test_row_quantiles_equal_numpys_nanpercentile():
    """The peer statistics' vectorised quantiles are numpy's (linear method), NaN peers
    (the object itself) left out, an empty row NaN."""
    from engine.anomaly.vetting import row_quantiles

    rng = np.random.default_rng(4)
    a = rng.normal(size=(500, 101))
    a[rng.random(a.shape) < 0.05] = np.nan
    a[3] = np.nan
    a[4, 1:] = np.nan
    a[5, :] = 2.0                                   # ties
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = np.nanpercentile(a, [10, 25, 50, 75, 90], axis=1)
    got = row_quantiles(a, (0.1, 0.25, 0.5, 0.75, 0.9))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(np.array(got), want, rtol=0, atol=1e-15, equal_nan=True)
    assert np.isnan(got[2][3]) and got[2][4] == a[4, 0] and got[0][5] == 2.0


def test_period_question_finds_periods_that_no_star_of_the_class_has():
    """RR Lyrae at 0.4-0.7 d and semi-regulars over two decades of period: an RR Lyrae
    given twice or half its period (a catalogue alias) is far less usual for its class
    than any real member, a semi-regular at the same periods is not asked about a
    narrow range, and classes too small to describe, or missing, are not asked."""
    rng = np.random.default_rng(3)
    lp = np.concatenate([rng.normal(-0.25, 0.05, 400), rng.uniform(1.0, 3.0, 400),
                         [np.log10(2 * 10 ** -0.25), np.log10(0.5 * 10 ** -0.25)],
                         rng.normal(0.0, 0.1, MIN_CLASS - 1), [0.0, np.nan]])
    cls = np.array(["RR"] * 400 + ["SR"] * 400 + ["RR", "RR"] + ["CEP"] * (MIN_CLASS - 1)
                   + ["", "RR"])
    s = class_period_surprise(lp, cls)
    members = s[:400]
    assert np.nanmax(members) < 2.5 < min(s[800], s[801])      # 2P and P/2 of an RR Lyrae
    assert np.median(members) < 0.3 and np.nanmax(s[400:800]) < 2.0
    assert np.isnan(s[802:]).all()          # a class of 49, no class, no period
    # a lone member far from the rest: no other member's kernel reaches it (the floor)
    lone = class_period_surprise(np.r_[rng.normal(0, 0.05, 100), 2.0], np.array(["X"] * 101))
    assert lone[-1] == pytest.approx(6.0) and lone[:-1].max() < 3.0
    assert np.isnan(class_period_surprise(lp, None)).all()


def test_a_star_whose_gp_found_no_curve_is_ranked_by_the_fold_question(tmp_path):
    """A fit that failed at the catalogue period (no latent means, no fold statistics)
    is the least coherent fold of its period group: ranked, and named by the fold
    question, whatever its hyperparameters say; a star never interpolated is not."""
    from engine.schema import Status

    path = _vetting_store(tmp_path / "v.h5")
    with Store(path, "a") as st:
        hyper, attrs = st.read("interp/hyper"), st.attrs("interp")
        n = len(hyper)
        hyper[0] = [0.01, 3.0, 1.0, 1e-4]          # C/delta 1e4: coherent, were it trusted
        status = np.zeros(n, np.uint32)
        status[0] = Status.GP_FAILED                # no curve: mu is NaN (make_store)
        status[1] = Status.FEW_POINTS | Status.GP_FAILED   # never interpolated
        status[700] = Status.GP_FAILED              # has latent means: an ordinary row
        st.write_group("interp", {"hyper": hyper, "status": status}, attrs)
        fold = {k: st.read(f"foldstats/{k}") for k in st.group_keys("foldstats")}
        for k in fold:
            fold[k][0] = np.nan                     # no curve to take statistics of
        st.write_group("foldstats", fold)
        prov.record(st, "foldstats", None)
    run_quiet(score(path, dataclasses.replace(CFG, spaces=("vetting",))))
    with Store(path) as st:
        s, rank = st.read("scores/vetting/score"), st.read("scores/vetting/rank")
        question, surprise = st.read("scores/vetting/question"), st.read("scores/vetting/surprise")
        attrs = st.attrs("scores/vetting")
    assert np.isfinite(s[0]) and np.isnan(s[1]) and rank[1] == 0
    assert attrs["n_excluded"] == 1 and attrs["n_gp_failed_scored"] == 1
    # p = 1/500 (below): in the top 2% of 1,499, behind answers the Pareto tail puts
    # beyond 1/500
    assert QUESTION_NAMES[question[0]] == "fold" and rank[0] <= 30
    # alone in its period group (>= 500 stars): p is about 1/500; no curve, no answer
    # to the questions of the curve's shape
    assert surprise[0, 0] == pytest.approx(-np.log10(1 / 500), abs=0.3)
    for q in ("bands", "event", "dip"):
        assert surprise[0, QUESTION_NAMES.index(q)] == 0.0
    assert rank[700] > 10 and QUESTION_NAMES[question[100]] == "fold"


def _two_period_groups(rng, n):
    """log10 periods of two period groups of n / 2 stars (each within one 0.2-dex bin) and
    fold statistics that answer nothing (NaN), for a test to fill in."""
    logp = np.concatenate([rng.uniform(-0.38, -0.22, n // 2), rng.uniform(2.02, 2.18, n // 2)])
    return logp, {k: np.full(n, np.nan) for k in NEEDS}


def test_failed_fits_stand_out_only_where_they_are_rare():
    """p of a failed fit is the fraction of its period group that failed: a period range
    where a fifth of the fits fail gives p = 0.2, a lone failure p = 1 / group."""
    from engine.anomaly.vetting import vetting_steps

    rng = np.random.default_rng(5)
    n = 2000
    logp, fold = _two_period_groups(rng, n)
    hyper = np.column_stack([np.full(n, 0.2), np.full(n, 3.0), 10 ** rng.normal(-1, 0.2, n),
                             10 ** rng.normal(-3, 0.2, n)])
    unfolded = np.zeros(n, bool)
    unfolded[0] = True                             # short periods: one failure in 1,000
    unfolded[n // 2:n // 2 + 200] = True            # long periods: 200 in 1,000
    surprise, _ = run_quiet(vetting_steps(logp, np.zeros(n), hyper, fold, None, like=False,
                                          unfolded=unfolded))
    assert surprise[0, 0] == pytest.approx(3.0)
    np.testing.assert_allclose(surprise[n // 2:n // 2 + 200, 0], -np.log10(0.2))
    assert surprise[0, 0] == surprise[:, 0].max()


def test_bands_question_compares_stars_of_a_similar_period():
    """Long-period stars' folded g and r correlate less (their cycles differ); a short-period
    star that correlates as poorly as they do stands out, they do not."""
    from engine.anomaly.vetting import vetting_steps

    rng = np.random.default_rng(8)
    n = 2000
    logp, fold = _two_period_groups(rng, n)
    hyper = np.column_stack([np.full(n, 0.2), np.full(n, 3.0), np.full(n, 0.1),
                             np.full(n, 1e-3)])
    corr = np.concatenate([0.98 + 0.005 * rng.standard_normal(n // 2),
                           0.6 + 0.1 * rng.standard_normal(n // 2)])
    corr[0] = 0.6                                   # a short-period star, bands out of step
    fold["band_corr"] = corr
    surprise, _ = run_quiet(vetting_steps(logp, np.zeros(n), hyper, fold, None, like=False))
    bands = surprise[:, QUESTION_NAMES.index("bands")]
    assert bands[0] == bands.max() and bands[0] >= 3.0
    # the long-period stars are ordinary among themselves: ~1% of them below p = 0.01
    assert (bands[n // 2:] >= 2.0).mean() <= 0.02
    # compared with every star at once, the short-period star would be lost among them
    assert tail_probability(1.0 - corr)[0] > 0.1


def test_band_discord_spreads_alike_whatever_the_correlation():
    """Fisher's z: correlations estimated from the same number of points scatter alike
    on its scale, near 1 as well as far from it (1 - r does not), so one tail model
    fits stars whose bands correlate at 0.99 and at 0.5."""
    from engine.anomaly.vetting import band_discord

    rng = np.random.default_rng(4)
    spread = {}
    for rho in (0.5, 0.99):
        x = rng.standard_normal((4000, 60))
        y = rho * x + np.sqrt(1 - rho ** 2) * rng.standard_normal((4000, 60))
        r = np.array([np.corrcoef(a, b)[0, 1] for a, b in zip(x, y)])
        spread[rho] = (np.std(band_discord(r)), np.std(1 - r))
    assert spread[0.5][0] / spread[0.99][0] == pytest.approx(1.0, abs=0.15)
    assert spread[0.5][1] / spread[0.99][1] > 20           # what 1 - r would do
    # larger for bands less in step; finite at r = +-1
    d = band_discord(np.array([1.0, 0.9, 0.0, -1.0]))
    assert np.all(np.isfinite(d)) and np.all(np.diff(d) > 0)


def test_pareto_tail_recovers_light_and_heavy_tails():
    from scipy import stats as sps

    from engine.anomaly.vetting import MAX_SHAPE, pareto_tail

    rng = np.random.default_rng(8)
    u, share, xi, sigma = pareto_tail(np.sort(rng.exponential(2.0, 40_000)))
    assert share == pytest.approx(0.05, abs=1e-3) and xi < 0.1
    assert sigma == pytest.approx(2.0, rel=0.1)   # memoryless: the excesses are Exp(2)
    heavy = sps.genpareto.rvs(0.3, scale=1.0, size=200_000, random_state=9)
    assert pareto_tail(np.sort(heavy))[2] == pytest.approx(0.3, abs=0.1)
    # a bounded tail is not allowed (a value past the largest seen stays possible)
    assert pareto_tail(np.sort(rng.uniform(0, 1, 40_000)))[2] == 0.0
    assert pareto_tail(np.sort(sps.cauchy.rvs(size=40_000, random_state=1)))[2] == MAX_SHAPE
    # discrete values whose top twentieth ties have no tail to fit: ranks only
    assert pareto_tail(np.sort(rng.integers(0, 3, 5000).astype(float))) is None


def test_a_far_outlier_is_more_significant_than_a_rank_and_hides_no_one():
    rng = np.random.default_rng(10)
    x = rng.normal(size=4000)
    x[0] = 30.0                                    # far beyond every other answer
    p = tail_probability(x)
    ranked = tail_probability(x, tail=False)
    assert ranked[0] == 1 / 4000 and p[0] < 1e-10
    # the outlier does not widen the fitted tail: the sample's own largest answers keep
    # about their rank p
    for i in np.argsort(x)[-4:-1]:
        assert 0.2 * ranked[i] < p[i] < 5 * ranked[i]
    # below the top twentieth, the ranks themselves
    body = x < np.quantile(x, 0.9)
    np.testing.assert_array_equal(p[body], ranked[body])
    # p falls with the answer, across the threshold too
    order = np.argsort(x)
    assert (np.diff(p[order]) <= 1e-15).all()


def test_colour_density_leaves_the_star_itself_out():
    rng = np.random.default_rng(11)
    logp = rng.uniform(-0.4, -0.2, 3000)
    gr = rng.normal(0.4, 0.05, 3000)
    logp[:3], gr[:3] = [-0.3, -0.3, -0.3], [1.5, 3.0, 3.0]   # one lone star, one pair
    dens = colour_density_surprise(logp, gr)
    # nothing else near the lone star: the density's floor; the pair find each other
    assert dens[0] == pytest.approx(7.0) and dens[1] == dens[2] < 5.0
    assert np.max(dens[3:]) < dens[1]


def test_the_dip_question_is_asked_of_brief_dips_only(tmp_path):
    """A flat floor that lasts as long as a sinusoid's minimum (an RRab standstill, a
    spotted star) is not a transit: as flat as the planted box but as broad as a sine, it
    answers p = 1 and does not rank; the brief box beside it still tops the question."""
    path = _vetting_store(tmp_path / "v.h5", broad_twin=401)
    run_quiet(score(path, dataclasses.replace(CFG, spaces=("vetting",))))
    with Store(path) as st:
        surprise, rank = st.read("scores/vetting/surprise"), st.read("scores/vetting/rank")
        flat = st.read("foldstats/dip_flatness")
    dip = QUESTION_NAMES.index("dip")
    assert flat[401] == flat[400] == flat.max()
    assert surprise[401, dip] == 0.0 and rank[401] > 100
    assert surprise[400, dip] == surprise[:, dip].max() and rank[400] <= 10
    # the Why pane's answers say why the broad one was not asked
    from engine.anomaly.explain import vetting_answers
    with Store(path) as st:
        broad, brief = (next(a for a in vetting_answers(st, r) if a["name"] == "dip")
                        for r in (401, 400))
    assert broad["note"] == ("not asked: its deepest dip lasts 44% of the cycle (a minimum, "
                             "not an eclipse or a transit)") and broad["p"] == 1.0
    assert brief["note"] == "" and brief["p"] < 0.01
