"""Run comparison: a small store scored twice with different settings; the rank history,
risers/fallers, 'new in the top N', provenance of both runs, the CLI."""
import dataclasses

import numpy as np
import pytest

from engine.anomaly import score
from engine.cli import main
from engine.compare import KEEP, CompareError, compare, history, remember
from engine.config import ScoreConfig
from engine.progress import run_quiet
from engine.store import Store
from tests.engine.test_anomaly_stage import make_store

CFG = ScoreConfig(n_estimators=60, n_jobs=1, top_k=100, top_overlap=20,
                  spaces=("cartesian",), convergence_check=False)


@pytest.fixture
def twice(tmp_path):
    """Scored with 60 trees, seed 0, then 200 trees, seed 7."""
    path = make_store(tmp_path / "s.h5", n=400, n_anom=6)
    run_quiet(score(path, dataclasses.replace(CFG, seed=0)))
    with Store(path) as st:
        first = st.read("scores/cartesian/rank")
    run_quiet(score(path, dataclasses.replace(CFG, n_estimators=200, seed=7)))
    with Store(path) as st:
        second = st.read("scores/cartesian/rank")
    return path, first, second


def test_history_keeps_both_rankings_with_provenance(twice):
    path, first, second = twice
    with Store(path) as st:
        recs = history(st, "cartesian")
        assert len(recs) == 2
        np.testing.assert_array_equal(st.read(f"rank_history/cartesian/{recs[0]['key']}/rank"),
                                      first)
        np.testing.assert_array_equal(st.read(f"rank_history/cartesian/{recs[1]['key']}/rank"),
                                      second)
    assert [r["settings"]["n_estimators"] for r in recs] == [60, 200]
    assert [r["settings"]["seed"] for r in recs] == [0, 7]
    assert recs[0]["run_config_hash"] != recs[1]["run_config_hash"]
    assert recs[0]["written"] <= recs[1]["written"]


def test_compare_is_the_rank_difference(twice):
    path, first, second = twice
    c = compare(path, "cartesian", top=30)
    both = (first > 0) & (second > 0)
    np.testing.assert_array_equal(c.rise, np.where(both, first - second, 0))
    assert not np.array_equal(first, second)                  # the settings changed it
    up, down = c.risers(5), c.fallers(5)
    assert len(up) and c.rise[up[0]] == c.rise.max() and (np.diff(c.rise[up]) <= 0).all()
    assert len(down) and c.rise[down[0]] == c.rise.min()
    new = c.new_in_top()
    want = np.flatnonzero((second > 0) & (second <= 30) & ~((first > 0) & (first <= 30)))
    assert sorted(new) == sorted(want) and (np.diff(second[new]) > 0).all()
    assert len(c.left_top()) == len(new)                      # as many left as came in
    assert c.overlap() == pytest.approx(1 - len(new) / 30)
    assert c.old["settings"]["n_estimators"] == 60 and c.new["settings"]["n_estimators"] == 200


def test_unchanged_rescore_adds_no_entry_and_history_is_bounded(twice, monkeypatch):
    import engine.compare

    path, _, _ = twice
    run_quiet(score(path, dataclasses.replace(CFG, n_estimators=200, seed=7)))  # up to date
    with Store(path) as st:
        assert len(history(st, "cartesian")) == 2
    assert KEEP >= 2
    monkeypatch.setattr(engine.compare, "KEEP", 3)          # the bound, with fewer runs
    for seed in range(2):
        run_quiet(score(path, dataclasses.replace(CFG, seed=100 + seed)))
    with Store(path) as st:
        recs = history(st, "cartesian")
    assert len(recs) == 3 and [r["settings"]["seed"] for r in recs] == [7, 100, 101]


def test_a_store_scored_before_the_history_keeps_its_last_ranking(tmp_path):
    """A store whose /scores predates the history: the next run records the old ranking
    first, so the first comparison already works."""
    path = make_store(tmp_path / "old.h5", n=300, n_anom=5)
    run_quiet(score(path, CFG))
    with Store(path, "a") as st:
        st.delete_group("rank_history")                         # as written by older pvsvet
    with pytest.raises(CompareError, match="0 scoring run"):
        compare(path, "cartesian")
    run_quiet(score(path, dataclasses.replace(CFG, seed=3)))
    c = compare(path, "cartesian")
    assert c.old["settings"]["seed"] == 0 and c.new["settings"]["seed"] == 3
    with Store(path, "a") as st:
        assert remember(st, "cartesian") == f"rank_history/cartesian/{c.new['key']}"  # no copy


def test_cli(twice, capsys):
    path, first, second = twice
    assert main(["compare", str(path), "--space", "cartesian", "--top", "30", "--show", "3"]) == 0
    out = capsys.readouterr().out
    assert "n_estimators=60" in out and "n_estimators=200" in out and "seed=7" in out
    assert "new in the top:" in out and "rose most:" in out and "fell most:" in out
    c = compare(path, "cartesian", top=30)
    r = int(c.risers(1)[0])
    assert f"o{r}: rank {first[r]} → {second[r]} ({first[r] - second[r]:+d})" in out
    assert main(["compare", str(path), "--list"]) == 0
    assert "2 recorded run(s)" in capsys.readouterr().out


def test_cli_bad_input(tmp_path, capsys):
    path = make_store(tmp_path / "s.h5", n=200, n_anom=2)
    assert main(["compare", str(path)]) == 1
    assert "nothing is scored yet" in capsys.readouterr().err
    run_quiet(score(path, CFG))
    assert main(["compare", str(path)]) == 1
    err = capsys.readouterr().err
    assert "1 scoring run(s) of cartesian recorded; comparing needs two" in err
    assert "Traceback" not in err
    assert main(["compare", str(path), "--runs", "w1", "w2"]) == 1
    assert "no run w1, w2 of cartesian" in capsys.readouterr().err


def test_against_another_space_after_a_labelled_rescore(twice, capsys):
    """A first labelled rescore has no earlier run of its own: compare it with the plain
    ranking it re-ranked."""
    from engine.labels import LabelJournal

    path, _, second = twice
    with Store(path) as st:
        ids = st.read_objects(["id"])["id"]
    low = np.argsort(-second.astype(float))[:3]          # three of the least anomalous
    with LabelJournal(path) as j:
        for r in low:
            j.add(str(ids[r]), "anomaly", author="ann")
    run_quiet(score(path, dataclasses.replace(CFG, n_estimators=200, seed=7, aad_trees=50),
                    use_labels=True))
    c = compare(path, "active", top=30, against="cartesian")
    with Store(path) as st:
        active = st.read("scores/active/rank")
    np.testing.assert_array_equal(c.new_rank, active)
    np.testing.assert_array_equal(c.old_rank, second)
    assert c.old["space"] == "cartesian" and c.new["n_labels"] == 3
    assert main(["compare", str(path), "--space", "active", "--against", "cartesian"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cartesian: old cartesian (current)") and "active: new" in out
    assert main(["compare", str(path), "--space", "active", "--against", "nope"]) == 1
    assert "no /scores/nope" in capsys.readouterr().err
