"""The stage graph's bookkeeping (staleness, resume, failures, CLI) on small stand-in stages.

The stand-ins follow the stage contract (generators, chunk cache, executor, atomic
group commit) but compute trivial things, so these tests isolate the pipeline's own
logic in a second; the real stages run through the pipeline in test_pipeline_e2e.py.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine import config as C
from engine import pipeline as P
from engine import provenance as prov
from engine.cli import main
from engine.errors import StageError
from engine.executors import SerialExecutor
from engine.progress import Progress, run_quiet
from engine.store import LightCurve, Store
from engine.workcache import ChunkCache, chunk_starts

N = 40
CHUNK = 10


def chunk_means(mags: np.ndarray) -> np.ndarray:
    return mags.mean(axis=1)


def toy_interpolate(store_path, cfg, executor=None):
    key = prov.settings_hash("interpolate", cfg)
    cache = ChunkCache(store_path, "interpolate", key)
    with Store(store_path, "r") as store:
        n = store.n_objects
        todo = [s for s in chunk_starts(n, CHUNK) if not cache.has(s)]
        args = [(s, np.stack([lc.mag[:8] for lc in store.lightcurves(s, s + CHUNK)]))
                for s in todo]
    executor = executor or SerialExecutor()
    for i, (start, res) in enumerate(executor.imap_unordered(chunk_means, args)):
        cache.save(start, mean=res)
        yield Progress("interpolate", i + 1, len(todo), unit="chunk")
    mean = np.concatenate([c["mean"] for _, c in cache.iter_chunks()])
    with Store(store_path, "a") as store:
        store.write_group("interp", {"mean": mean * cfg.n_phase})
    cache.clear()
    return {"chunks_computed": len(todo)}


def _simple(stage, group, dataset, fn, keep=()):
    def run(store_path, cfg, executor=None):
        yield Progress(stage, 0, 1)
        with Store(store_path, "r") as store:
            value = fn(store)
            kept = {k: store.read(f"{group}/{k}") for k in keep if store.has(f"{group}/{k}")}
        yield Progress(stage, 1, 1)
        with Store(store_path, "a") as store:
            store.write_group(group, {dataset: value, **kept})
        return {}
    return run


toy_train = _simple("train", "vae", "model", lambda s: s.read("interp/mean")[:3])
toy_encode = _simple("encode", "vae", "mu",   # like the real encode, keeps the model
                     lambda s: s.read("interp/mean") + s.read("vae/model").sum(), keep=("model",))


FORCED: list[bool] = []


def toy_score(store_path, cfg, use_labels=False, force=False):
    FORCED.append(force)
    yield Progress("score", 0, 1)
    with Store(store_path, "r") as store:
        mu = store.read("vae/mu")
    with Store(store_path, "a") as store:
        for space in cfg.spaces:
            store.write_group(f"scores/{space}", {"score": mu / mu.max() * cfg.n_estimators})
    return {}


toy_foldstats = _simple("foldstats", "foldstats", "frac", lambda s: s.read("interp/mean") * 0)
toy_context = _simple("context", "context", "top", lambda s: np.argsort(s.read("scores/cartesian/score"))[:5])


def toy_failing_train(store_path, cfg):
    yield Progress("train", 0, 1)
    raise ValueError("loss is NaN")


@pytest.fixture
def toy_graph(monkeypatch):
    for name in P.RUNNABLE:
        spec = P.GRAPH[name]
        monkeypatch.setitem(P.GRAPH, name, dataclasses.replace(
            spec, runner=f"{__name__}:toy_{name}"))


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "toy.h5"
    rng = np.random.default_rng(0)
    lcs = [LightCurve(np.arange(12.0), rng.normal(15, 1, 12).astype("f4"),
                      np.full(12, 0.1, "f4"), np.tile([0, 1], 6).astype("u1")) for _ in range(N)]
    with Store.create(path) as store:
        store.append_objects({"id": [f"obj{i}" for i in range(N)], "period": np.ones(N)}, lcs)
    return path


def _run(path, cfg=None, **kw):
    return run_quiet(P.run_pipeline(path, cfg or C.Config(), executor=SerialExecutor(), **kw))


def test_second_run_skips_everything(toy_graph, store_path):
    first = _run(store_path)
    assert first["ran"] == list(P.RUNNABLE)
    second = _run(store_path)
    assert second["ran"] == [] and second["skipped"] == list(P.RUNNABLE)
    with Store(store_path, "r") as s:
        assert [r["stage"] for r in s.runs()] == list(P.RUNNABLE)   # one record per run


@pytest.mark.parametrize("change, expect", [
    ({"score": C.ScoreConfig(n_estimators=7)}, ["score", "context"]),
    ({"interp": C.InterpConfig(n_phase=128)}, list(P.RUNNABLE)),
    ({"vae": C.VAEConfig(epochs=3)}, ["train", "encode", "score", "context"]),
    ({"vae": C.VAEConfig(n_decode=3)}, ["encode", "score", "context"]),
    ({"interp": C.InterpConfig(workers=1, chunk_size=5), "score": C.ScoreConfig(n_jobs=1)}, []),
])
def test_changed_setting_reruns_that_stage_and_downstream(toy_graph, store_path, change, expect):
    _run(store_path)
    assert _run(store_path, C.Config(**change))["ran"] == expect


def test_plan_explains(toy_graph, store_path):
    assert {s.reason for s in P.plan(store_path)} == {"never run"}
    _run(store_path)
    cfg = C.Config(vae=C.VAEConfig(n_decode=2))
    states = {s.name: s for s in P.plan(store_path, cfg)}
    assert not states["interpolate"].stale and not states["train"].stale
    assert states["encode"].reason == "settings changed"
    assert states["score"].reason == "input will change: encode reruns"
    with Store(store_path, "a") as s:
        s.delete_group("context")
    assert P.plan(store_path, stages="context")[0].reason == "output /context missing"


def test_input_change_is_named(toy_graph, store_path):
    _run(store_path)
    _run(store_path, stages=["encode"], force=True)
    with Store(store_path, "r") as s:
        state = P.check_stage(s, "score", C.Config())
    assert state.stale and state.reason == "input changed: encode reran"


def test_force_is_passed_to_stages_that_take_it(toy_graph, store_path):
    _run(store_path)
    FORCED.clear()
    _run(store_path, stages=["score"], force=True)
    assert FORCED == [True]   # a stage with its own up-to-date check is told to obey --force


def test_new_objects_make_interpolation_stale(toy_graph, store_path):
    _run(store_path)
    with Store(store_path, "a") as s:
        lc = LightCurve(np.arange(12.0), np.ones(12, "f4"), np.ones(12, "f4"), np.zeros(12, "u1"))
        s.append_objects({"id": ["new"], "period": [2.0]}, [lc])
    with Store(store_path, "r") as s:
        assert P.check_stage(s, "interpolate", C.Config()).reason == "input changed: ingest reran"


@pytest.mark.parametrize("k", [1, 3, 6, 9, 12])
def test_cancel_then_rerun_resumes_and_matches(toy_graph, store_path, tmp_path, k):
    ref_path = tmp_path / "ref.h5"
    ref_path.write_bytes(store_path.read_bytes())
    _run(ref_path)
    gen = P.run_pipeline(store_path, C.Config(), executor=SerialExecutor())
    seen = [next(gen) for _ in range(k)]
    gen.close()
    done_chunks = len(ChunkCache(store_path, "interpolate",
                                 prov.settings_hash("interpolate", C.InterpConfig())).done_starts())
    result = _run(store_path)
    if "interpolate" in result["ran"]:
        assert result["results"]["interpolate"]["chunks_computed"] == N // CHUNK - done_chunks
    with Store(store_path, "r") as s, Store(ref_path, "r") as r:
        for ds in ("interp/mean", "vae/mu", "scores/spherical/score", "context/top"):
            np.testing.assert_array_equal(s.read(ds), r.read(ds))
        statuses = [(x["stage"], x["status"]) for x in s.runs()]
    assert any(p.stage == "pipeline" for p in seen)
    assert sum(st == "ok" for _, st in statuses) == len(P.RUNNABLE)
    assert not (store_path.parent / (store_path.name + ".work")).exists()


def test_failure_is_recorded_and_keeps_finished_stages(toy_graph, store_path, monkeypatch):
    monkeypatch.setitem(P.GRAPH, "train", dataclasses.replace(
        P.GRAPH["train"], runner=f"{__name__}:toy_failing_train"))
    with pytest.raises(StageError, match="stage train failed: ValueError: loss is NaN"):
        _run(store_path)
    with Store(store_path, "r") as s:
        assert s.has("interp/mean") and not s.has("vae/model")
        assert [(r["stage"], r["status"]) for r in s.runs()] == [("interpolate", "ok"),
                                                                ("train", "failed")]


def test_missing_input_is_a_clear_error(toy_graph, store_path):
    with pytest.raises(StageError, match="encode needs the output of interpolate"):
        _run(store_path, stages="encode")
    with pytest.raises(StageError, match="unknown stage 'fold'"):
        _run(store_path, stages="interpolate,fold")


def test_stage_that_records_itself_is_not_recorded_twice(toy_graph, store_path, monkeypatch):
    def self_recording(store_path, cfg, executor=None):
        result = yield from toy_interpolate(store_path, cfg, executor)
        with Store(store_path, "a") as s:
            prov.record(s, "interpolate", cfg)
        return result

    monkeypatch.setattr(__import__(__name__, fromlist=["x"]), "toy_interpolate_rec",
                        self_recording, raising=False)
    monkeypatch.setitem(P.GRAPH, "interpolate", dataclasses.replace(
        P.GRAPH["interpolate"], runner=f"{__name__}:toy_interpolate_rec"))
    _run(store_path, stages="interpolate")
    with Store(store_path, "r") as s:
        assert len(s.runs("interpolate")) == 1
    assert _run(store_path, stages="interpolate")["ran"] == []


def test_cli_dry_run_and_saved_settings(toy_graph, store_path, tmp_path, capsys):
    toml = tmp_path / "c.toml"
    toml.write_text("[score]\nn_estimators = 11\n[pipeline]\nworkers = 1\n")
    assert main(["run", str(store_path), "--config", str(toml), "-q", "--workers", "1"]) == 0
    capsys.readouterr()
    assert main(["run", str(store_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "score        fresh: up to date" in out   # the saved settings were reused
    assert main(["run", str(store_path), "--stages", "nope"]) == 1
    assert "unknown stage 'nope'" in capsys.readouterr().err
