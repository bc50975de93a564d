"""The opt-in diagnostic space: fold and band coherence, points off the fold, latent
radius and residual, each one-sided."""
import dataclasses

import numpy as np
import pytest

from engine import provenance as prov
from engine.anomaly import feedback_experiment, recall_report, score
from engine.anomaly.features import (DIAGNOSTIC_NAMES, build_features, load_features,
                                     one_sided)
from engine.errors import FeatureError
from engine.progress import run_quiet
from engine.store import Store

from .test_anomaly_stage import CFG, make_store

HYPER_NAMES = ["l_phi", "l_lambda", "C_mag2", "delta_mag2"]
PLANTED = 100      # a regular object whose fold is incoherent: tiny C/delta only


def _with_fit(path, seed=0, names=HYPER_NAMES):
    """The stage test store with one latent cluster (its outliers and class clusters
    gone, so the radius is unimodal), a residual and GP hyperparameters; one object gets a fold coherence C/delta
    six decades below the rest, and nothing else unusual."""
    rng = np.random.default_rng(seed)
    n = 1500
    with Store(path, "a") as st:
        mu = st.read("vae/mu")
        mu[2:] = rng.normal(size=(n - 2, 10)).astype("f4") * 0.4
        mu[2:, 0] += 3.0
        res = rng.lognormal(0.0, 0.3, (n, 2)).astype("f4")
        res[7] = 0.0                         # log10(0): no feature, left out of the space
        hyper = np.column_stack([10 ** rng.normal(-0.7, 0.1, n), 10 ** rng.normal(0.5, 0.1, n),
                                 10 ** rng.normal(-1.0, 0.2, n), 10 ** rng.normal(-3.0, 0.2, n)])
        hyper[PLANTED, 3] = 10.0 ** 3.0      # C/delta = 1e-4 against ~1e2, like a wrong period
        frac = rng.uniform(0, 0.004, n)      # points off the fold: a few per mille
        st.write_group("vae", {"mu": mu, "recon_residual": res})
        st.write_group("interp", {"hyper": hyper}, {"hyper_names": names})
        # as the foldstats stage stores them, recorded as computed from this /interp
        st.write_group("foldstats", {"fold_outlier_frac": frac, "fold_scatter": np.ones(n),
                                     "variability": np.full(n, 10.0)})
        prov.record(st, "foldstats", None)
    return path, res, hyper, frac


def test_build_features_diagnostic_columns():
    rng = np.random.default_rng(1)
    mu = rng.normal(size=(40, 10))
    res = np.column_stack([np.full(40, 10.0), np.full(40, 0.01)])
    hyper = np.tile([0.2, 3.0, 0.5, 0.005], (40, 1))
    hyper[0, 2] = 5e-5                   # C/delta 1e-2: a fold that explains little
    hyper[1, 2] = 5.0                    # C/delta 1e3: better than most, unremarkable
    frac = np.zeros(40)
    frac[2] = 0.099                      # a tenth of the points off the fold
    feats = build_features(mu, np.full(40, 2.0), np.full(40, 0.5), recon_residual=res,
                           gp_hyper=hyper, outlier_frac=frac)
    x = feats.space("diagnostic")
    assert x.shape == (40, 5) and feats.names["diagnostic"] == DIAGNOSTIC_NAMES
    assert DIAGNOSTIC_NAMES[:3] == ["log10_C_over_delta", "log10_l_lambda",
                                    "log10_fold_outlier_frac"]
    # the bad fold keeps its low value, the very good one is clipped to the median
    assert x[0, 0] == pytest.approx(-2.0) and x[1, 0] == pytest.approx(2.0)
    np.testing.assert_allclose(x[3:, 0], 2.0)
    np.testing.assert_allclose(x[:, 1], np.log10(3.0))
    assert x[2, 2] == pytest.approx(-1.0) and x[5, 2] == pytest.approx(-3.0)
    r = np.linalg.norm(mu, axis=1)
    np.testing.assert_allclose(x[:, 3], np.maximum(r, np.median(r)))   # large radii kept
    np.testing.assert_allclose(x[:, 4], np.log10(5.005))
    assert feats.valid_for("diagnostic").all()
    with pytest.raises(FeatureError, match="interp/hyper"):
        build_features(mu, np.full(40, 2.0), np.full(40, 0.5), recon_residual=res).space(
            "diagnostic")
    with pytest.raises(FeatureError, match="foldstats"):
        build_features(mu, np.full(40, 2.0), np.full(40, 0.5), recon_residual=res,
                       gp_hyper=hyper).space("diagnostic")


def test_one_sided_keeps_the_meaningful_tail_and_skips_missing_values():
    x = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [np.nan, 9.0]])
    out = one_sided(x, [-1, +1])
    np.testing.assert_array_equal(out[:3, 0], [1.0, 2.0, 2.0])     # low side kept
    np.testing.assert_array_equal(out[:, 1], [2.5, 2.5, 3.0, 9.0])  # high side kept
    assert np.isnan(out[3, 0]) and np.isnan(x[3, 0]) and x[0, 1] == 1.0   # input untouched


def test_load_features_reads_the_gp_vae_and_fold_datasets(tmp_path):
    path, res, hyper, frac = _with_fit(make_store(tmp_path / "s.h5"))
    feats = load_features(path)
    x = feats.space("diagnostic")
    ok = feats.valid_for("diagnostic")
    assert not ok[:2].any() and not ok[7] and ok.sum() == 1500 - 3
    with np.errstate(divide="ignore"):        # row 7's residual is 0
        raw = np.column_stack([np.log10(hyper[:, 2] / hyper[:, 3]), np.log10(hyper[:, 1]),
                               np.log10(frac + 1e-3), feats.spherical[:, 0],
                               np.log10(res.astype(float).mean(axis=1))])[ok]
    med = np.median(raw, axis=0)
    for j, side in enumerate((-1, -1, +1, +1, +1)):
        want = np.minimum(raw[:, j], med[j]) if side < 0 else np.maximum(raw[:, j], med[j])
        np.testing.assert_allclose(x[ok, j], want, rtol=1e-6, err_msg=DIAGNOSTIC_NAMES[j])


def test_hyper_columns_in_another_order_are_refused(tmp_path):
    path, *_ = _with_fit(make_store(tmp_path / "s.h5"),
                         names=["C_mag2", "delta_mag2", "l_phi", "l_lambda"])
    with pytest.raises(FeatureError, match="hyper columns"):
        load_features(path)


def test_incoherent_fold_ranks_first(tmp_path):
    path, *_ = _with_fit(make_store(tmp_path / "s.h5"))
    # every tree sees all objects (max_samples capped at N): with 256 of 1,500 a lone
    # object is in one tree's sample in six, and its edge a few ranks are noise
    cfg = dataclasses.replace(CFG, spaces=("cartesian", "diagnostic"), convergence_check=False,
                              aad_space="diagnostic", max_samples=5000)
    run_quiet(score(path, cfg))
    with Store(path) as st:
        attrs = st.attrs("scores/diagnostic")
        rank = st.read("scores/diagnostic/rank")
        cart_rank = st.read("scores/cartesian/rank")
    assert attrs["features"] == DIAGNOSTIC_NAMES and attrs["n_excluded"] == 3
    assert rank[PLANTED] == 1 and rank[7] == 0
    assert cart_rank[PLANTED] > 100          # the latent means do not see it
    report = recall_report(path, fractions=(0.02,), k=20)
    assert "diagnostic" in report and report["diagnostic"]["recall"]["top2%"]["n_top"] == 30
    fb = feedback_experiment(path, rounds=2, per_round=10, cfg=cfg)
    assert fb["space"] == "diagnostic" and fb["inspected"] == 20
