"""The opt-in residual space: Cartesian features + log10 appendix-C residual."""
import dataclasses

import numpy as np
import pytest

from engine.anomaly import recall_report, score
from engine.anomaly.features import build_features
from engine.errors import ConfigError, FeatureError
from engine.progress import run_quiet
from engine.store import Store

from .test_anomaly_stage import CFG, make_store


def _with_residual(path, seed=0):
    """The stage test store, plus a residual: its anomalies hide in the latent cluster
    of their class and only miss their reconstruction."""
    rng = np.random.default_rng(seed)
    with Store(path, "a") as st:
        mu = st.read("vae/mu")
        truth = st.read_objects(["truth_anomaly"])["truth_anomaly"].astype(bool)
        cls = st.read_objects(["class"])["class"]
        mu[truth] = rng.normal(size=(truth.sum(), 10)).astype("f4") * 0.4
        mu[truth, 0] += 3.0                        # inside the SR cluster
        res = rng.lognormal(0.0, 0.3, (len(mu), 2)).astype("f4")
        res[truth] *= 10.0 ** rng.uniform(1.0, 3.0, (truth.sum(), 1))
        res[5] = np.nan                            # no residual: left out of that space only
        st.write_group("vae", {"mu": mu, "recon_residual": res})
    return path, truth, cls


def test_build_features_residual_column():
    rng = np.random.default_rng(1)
    mu = rng.normal(size=(50, 10))
    res = np.full((50, 2), 4.0)
    res[3] = [100.0, 0.0]
    feats = build_features(mu, np.full(50, 2.0), np.full(50, 0.5), recon_residual=res)
    x = feats.space("residual")
    assert x.shape == (50, 13)
    np.testing.assert_array_equal(x[:, :12], feats.cartesian)
    assert x[0, 12] == pytest.approx(np.log10(4.0)) and x[3, 12] == pytest.approx(np.log10(50.0))
    assert feats.names["residual"][-1] == "log10_recon_residual"
    no_res = build_features(mu, np.full(50, 2.0), np.full(50, 0.5))
    with pytest.raises(FeatureError, match="recon_residual"):
        no_res.space("residual")


def test_residual_space_finds_what_the_latent_means_hide(tmp_path):
    path, truth, _ = _with_residual(make_store(tmp_path / "s.h5"))
    cfg = dataclasses.replace(CFG, spaces=("cartesian", "residual"), convergence_check=False)
    run_quiet(score(path, cfg))
    with Store(path) as st:
        attrs = st.attrs("scores/residual")
        rank = st.read("scores/residual/rank")
        assert attrs["features"][-1] == "log10_recon_residual"
        assert attrs["n_excluded"] == 3 and rank[5] == 0
        assert st.attrs("scores/cartesian")["n_excluded"] == 2
    report = recall_report(path, fractions=(0.02,), k=20)
    assert set(report) >= {"cartesian", "residual"}
    found = {s: report[s]["recall"]["top2%"]["all"]["recall"] for s in ("cartesian", "residual")}
    # one outlying feature of 13 is picked in 1/13 of the splits: a strong but not a
    # total gain (the stage test's latent outliers, by contrast, stand out in all 10)
    assert found["cartesian"] <= 0.1 and found["residual"] >= found["cartesian"] + 0.25
    with Store(path) as st:
        med = {s: np.median(st.read(f"scores/{s}/rank")[truth]) for s in ("cartesian", "residual")}
    assert med["residual"] < 0.2 * med["cartesian"]


def test_residual_space_needs_a_residual(tmp_path):
    path = make_store(tmp_path / "s.h5")
    with pytest.raises(FeatureError, match="recon_residual"):
        run_quiet(score(path, dataclasses.replace(CFG, spaces=("residual",))))
    with pytest.raises(ConfigError, match="unknown space 'polar'"):   # refused at the door
        dataclasses.replace(CFG, spaces=("polar",))
