"""The fast scoring of fitted scikit-learn forests, normalisation, ranks, convergence."""
import numpy as np
import pytest

from engine.anomaly import stats
from engine.anomaly.forest import FastIsolationForest, average_path_length, compile_forest


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 12))
    x[:15] *= 6           # a few outliers
    return x


@pytest.mark.parametrize("max_samples", [256, 100, 37, 16, 8])
def test_scores_equal_scikit_learn(data, max_samples):
    est = FastIsolationForest(200, max_samples, random_state=3).fit(data)
    np.testing.assert_allclose(est.score_samples(data), est.model_.score_samples(data),
                               rtol=0, atol=1e-12)
    assert est.padded_.depth == int(np.ceil(np.log2(max_samples)))


def test_feature_subsets_are_mapped_back(data):
    # a bag of features per tree (max_features < 1) must index the columns of X
    from sklearn.ensemble import IsolationForest

    model = IsolationForest(n_estimators=50, max_features=0.5, random_state=1).fit(data)
    est = FastIsolationForest(50)
    est.padded_ = compile_forest(model)
    est.norm_ = 50 * average_path_length([256])[0]
    est.n_jobs, est.block = 1, 512
    np.testing.assert_allclose(est.score_samples(data), model.score_samples(data), atol=1e-12)


def test_tiny_data_and_threads(data):
    small = data[:40]
    est = FastIsolationForest(100, 256, 0, n_jobs=2, block=7).fit(small)
    assert est.max_samples_ == 40
    np.testing.assert_allclose(est.score_samples(small), est.model_.score_samples(small),
                               atol=1e-12)


def test_average_path_length_matches_definition():
    c = average_path_length([0, 1, 2, 3, 256])
    assert c[0] == 0 and c[1] == 0 and c[2] == 1
    assert c[3] == pytest.approx(2 * (np.log(2) + np.euler_gamma) - 4 / 3)
    assert c[4] == pytest.approx(10.2448, abs=1e-3)


def test_outliers_score_highest(data):
    s = FastIsolationForest(300, 256, 0).fit(data).anomaly_score(data)
    assert set(np.argsort(-s)[:10]) <= set(range(15))


def test_deterministic_for_a_seed(data):
    a = FastIsolationForest(100, 256, 7).fit(data).anomaly_score(data)
    b = FastIsolationForest(100, 256, 7).fit(data).anomaly_score(data)
    c = FastIsolationForest(100, 256, 8).fit(data).anomaly_score(data)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_normalise_and_ranks():
    raw = np.array([0.4, np.nan, 0.8, 0.5, 0.8])
    s = stats.normalise(raw)
    assert np.nanmax(s) == 1.0 and s[0] == pytest.approx(0.5) and np.isnan(s[1])
    # ties keep row order; excluded rows get rank 0
    assert stats.ranks(s).tolist() == [4, 0, 1, 3, 2]
    mm = stats.minmax(np.array([-2.0, 0.0, 2.0, np.nan]))
    assert mm[:3].tolist() == [0.0, 0.5, 1.0]


def test_convergence_identical_and_shuffled():
    rng = np.random.default_rng(0)
    s = rng.uniform(size=5000)
    same = stats.convergence(s, s, 10, top_k=1000, top_overlap=100)
    assert same["top100_overlap"] == 1.0 and same["spearman_top1000"] == pytest.approx(1.0)
    other = stats.convergence(s, rng.uniform(size=5000), 10)
    assert other["top100_overlap"] < 0.2 and abs(other["spearman_all"]) < 0.1


def test_class_statistics_and_mix():
    score = np.array([1.0, 0.9, 0.2, 0.1, np.nan])
    classes = np.array(["SR", "Mira", "EW", "EW", "EW"])
    st = stats.class_statistics(score, classes)
    assert st["EW"]["n"] == 2 and st["EW"]["quantiles"]["0.5"] == pytest.approx(0.15)
    assert st["SR"]["cdf"][-1] == 1.0 and st["SR"]["cdf"][0] == 0.0
    mix = stats.class_mix(score, classes, k=2)
    assert mix["top"] == {"SR": 1, "Mira": 1} and mix["bottom"] == {"EW": 2}


def test_batched_fit_and_chunked_scoring_change_nothing(data):
    one = FastIsolationForest(120, 256, 2).fit(data)
    est = FastIsolationForest(120, 256, 2)
    assert list(est.fit_steps(data, batch=50)) == [50, 100, 120]
    out = np.zeros(len(data))
    assert list(est.path_sums_steps(data, out, chunk=1000)) == [1000, 2000, 3000]
    np.testing.assert_array_equal(out, one.path_sums(data))
