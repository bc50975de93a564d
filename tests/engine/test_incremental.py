"""``run --new-only``: objects appended to a scored store, scored without retraining.

A small demo catalogue is split into A (the first rows) and B (the rest). A is run
through the real pipeline; B is appended and ``--new-only`` interpolates, encodes and
scores it. The reference is the same objects "in one go": A + B interpolated and
encoded by the stages themselves with the same model, and scored by the forest the
score stage grows on A's features, over all rows at once. B's raw scores must be
equal, A's untouched, and the regrown forest's trees identical to the stage's.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine import config as C
from engine import incremental as I
from engine import pipeline as P
from engine.errors import StageError
from engine.progress import run_quiet
from engine.store import Store

pytest.importorskip("engine.simulate")

N_A, N_B = 150, 50


def tiny_config() -> C.Config:
    """The real stages in seconds: 2 GP chunks, 1 epoch, 60 trees, serial."""
    return C.Config(interp=C.InterpConfig(chunk_size=100, workers=1),
                    vae=C.VAEConfig(epochs=1, minutes=0.0, batch_size=64, patience=5,
                                    n_decode=2),
                    score=C.ScoreConfig(n_estimators=60, convergence_check=False, top_k=20,
                                        top_overlap=20, n_jobs=1),
                    pipeline=C.PipelineConfig(workers=1))


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    """demo (A + B), scored A, and A + B after ``--new-only``."""
    from engine.simulate import make_demo

    d = tmp_path_factory.mktemp("incr")
    demo = d / "demo.h5"
    run_quiet(make_demo(str(demo), N_A + N_B, 5, dust=False))
    a = d / "a.h5"
    I.copy_objects(demo, a, slice(0, N_A))
    res = run_quiet(P.run_pipeline(a, tiny_config(), stages="interpolate,train,encode,score"))
    assert res["ran"] == ["interpolate", "train", "encode", "score"]
    inc = d / "inc.h5"
    shutil.copyfile(a, inc)
    assert I.copy_objects(demo, inc, slice(N_A, None)) == range(N_A, N_A + N_B)
    out = run_quiet(I.run_new_only(inc, tiny_config()))
    assert out["new_rows"] == N_B and out["fitted_rows"] == N_A and out["increment"] == 1
    return {"demo": demo, "a": a, "inc": inc, "dir": d}


def read(path: Path, name: str) -> np.ndarray:
    with Store(path, "r") as st:
        return st.read(name)


def one_go(stores) -> Path:
    """A + B through the interpolate and encode stages, the model kept (A's)."""
    from engine.gp import interpolate
    from engine.vae.encoding import encode

    path = stores["dir"] / "one.h5"
    if not path.exists():
        tmp = stores["dir"] / "one.tmp.h5"
        shutil.copyfile(stores["a"], tmp)
        I.copy_objects(stores["demo"], tmp, slice(N_A, None))
        cfg = tiny_config()
        run_quiet(interpolate(tmp, cfg.interp))
        run_quiet(encode(tmp, cfg.vae))
        tmp.rename(path)
    return path


def stage_forest(path: Path, space: str, cfg: C.ScoreConfig):
    """The forest exactly as the score stage fits it (float64 features of the store)."""
    from engine.anomaly.features import load_features
    from engine.anomaly.forest import FastIsolationForest

    feats = load_features(path, cfg.last_angle)
    x = feats.space(space)[feats.valid_for(space)]
    return FastIsolationForest(cfg.n_estimators, cfg.max_samples, cfg.seed).fit(x)


@pytest.mark.parametrize("space", ["cartesian", "spherical"])
def test_new_rows_score_as_in_one_go_and_old_rows_are_untouched(stores, space):
    from engine.anomaly.features import load_features

    inc, a, one = stores["inc"], stores["a"], one_go(stores)
    cfg = tiny_config().score
    # the old rows: interpolation, latent means and raw scores bit for bit as they were
    for name in ("interp/mean", "interp/status", "interp/split", "vae/mu"):
        np.testing.assert_array_equal(read(inc, name)[:N_A], read(a, name))
    np.testing.assert_array_equal(read(inc, f"scores/{space}/raw")[:N_A],
                                  read(a, f"scores/{space}/raw"))
    # the new rows were interpolated and encoded as the stages do it in one go
    np.testing.assert_allclose(read(inc, "interp/mean")[N_A:], read(one, "interp/mean")[N_A:],
                               rtol=0, atol=1e-6, equal_nan=True)
    np.testing.assert_array_equal(read(inc, "interp/status")[N_A:],
                                  read(one, "interp/status")[N_A:])
    np.testing.assert_allclose(read(inc, "vae/mu")[N_A:], read(one, "vae/mu")[N_A:],
                               rtol=0, atol=1e-6, equal_nan=True)
    # the forest the stage fitted on A scores A + B in one go
    est = stage_forest(a, space, cfg)
    x = load_features(one, cfg.last_angle).space(space)
    raw_one = I._raw(est, x)
    np.testing.assert_array_equal(raw_one[:N_A], read(a, f"scores/{space}/raw"))
    raw_inc = read(inc, f"scores/{space}/raw")
    assert np.isfinite(raw_inc[N_A:]).sum() > N_B * 0.8
    np.testing.assert_allclose(raw_inc[N_A:], raw_one[N_A:], rtol=1e-12, equal_nan=True)
    # normalised score and ranks cover everyone; the stamps say who is new
    score = read(inc, f"scores/{space}/score")
    assert np.nanmax(score) == 1.0 and len(score) == N_A + N_B
    rank = read(inc, f"scores/{space}/rank")
    assert sorted(rank[rank > 0]) == list(range(1, int(np.isfinite(score).sum()) + 1))
    added = read(inc, f"scores/{space}/added")
    assert (added[:N_A] == 0).all() and (added[N_A:] == 1).all()


def test_population_spaces_are_rescored_whole_as_the_score_stage_does(stores, tmp_path):
    """The diagnostic and vetting spaces compare each object with everyone: after
    --new-only they are the score stage's own result over old and new rows (not the old
    rows' figures with new ones tacked on), stamped like the forest spaces."""
    from engine.anomaly import score

    inc, a = stores["inc"], stores["a"]
    cfg = tiny_config().score
    assert set(I.POPULATION_SPACES) <= set(cfg.spaces)   # the default spaces include them
    ref = tmp_path / "ref.h5"
    shutil.copyfile(inc, ref)
    run_quiet(score(ref, dataclasses.replace(cfg, spaces=I.POPULATION_SPACES), force=True))
    for space in I.POPULATION_SPACES:
        raw = read(inc, f"scores/{space}/raw")
        assert len(raw) == N_A + N_B and np.isfinite(raw[N_A:]).sum() > N_B * 0.8
        np.testing.assert_array_equal(raw, read(ref, f"scores/{space}/raw"))
        np.testing.assert_array_equal(read(inc, f"scores/{space}/rank"),
                                      read(ref, f"scores/{space}/rank"))
        # everyone's figures moved with the new population (not A's kept as they were)
        assert not np.array_equal(raw[:N_A], read(a, f"scores/{space}/raw"))
        added = read(inc, f"scores/{space}/added")
        assert (added[:N_A] == 0).all() and (added[N_A:] == 1).all()
        with Store(inc, "r") as st:
            attrs = st.attrs(f"scores/{space}")
        assert attrs["rescored_whole"] and attrs["fitted_rows"] == N_A
    # the score stage's record covers every space with the full settings: a plain run
    # skips score, and a resumed --new-only accepts the settings
    with Store(inc, "r") as st:
        rec = st.last_run("score")
    assert rec["via"] == "new-only"


def test_kept_and_regrown_trees_are_the_stage_trees(stores):
    """The score stage keeps its trees; grown again from the stored float32 rows and the
    seed they are the same trees, bit for bit (the fallback for older stores)."""
    cfg = tiny_config().score
    a = stores["a"]
    with Store(a, "r") as st:
        settings = st.attrs("scores/cartesian")["settings"]
        stored = {k: st.read(f"scores/cartesian/{k}") for k in st.group_keys("scores/cartesian")}
    regrown = I.regrow_forest(stored["features"], settings)
    fitted = stage_forest(a, "cartesian", cfg)
    for name in ("feat", "thr", "leaf"):
        np.testing.assert_array_equal(getattr(regrown.padded_, name),
                                      getattr(fitted.padded_, name))
        np.testing.assert_array_equal(stored[f"forest_{name}"], getattr(fitted.padded_, name))
    assert int(stored["forest_depth"]) == fitted.padded_.depth


def test_a_store_without_kept_trees_regrows_them(stores):
    path = stores["dir"] / "old.h5"
    shutil.copyfile(stores["a"], path)
    with Store(path, "a") as st:   # as a store scored before the trees were kept
        for space in ("cartesian", "spherical"):
            g = f"scores/{space}"
            arrays = {k: st.read(f"{g}/{k}") for k in st.group_keys(g)
                      if not k.startswith("forest_")}
            attrs = {k: v for k, v in st.attrs(g).items() if k not in ("written", "write_id")}
            st.write_group(g, arrays, attrs)
    I.copy_objects(stores["demo"], path, slice(N_A, None))
    run_quiet(I.run_new_only(path, tiny_config()))
    for space in ("cartesian", "spherical"):
        np.testing.assert_array_equal(read(path, f"scores/{space}/raw"),
                                      read(stores["inc"], f"scores/{space}/raw"))
    assert read(path, "scores/cartesian/forest_thr").shape[0] == tiny_config().score.n_estimators


def test_after_new_only_the_pipeline_is_up_to_date(stores):
    states = P.plan(stores["inc"], tiny_config(), "interpolate,train,encode,score")
    assert [s.stale for s in states] == [False] * 4, [s.reason for s in states]
    with Store(stores["inc"], "r") as st:
        train = st.last_run("train")
    assert train["via"] == "new-only" and train["kept_model"] is True
    again = run_quiet(I.run_new_only(stores["inc"], tiny_config()))
    assert again["new_rows"] == 0


def test_a_second_batch_gets_the_next_stamp_and_resumes_after_a_kill(stores):
    """Two more objects: a run stopped after /interp is extended finishes on rerun."""
    path = stores["dir"] / "second.h5"
    shutil.copyfile(stores["inc"], path)
    I.copy_objects(stores["demo"], path, slice(0, 2))       # the same stars, observed again
    gen = I.run_new_only(path, tiny_config())
    for p in gen:
        if p.stage == "interpolate" and "appending" in p.message:
            break
    next(gen)   # the /interp commit
    gen.close()
    assert read(path, "interp/mean").shape[0] == N_A + N_B + 2
    assert read(path, "vae/mu").shape[0] == N_A + N_B
    out = run_quiet(I.run_new_only(path, tiny_config()))
    assert out["new_rows"] == 2 and out["interpolate"] == 0 and out["increment"] == 2
    added = read(path, "scores/cartesian/added")
    assert (added[-2:] == 2).all() and (added[N_A:N_A + N_B] == 1).all()
    # the fit population stays A: the same star as row 0 gets row 0's raw score
    raw = read(path, "scores/cartesian/raw")
    np.testing.assert_allclose(raw[-2:], raw[:2], rtol=1e-12)


def refused(path: Path, cfg: C.Config, words: str) -> None:
    with pytest.raises(StageError, match=words):
        run_quiet(I.run_new_only(path, cfg))


def test_refusals_are_one_line(stores, tmp_path):
    cfg = tiny_config()
    refused(stores["demo"], cfg, "needs a scored store")
    refused(stores["inc"], dataclasses.replace(
        cfg, score=dataclasses.replace(cfg.score, n_estimators=61)), r"\[score\] settings differ")
    changed = tmp_path / "changed.h5"
    shutil.copyfile(stores["inc"], changed)
    with Store(changed, "a") as st:
        st.update_objects({"period": [1.2345]}, [3])
    I.copy_objects(stores["demo"], changed, slice(0, 1))
    refused(changed, cfg, "changed since they were interpolated")


def test_cli_new_only_dry_run(stores, tmp_path, capsys):
    from engine.cli import main

    path = tmp_path / "cli.h5"
    shutil.copyfile(stores["a"], path)
    I.copy_objects(stores["demo"], path, slice(N_A, N_A + 60 - 20))
    C.save(path, tiny_config())   # the settings the scored run used, as `run --config` keeps
    assert main(["run", str(path), "--new-only", "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["new_rows"] == 40 and plan["fitted_rows"] == N_A and "advice" in plan
