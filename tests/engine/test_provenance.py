"""One provenance authority: a stage run on its own is fresh for ``run``, and the other way
round; science settings make a stage and its downstream stages stale, speed settings never.

The real stages on a small demo catalogue, through the command line as a user runs them:
one ``pvsvet-engine run`` and one chain of standalone stage commands, with the same
settings file.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import shutil
from pathlib import Path

import pytest

from engine import config as C
from engine import pipeline as P
from engine import provenance as prov
from engine.cli import main
from engine.progress import run_quiet
from engine.store import Store

pytest.importorskip("engine.simulate")

N_OBJECTS = 100
#: the standalone command of each stage, in graph order (foldstats has no settings)
STANDALONE = {"interpolate": True, "train": True, "encode": True, "foldstats": False,
              "score": True, "context": True}
#: tiny settings of every stage; the vetting space reads /foldstats, so every stage runs
SETTINGS = """
[interp]
chunk_size = 50
workers = 1
[vae]
epochs = 1
minutes = 0.0
batch_size = 64
patience = 5
[score]
n_estimators = 30
convergence_check = false
top_k = 20
top_overlap = 20
n_jobs = 1
spaces = ["cartesian", "spherical", "vetting"]
[context]
offline = true
top_n = 2
n_normal = 1
[pipeline]
workers = 1
"""


def _cli(*argv: str) -> str:
    """Run ``pvsvet-engine ARGV``; its standard output (it must succeed)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(argv)) == 0, argv
    return out.getvalue()


def _dry_run(path: Path, toml: Path) -> dict[str, tuple[bool, str]]:
    """What ``pvsvet-engine run --dry-run`` says of each stage: (stale, reason)."""
    rows = json.loads(_cli("run", str(path), "--dry-run", "--json", "--config", str(toml)))
    return {r["stage"]: (r["stale"], r["reason"]) for r in rows["stages"]}


def _standalone(stage: str, path: Path, toml: Path, *extra: str) -> dict:
    config = ("--config", str(toml)) if STANDALONE[stage] else ()
    return json.loads(_cli(stage, str(path), *config, "--json", *extra))


def _ok_records(path: Path) -> list[str]:
    with Store(path, "r") as st:
        return [r["stage"] for r in st.runs() if r["status"] == "ok" and r["stage"] != "demo"]


@pytest.fixture(scope="module")
def toml(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "tiny.toml"
    path.write_text(SETTINGS)
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    from engine.simulate import make_demo

    path = tmp_path_factory.mktemp("demo") / "demo.h5"
    run_quiet(make_demo(str(path), N_OBJECTS, 5))
    return path


@pytest.fixture(scope="module")
def piped(demo, toml, tmp_path_factory) -> Path:
    """The demo after one ``pvsvet-engine run`` of every stage."""
    path = tmp_path_factory.mktemp("piped") / "s.h5"
    shutil.copyfile(demo, path)
    _cli("run", str(path), "--config", str(toml), "-q")
    return path


@pytest.fixture(scope="module")
def chain(demo, toml, tmp_path_factory) -> dict[str, dict[str, tuple[bool, str]]]:
    """The demo through the standalone commands, stage by stage: what ``run --dry-run``
    says after each one."""
    path = tmp_path_factory.mktemp("chain") / "s.h5"
    shutil.copyfile(demo, path)
    after = {}
    for stage in STANDALONE:
        _standalone(stage, path, toml)
        after[stage] = _dry_run(path, toml)
    return after


@pytest.fixture
def run_copy(piped, tmp_path) -> Path:
    path = tmp_path / "copy.h5"
    shutil.copyfile(piped, path)
    return path


@pytest.mark.parametrize("stage", list(STANDALONE))
def test_a_standalone_stage_is_up_to_date_for_run(chain, stage):
    """Before: ``score`` recorded its own hash, and ``run`` said "settings changed"."""
    said = chain[stage]
    done = list(STANDALONE)[:list(STANDALONE).index(stage) + 1]
    assert {s: said[s] for s in done} == {s: (False, "up to date") for s in done}
    assert all(said[s] == (True, "never run") for s in STANDALONE if s not in done)


@pytest.mark.parametrize("stage", list(STANDALONE))
def test_after_run_a_standalone_stage_with_the_same_settings_skips(run_copy, toml, stage):
    """Before: a standalone ``score`` after ``run`` always recomputed."""
    before = _ok_records(run_copy)
    assert sorted(before) == sorted(STANDALONE)      # one record per stage, none twice
    result = _standalone(stage, run_copy, toml)
    assert "up to date" in result["skipped"]
    assert _ok_records(run_copy) == before           # nothing recomputed, nothing recorded
    assert not any(stale for stale, _ in _dry_run(run_copy, toml).values())


def test_force_reruns_the_stage_and_makes_only_its_downstream_stale(run_copy, toml):
    _standalone("foldstats", run_copy, toml, "--force")
    assert _ok_records(run_copy)[-1] == "foldstats"
    stale = {s for s, (is_stale, _) in _dry_run(run_copy, toml).items() if is_stale}
    assert stale == {"score", "context"}


def test_a_corrected_catalogue_class_makes_only_the_scores_stale(run_copy, toml):
    """The vetting space's period question reads each star's catalogue class: correcting
    classes must rescore, and must not refit the GP or retrain."""
    import h5py

    with h5py.File(run_copy, "a") as f:
        cls = f["objects/class"]
        cls[0] = b"RR" if cls[0] != b"RR" else b"EW"
    states = _dry_run(run_copy, toml)
    stale = {s for s, (is_stale, _) in states.items() if is_stale}
    assert stale == {"score", "context"}
    assert states["score"][1] == "input changed: /objects/class changed"
    _standalone("score", run_copy, toml)
    assert not _dry_run(run_copy, toml)["score"][0]


def test_a_store_scored_by_an_earlier_method_revision_is_stale(run_copy, toml, monkeypatch):
    """A store scored by an older pvsvet (another score revision) is rescored by ``run``
    rather than showing its old answers as current."""
    spec = prov.GRAPH["score"]
    assert spec.revision and not _dry_run(run_copy, toml)["score"][0]
    monkeypatch.setitem(prov.GRAPH, "score", dataclasses.replace(spec, revision="999"))
    stale, reason = _dry_run(run_copy, toml)["score"]
    assert stale and reason.startswith(f"method revised ({spec.revision} -> 999)")
    assert not _dry_run(run_copy, toml)["interpolate"][0]


@pytest.fixture(scope="module")
def settings(toml) -> C.Config:
    return C.load(toml)


def _with(cfg: C.Config, section: str, **values) -> C.Config:
    return dataclasses.replace(cfg, **{section: dataclasses.replace(getattr(cfg, section),
                                                                    **values)})


@pytest.mark.parametrize("section, values, stale", [
    ("interp", {"n_phase": 96}, ["interpolate", "train", "encode", "foldstats", "score",
                                  "context"]),
    ("interp", {"seed": 7}, ["interpolate", "train", "encode", "foldstats", "score",
                             "context"]),
    ("vae", {"kl_weight": 0.1}, ["train", "encode", "score", "context"]),
    ("vae", {"n_decode": 3}, ["encode", "score", "context"]),
    ("score", {"n_estimators": 31}, ["score", "context"]),
    ("score", {"last_angle": "blumenson"}, ["score", "context"]),
    ("context", {"top_n": 4}, ["context"]),
])
def test_a_science_setting_makes_its_stage_and_the_downstream_ones_stale(
        piped, settings, section, values, stale):
    states = P.plan(piped, _with(settings, section, **values))
    assert [s.name for s in states if s.stale] == stale
    first = next(s for s in states if s.stale)
    assert first.reason == "settings changed"


def test_speed_settings_never_make_a_stage_stale(piped, settings, run_copy, toml, tmp_path):
    cfg = settings
    for section, values in (("interp", {"workers": 2, "chunk_size": 7, "batch_size": 3}),
                            ("vae", {"encode_batch": 17}),
                            ("score", {"n_jobs": 2, "block": 64}),
                            ("context", {"timeout_s": 1.0, "retries": 0, "rate_per_s": 9.0,
                                         "backoff_s": 0.1, "max_consecutive_failures": 1}),
                            ("pipeline", {"workers": 2, "dask_local": 2})):
        cfg = _with(cfg, section, **values)
    assert [s.name for s in P.plan(piped, cfg) if s.stale] == []
    fast = tmp_path / "fast.toml"
    fast.write_text(SETTINGS.replace("n_jobs = 1", "n_jobs = 2\nblock = 64"))
    assert "skipped" in _standalone("score", run_copy, fast)


def test_a_stage_no_setting_reads_is_not_run(piped, settings):
    cfg = _with(settings, "score", spaces=("cartesian", "spherical"), demote_nonvariable=False)
    states = {s.name: s for s in P.plan(piped, cfg, force=True)}
    assert not states["foldstats"].stale
    assert states["foldstats"].reason == "not read by any stage with these settings"


def test_settings_hashes_only_the_science():
    plain = prov.settings_hash("interpolate", C.InterpConfig())
    assert plain == prov.settings_hash("interpolate", C.InterpConfig(workers=9, chunk_size=7))
    assert plain != prov.settings_hash("interpolate", C.InterpConfig(n_phase=100))


def test_score_alone_makes_the_fold_statistics_it_reads(run_copy, settings):
    """The GUI's Run > Score runs the score stage alone: a store without /foldstats
    (deleted here) is scored, the statistics made on the way and recorded."""
    with Store(run_copy, "a") as st:
        st.delete_group("foldstats")
    result = run_quiet(P.run_pipeline(run_copy, settings, stages=["score"], force=True))
    assert result["ran"] == ["score"]
    assert _ok_records(run_copy)[-2:] == ["foldstats", "score"]
    assert [s.name for s in P.plan(run_copy, settings) if s.stale] == ["context"]
