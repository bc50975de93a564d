"""Fold statistics: how the raw points depart from the folded GP curve."""
import numpy as np
import pytest

from engine.anomaly.foldstats import NAMES, ensure_fold_stats, fold_stats
from engine.errors import FeatureError
from engine.progress import run_quiet
from engine.store import LightCurve, Store

N_PHASE = 160
PERIOD = 0.7
AMP = 0.4            # semi-amplitude, mag
ERR = 0.02


def _curve(phase: np.ndarray, band: np.ndarray) -> np.ndarray:
    return 15.0 + 0.3 * band + AMP * np.sin(2 * np.pi * phase)


def make_store(path, n_points=400, seed=0):
    """Four sinusoidal stars on one period with their exact GP curve in /interp:
    0 clean, 1 with 10% of its points 2 mag brighter (outbursts), 2 folded on a wrong
    period (its catalogue period is 1.3 x the true one), 3 with no GP curve."""
    rng = np.random.default_rng(seed)
    lcs, periods = [], []
    for i in range(4):
        t = np.sort(rng.uniform(0, 900, n_points))
        band = (rng.random(n_points) < 0.5).astype("u1")
        mag = _curve(t / PERIOD % 1, band) + rng.normal(0, ERR, n_points)
        if i == 1:
            mag[rng.choice(n_points, n_points // 10, replace=False)] -= 2.0
        lcs.append(LightCurve(t, mag, np.full(n_points, ERR), band))
        periods.append(PERIOD * (1.3 if i == 2 else 1.0))
    grid = np.arange(N_PHASE) / N_PHASE
    curves = np.stack([_curve(grid, 0), _curve(grid, 1)])            # (2, 160) magnitudes
    mbar = curves.mean(axis=1)
    sigma = curves.std(axis=1)
    mean = np.repeat(((curves - mbar[:, None]) / sigma[:, None])[None], 4, axis=0)
    mean[3] = np.nan
    with Store.create(path) as st:
        st.append_objects({"id": [f"o{i}" for i in range(4)], "period": periods}, lcs)
        st.write_group("interp", {"mean": mean.astype("f4"),
                                  "raw_mean_mag": np.tile(mbar, (4, 1)),
                                  "raw_std_mag": np.tile(sigma, (4, 1))})
    return path


def test_statistics_tell_clean_outbursting_and_misfolded_stars_apart(tmp_path):
    out = fold_stats(make_store(tmp_path / "s.h5"))
    frac, scatter, var = (out[k] for k in NAMES[:3])
    # a clean fold: Gaussian noise only, no point beyond 4 sigma, scatter = the errors
    assert frac[0] < 0.005 and 0.8 < scatter[0] < 1.2
    # the variation is AMP/sqrt(2) rms over errors of ERR
    assert var[0] == pytest.approx(AMP / np.sqrt(2) / ERR, rel=0.1)
    # outbursts: their share of the points is off the fold; the rest still fits
    assert frac[1] == pytest.approx(0.10, abs=0.02) and scatter[1] < 1.5
    # a wrong period scrambles the fold: scatter of the order of the amplitude
    assert scatter[2] > 5 and var[2] == pytest.approx(var[0], rel=0.1)
    assert np.isnan([frac[3], scatter[3], var[3]]).all()       # no GP curve, no statistics


def test_stored_once_and_recomputed_after_the_gp_reruns(tmp_path):
    path = make_store(tmp_path / "s.h5")
    first = run_quiet(ensure_fold_stats(path))
    with Store(path) as st:
        written = st.attrs("foldstats")["written"]
        np.testing.assert_array_equal(st.read("foldstats/fold_outlier_frac"),
                                      first["fold_outlier_frac"])
    again = run_quiet(ensure_fold_stats(path))
    with Store(path) as st:
        assert st.attrs("foldstats")["written"] == written          # read, not recomputed
    np.testing.assert_array_equal(again["fold_scatter"], first["fold_scatter"])
    with Store(path, "a") as st:                                    # the GP stage reruns
        grp = {k: st.read(f"interp/{k}") for k in ("mean", "raw_mean_mag", "raw_std_mag")}
        grp["mean"][0] = np.nan
        st.write_group("interp", grp)
    redone = run_quiet(ensure_fold_stats(path))
    assert np.isnan(redone["fold_scatter"][0]) and not np.isnan(first["fold_scatter"][0])


def test_missing_inputs_name_the_store_and_the_stage(tmp_path):
    with Store.create(tmp_path / "bare.h5") as st:
        e = np.zeros(0)
        st.append_objects({"id": ["a"], "period": [1.0]}, [LightCurve(e, e, e, e.astype("u1"))])
    with pytest.raises(FeatureError, match=r"bare\.h5.*interp/mean.*interpolate"):
        run_quiet(ensure_fold_stats(tmp_path / "bare.h5"))
