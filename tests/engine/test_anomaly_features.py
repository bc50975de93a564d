"""Features of the forests: the spherical transform of eq. 9 and feature loading."""
import numpy as np
import pytest

from engine.anomaly.features import build_features, from_spherical, load_features, to_spherical
from engine.errors import FeatureError
from engine.store import LightCurve, Store


@pytest.mark.parametrize("convention", ["paper", "blumenson"])
def test_round_trip_to_cartesian(convention):
    x = np.random.default_rng(1).normal(size=(2000, 10)) * 3
    s = to_spherical(x, convention)
    np.testing.assert_allclose(from_spherical(s, convention), x, atol=1e-10)


def test_radius_and_angle_ranges():
    x = np.random.default_rng(2).normal(size=(5000, 10))
    s = to_spherical(x)
    np.testing.assert_allclose(s[:, 0], np.linalg.norm(x, axis=1))
    assert (s[:, 1:9] >= 0).all() and (s[:, 1:9] <= np.pi).all()
    assert (s[:, 9] >= 0).all() and (s[:, 9] < 2 * np.pi).all()
    # the last angle uses both half-planes, so it covers (0, 2 pi), not [0, pi]
    assert s[:, 9].max() > 1.5 * np.pi and s[:, 9].min() < 0.5 * np.pi


def test_first_angle_formula():
    x = np.array([[1.0, 1, 1, 1, 0, 0, 0, 0, 0, 0]])
    s = to_spherical(x)
    assert s[0, 0] == pytest.approx(2.0)
    assert s[0, 1] == pytest.approx(np.arccos(0.5))                 # x1 / |x|
    assert s[0, 2] == pytest.approx(np.arccos(1 / np.sqrt(3)))      # x2 / |x2..x10|


def test_last_angle_branch_follows_the_paper():
    # eq. 9: theta_9 = arccos(x8 / sqrt(x8^2 + x9^2)) where x9 <= 0, else 2 pi - arccos(...)
    base = np.zeros((2, 10))
    base[:, 8] = 1.0
    base[0, 9], base[1, 9] = -1.0, 1.0
    paper = to_spherical(base, "paper")[:, 9]
    assert paper[0] == pytest.approx(np.pi / 4)
    assert paper[1] == pytest.approx(2 * np.pi - np.pi / 4)
    blum = to_spherical(base, "blumenson")[:, 9]
    assert blum[0] == pytest.approx(2 * np.pi - np.pi / 4)
    assert blum[1] == pytest.approx(np.pi / 4)


def test_zero_tail_gives_zero_angles():
    x = np.zeros((1, 10))
    x[0, 0] = -2.0
    s = to_spherical(x)
    assert s[0, 0] == 2.0 and s[0, 1] == pytest.approx(np.pi) and (s[0, 2:] == 0).all()


def test_bad_shape_and_convention_refused():
    with pytest.raises(FeatureError, match="N, n>=2"):
        to_spherical(np.zeros(10))
    with pytest.raises(FeatureError, match="last_angle"):
        to_spherical(np.zeros((3, 10)), "other")


def test_build_features_excludes_bad_rows_and_appends_extras():
    mu = np.random.default_rng(3).normal(size=(6, 10))
    mu[1, 4] = np.nan
    period = np.array([1.0, 2.0, -1.0, 10.0, np.nan, 100.0])
    m_gr = np.array([0.1, 0.2, 0.3, np.nan, 0.5, 0.6])
    f = build_features(mu, period, m_gr)
    assert f.valid.tolist() == [True, False, False, False, False, True]
    assert np.isnan(f.cartesian[~f.valid]).all() and np.isnan(f.spherical[~f.valid]).all()
    np.testing.assert_allclose(f.cartesian[5, 10:], [2.0, 0.6])
    np.testing.assert_allclose(f.spherical[5, 10:], [2.0, 0.6])
    np.testing.assert_allclose(f.spherical[5, :10], to_spherical(mu[5:6])[0])
    assert f.names["spherical"][:2] == ["r", "theta_1"] and len(f.names["cartesian"]) == 12


def _store(path, n=5, mu=True, colours=True):
    e = np.zeros(0)
    lcs = [LightCurve(e, e, e, e.astype("u1")) for _ in range(n)]
    cols = {"id": [f"s{i}" for i in range(n)], "period": np.full(n, 2.0)}
    if colours:
        cols.update(mean_g=np.full(n, 15.0), mean_r=np.full(n, 14.0))
    with Store.create(path) as st:
        st.append_objects(cols, lcs)
        if mu:
            st.write_group("vae", {"mu": np.ones((n, 10), "f4")})
    return path


def test_missing_latent_means_is_a_feature_error(tmp_path):
    path = _store(tmp_path / "s.h5", mu=False)
    with pytest.raises(FeatureError, match="latent means.*vae/mu"):
        load_features(path)


def test_missing_colour_falls_back_to_interp_then_errors(tmp_path):
    path = _store(tmp_path / "s.h5")
    with Store(path, "a") as st:
        st.update_objects({"mean_g": [np.nan]}, [2])
        st.write_group("interp", {"raw_mean_mag": np.tile([16.0, 15.25], (5, 1))})
    f = load_features(path)
    assert f.cartesian[2, 11] == pytest.approx(0.75) and f.cartesian[0, 11] == pytest.approx(1.0)
    assert "interp.raw_mean_mag for 1 rows" in f.m_gr_source
    with Store(path, "a") as st:
        st.delete_group("interp")
        st.update_objects({"mean_g": [np.nan] * 5}, range(5))
    with pytest.raises(FeatureError, match="no object has all features"):
        load_features(path)
