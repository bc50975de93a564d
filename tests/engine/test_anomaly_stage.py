"""The score stage end to end on small synthetic stores."""
import dataclasses

import numpy as np
import pytest

from engine.anomaly import feedback_experiment, recall_report, runner, score
from engine.cli import main
from engine.config import ScoreConfig
from engine.labels import LabelJournal
from engine.progress import Progress, run_quiet
from engine.store import LightCurve, Store

# these stores hold latent means only (no GP fits): the paper's two spaces
CFG = ScoreConfig(n_estimators=100, n_jobs=1, top_k=200, top_overlap=20, aad_trees=50,
                  spaces=("cartesian", "spherical"))


def make_store(path, n=1500, n_anom=15, seed=0):
    """Four classes on well separated latent clusters, injected outliers, two NaN rows."""
    rng = np.random.default_rng(seed)
    classes = np.array(["EW", "SR", "RR", "Mira"])[rng.integers(0, 4, n)]
    centre = {"EW": 0.0, "SR": 3.0, "RR": -3.0, "Mira": 6.0}
    mu = rng.normal(size=(n, 10)) * 0.4
    mu[:, 0] += [centre[c] for c in classes]
    truth = np.zeros(n, np.uint8)
    truth[rng.choice(np.arange(2, n), n_anom, replace=False)] = 1
    mu[truth == 1] += rng.normal(size=(n_anom, 10)) * 4
    mu[:2] = np.nan                                   # not encoded: excluded
    e = np.zeros(0)
    cols = {"id": [f"o{i}" for i in range(n)], "class": classes,
            "period": 10 ** rng.uniform(-1, 2, n), "mean_g": rng.normal(15, 0.2, n),
            "mean_r": rng.normal(14.5, 0.2, n), "ra": rng.uniform(0, 360, n),
            "dec": rng.uniform(-30, 80, n), "truth_anomaly": truth,
            "truth_kind": np.where(truth == 1, np.where(np.arange(n) % 2, "far", "near"), "")}
    with Store.create(path) as st:
        st.append_objects(cols, [LightCurve(e, e, e, e.astype("u1")) for _ in range(n)])
        st.write_group("vae", {"mu": mu.astype("f4")})
    return path


@pytest.fixture
def store(tmp_path):
    return make_store(tmp_path / "s.h5")


def test_score_writes_both_spaces(store):
    result = run_quiet(score(store, CFG))
    with Store(store) as st:
        for space in ("cartesian", "spherical"):
            s, r = st.read(f"scores/{space}/score"), st.read(f"scores/{space}/rank")
            attrs = st.attrs(f"scores/{space}")
            assert np.nanmax(s) == 1.0 and np.isnan(s[:2]).all() and (r[:2] == 0).all()
            assert sorted(r[2:]) == list(range(1, len(r) - 1))
            assert r[np.nanargmax(s)] == 1
            raw = st.read(f"scores/{space}/raw")
            np.testing.assert_allclose(s[2:], raw[2:] / raw[2:].max())
            assert len(attrs["features"]) == 12 and attrs["n_excluded"] == 2
            assert attrs["convergence"]["checked"] and 0 <= attrs["convergence"]["top20_overlap"] <= 1
            assert set(attrs["class_statistics"]) == {"EW", "SR", "RR", "Mira"}
            assert sum(attrs["class_mix"]["top"].values()) == 20
            assert attrs["settings"]["n_estimators"] == 100
        assert st.last_run("score")["spaces"] == ["cartesian", "spherical"]
    assert result["cartesian"]["convergence"]["n_trees"] == 100
    rep = recall_report(store)
    assert rep["cartesian"]["recall"]["top2%"]["all"]["recall"] >= 0.8
    assert rep["meets_target"] and set(rep["cartesian"]["recall"]["top1%"]) >= {"far", "near"}


def test_deterministic_and_resumes(store):
    run_quiet(score(store, CFG))
    with Store(store) as st:
        first = st.read("scores/spherical/score")
    again = run_quiet(score(store, CFG))
    assert "skipped" in again
    run_quiet(score(store, CFG, force=True))
    with Store(store) as st:
        np.testing.assert_array_equal(first, st.read("scores/spherical/score"))
    run_quiet(score(store, dataclasses.replace(CFG, seed=5)))     # new settings: rescored
    with Store(store) as st:
        assert not np.array_equal(first, st.read("scores/spherical/score"))


def test_cancel_leaves_store_untouched(store):
    gen = score(store, dataclasses.replace(CFG, spaces=("cartesian",)))
    assert isinstance(next(gen), Progress)
    next(gen)
    gen.close()
    with Store(store) as st:
        assert not st.has("scores") and st.last_run("score") is None


def test_worker_processes_give_the_same_scores(store, monkeypatch):
    cfg = dataclasses.replace(CFG, spaces=("cartesian",), n_estimators=60)
    run_quiet(score(store, cfg))
    with Store(store) as st:
        serial = st.read("scores/cartesian/score")
    monkeypatch.setattr(runner, "MIN_ROWS_FOR_PROCESSES", 0)
    run_quiet(score(store, dataclasses.replace(cfg, n_jobs=2), force=True))
    with Store(store) as st:
        np.testing.assert_array_equal(serial, st.read("scores/cartesian/score"))


def test_cancel_terminates_worker_processes(store, monkeypatch):
    import multiprocessing as mp

    monkeypatch.setattr(runner, "MIN_ROWS_FOR_PROCESSES", 0)
    gen = score(store, dataclasses.replace(CFG, n_jobs=2, n_estimators=5000))
    for _ in range(3):
        next(gen)
    gen.close()
    assert not mp.active_children()
    with Store(store) as st:
        assert not st.has("scores")


def test_cli_score_and_missing_features(store, tmp_path, capsys):
    assert main(["score", str(store), "--trees", "50", "--space", "spherical",
                 "--no-convergence"]) == 0
    out = capsys.readouterr().out
    assert "spherical: fit" in out and "cartesian" not in out
    with Store(store) as st:
        assert st.has("scores/spherical") and not st.has("scores/cartesian")
        assert not st.attrs("scores/spherical")["convergence"]["checked"]
    bare = tmp_path / "bare.h5"
    Store.create(bare).close()
    assert main(["score", str(bare)]) == 1
    assert "latent means" in capsys.readouterr().err
    # the default spaces include vetting and diagnostic, which need the GP fits
    assert main(["score", str(store), "--trees", "50"]) == 1
    err = capsys.readouterr().err
    assert "need /interp/mean (run interpolate first)" in err and "--space both" in err
    assert "the diagnostic and vetting spaces use them" in err
    assert "Traceback" not in err


def test_use_labels_without_and_with_labels(store, capsys):
    assert main(["score", str(store), "--trees", "50", "--space", "spherical",
                 "--use-labels"]) == 0
    assert "no usable labels" in capsys.readouterr().out
    with Store(store) as st:
        assert st.attrs("scores/active")["space"] == "spherical"
    assert main(["score", str(store), "--trees", "50", "--space", "both", "--use-labels"]) == 0
    assert "no usable labels" in capsys.readouterr().out
    with Store(store) as st:
        np.testing.assert_allclose(st.read("scores/active/score")[2:],
                                   (lambda s: (s - s.min()) / (s.max() - s.min()))(
                                       st.read("scores/cartesian/score")[2:]))
        truth = st.read_objects(["truth_anomaly"])["truth_anomaly"]
    with LabelJournal(store) as j:
        for i in np.flatnonzero(truth)[:5]:
            j.add(f"o{i}", "anomaly")
        j.add("o10", "EW")
        j.add("o11", "not interesting")
        j.add("o12", "my custom label")            # ignored by AAD
    assert main(["score", str(store), "--trees", "50", "--space", "both", "--use-labels"]) == 0
    assert "re-ranked with 7 labels (5 anomalous)" in capsys.readouterr().out
    with Store(store) as st:
        a = st.attrs("scores/active")
        assert a["n_labels"] == 7 and a["n_regular"] == 2 and a["space"] == "cartesian"
        assert np.nanmax(st.read("scores/active/score")) == 1.0


def test_feedback_experiment_counts(store):
    run_quiet(score(store, dataclasses.replace(CFG, convergence_check=False)))
    res = feedback_experiment(store, rounds=2, per_round=5, cfg=CFG)
    assert res["inspected"] == 10 and len(res["found_per_round"]) == 2
    assert 0 <= res["found_with_feedback"] <= 10 and 0 <= res["found_plain_forest"] <= 10
    assert res["n_injected"] == 15


def test_bench_anomaly_reports_recall_mix_and_feedback(store, capsys):
    import json

    run_quiet(score(store, dataclasses.replace(CFG, convergence_check=False)))
    assert main(["bench", "anomaly", "--store", str(store), "--rounds", "2", "--per-round", "5",
                 "--feedback-spaces", "cartesian,diagnostic", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["spaces"]) == {"cartesian", "spherical"}
    top2 = out["spaces"]["cartesian"]["recall"]["top2%"]
    # 1,498 scored objects: the top 2% are 30; the 15 outliers lie far from the clusters
    assert top2["n_top"] == 30 and top2["all"]["injected"] == 15
    assert top2["far"]["injected"] + top2["near"]["injected"] == 15
    assert out["summary"]["cartesian"]["top2%"] == top2["all"]["recall"] >= 0.5
    assert out["meets_target"] == any(v["top2%"] >= 0.8 for v in out["summary"].values())
    mix = out["spaces"]["cartesian"]["class_mix"]
    assert sum(mix["top"].values()) == 100 and out["spaces"]["cartesian"]["paper_top100"]
    fb = out["feedback"]["cartesian"]
    assert fb["inspected"] == 10 and fb["found_with_feedback"] <= 10
    assert "no /scores/diagnostic" in out["feedback"]["diagnostic"]["error"]
