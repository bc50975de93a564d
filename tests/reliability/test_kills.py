"""SIGKILL of whole process groups during the pipeline and during labelling.

A chain of kills on one store: ``pvsvet-engine run`` is started, killed (the whole
process group, pool workers included) at a random moment or just as the store or its
work folder changes (a commit or a chunk write in progress), and started again, until
a run finishes. After every kill: the store opens, ``verify`` finds no damage, every
group present equals the reference run's (no committed group changed, no half-written
one visible). At the end the store equals the reference, ranks bit-identical.
Labelling: a labeller killed at random never loses a label whose ``add`` returned.

The normal suite kills ``interpolate`` and ``score`` a handful of times on small
stores; ``-m slow`` kills at >= 50 points over the whole pipeline.
"""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine import config as C
from engine.labels import LabelJournal
from engine.store import Store, integrity_report

from ..engine.test_pipeline_e2e import COMPARED, N_OBJECTS, small_config
from .helpers import env, kill_group, spawn

#: compared exactly between the reference and a killed-and-rerun store
EXACT = ("interp/status", "interp/split", "scores/cartesian/rank", "scores/spherical/rank")


STAGES = ("interpolate", "train", "encode", "score", "context")


def _run(path, toml, stages=None, timeout=900):
    cmd = [sys.executable, "-m", "engine", "run", str(path), "--config", str(toml),
           "--workers", "1"] + (["--stages", stages] if stages else [])
    res = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stderr
    return res


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The demo store, the settings file, the reference run one stage at a time (with
    a copy of the store before each stage and each stage's wall time)."""
    from engine.progress import run_quiet
    from engine.simulate import make_demo

    base = tmp_path_factory.mktemp("kills")
    demo = base / "demo.h5"
    run_quiet(make_demo(str(demo), N_OBJECTS, 3))
    toml = base / "small.toml"
    toml.write_text(C.dumps(small_config()))
    ref = base / "ref.h5"
    shutil.copyfile(demo, ref)
    before, walls = {}, {}
    for stage in STAGES:
        before[stage] = base / f"before_{stage}.h5"
        shutil.copyfile(ref, before[stage])
        t0 = time.monotonic()
        _run(ref, toml, stage)
        walls[stage] = time.monotonic() - t0
    return {"demo": demo, "toml": toml, "ref": ref, "before": before, "walls": walls}


def _groups_equal_reference(path: Path, ref: Path) -> list[str]:
    """The compared datasets present in ``path`` (each must equal the reference)."""
    present = []
    with Store(path) as a, Store(ref) as b:
        for name, tol in COMPARED.items():
            if not a.has(name):
                continue
            present.append(name)
            x, y = a.read(name), b.read(name)
            if tol and name not in EXACT:
                np.testing.assert_allclose(x, y, rtol=tol, atol=tol, err_msg=name)
            else:
                np.testing.assert_array_equal(x, y, err_msg=name)
    return present


def _state(path: Path) -> tuple:
    """What changes when the store or its work folder is written."""
    out = []
    for p in (path, Path(str(path) + ".work")):
        if p.exists():
            st = p.stat()
            out.append((st.st_size, st.st_mtime_ns))
            if p.is_dir():
                out += sorted((q.name, q.stat().st_mtime_ns) for q in p.rglob("*")
                              if q.exists())
    return tuple(out)


def _running_stage(path: Path) -> str:
    """The stage a kill interrupted, from the groups already committed."""
    with Store(path) as st:
        for group, stage in (("context", "done"), ("scores", "context"), ("vae/mu", "score"),
                             ("vae/model", "encode"), ("interp", "train")):
            if st.has(group):
                return stage
    return "interpolate"


def _run_until_killed(path, toml, rng, mode: str, horizon: float, stages=None) -> bool:
    """Start ``run``; kill its process group at a random time (``mode='random'``) or
    at the first change of the store after a random time (``'write'``). True when it
    was killed, False when it finished first."""
    proc = spawn(["run", path, "--config", toml, "--workers", "1"]
                 + (["--stages", stages] if stages else []))
    t_kill = time.monotonic() + rng.uniform(0.3, horizon)
    before = None
    while proc.poll() is None:
        now = time.monotonic()
        if mode == "write" and now >= t_kill:
            state = _state(path)
            if before is not None and state != before:
                break
            before = state
            time.sleep(0.005)
            continue
        if now >= t_kill:
            break
        time.sleep(0.02)
    if proc.poll() is not None:
        assert proc.returncode == 0, proc.stderr.read()
        return False
    kill_group(proc)
    return True


def _chain(setup, tmp_path, kills: int, seed: int, stage: str | None = None) -> list:
    """Kill ``run`` (or ``run --stages STAGE`` from the store as it was before that
    stage) up to ``kills`` times, checking the store after each; then run to the end."""
    ref, toml = setup["ref"], setup["toml"]
    src = setup["before"][stage] if stage else setup["demo"]
    wall = setup["walls"][stage] if stage else sum(setup["walls"].values())
    path = tmp_path / f"chain-{stage or 'run'}-{seed}.h5"
    shutil.copyfile(src, path)
    rng = random.Random(seed)
    points = []
    for i in range(kills):
        mode = "write" if i % 2 else "random"
        if not _run_until_killed(path, toml, rng, mode, max(1.0, wall), stage):
            break
        assert not [g for g, r in integrity_report(path)["groups"].items()
                    if r["state"] == "damaged"]
        _groups_equal_reference(path, ref)     # the store opens, nothing committed changed
        points.append((stage or "run", mode, _running_stage(path)))
    _run(path, toml)
    with Store(ref) as b:
        expected = [n for n in COMPARED if b.has(n)]
    assert _groups_equal_reference(path, ref) == expected
    with Store(path) as a, Store(ref) as b:
        for name in EXACT:
            np.testing.assert_array_equal(a.read(name), b.read(name), err_msg=name)
    return points


_LABELLER = """
import sys
from engine.labels import LabelJournal
with LabelJournal(sys.argv[1]) as j:
    for i in range(100000):
        j.add(f"o{i % 300}", "anomaly" if i % 3 else "interesting", note=str(i))
        print(i, flush=True)
"""


def _kill_labeller(store: Path, delay: float) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _LABELLER, str(store)],
                            stdout=subprocess.PIPE, text=True, env=env(),
                            start_new_session=True)
    time.sleep(delay)
    kill_group(proc)
    returned = [int(x) for x in proc.stdout.read().split()]
    with LabelJournal(store) as j:
        notes = {int(e.note) for e in j.entries()}
    assert set(returned) <= notes, "a label whose add() returned was lost"


def _kill_command(argv, path: Path, ref: Path, names, kills: int, horizon: float,
                  seed: int = 0) -> int:
    """Kill ``pvsvet-engine ARGV`` on ``path`` up to ``kills`` times (random, then at
    a write); after each kill the store verifies and ``names`` present equal ``ref``;
    the rerun equals ``ref`` exactly. Returns the number of kills."""
    rng, done = random.Random(seed), 0
    for i in range(kills):
        proc = spawn([*argv, path])
        t_kill, before = time.monotonic() + rng.uniform(0.3, horizon), None
        while proc.poll() is None:
            if time.monotonic() >= t_kill:
                if i % 2 == 0:
                    break
                state = _state(path)
                if before is not None and state != before:
                    break
                before = state
            time.sleep(0.005)
        if proc.poll() is not None:
            assert proc.returncode == 0, proc.stderr.read()
            continue
        kill_group(proc)
        done += 1
        assert not [g for g, r in integrity_report(path)["groups"].items()
                    if r["state"] == "damaged"]
        with Store(path) as a, Store(ref) as b:
            for name in names:
                if a.has(name):
                    np.testing.assert_array_equal(a.read(name), b.read(name), err_msg=name)
    res = subprocess.run([sys.executable, "-m", "engine", *map(str, argv), str(path)],
                         env=env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    with Store(path) as a, Store(ref) as b:
        for name in names:
            np.testing.assert_array_equal(a.read(name), b.read(name), err_msg=name)
    return done


def test_kills_during_interpolate_and_score(tmp_path):
    """The normal suite's short version, on small stores (no whole pipeline)."""
    from ..engine import gp_helpers
    from ..engine.test_anomaly_stage import make_store

    kills = 0
    interp = ["interpolate", "--workers", "1", "--chunk-size", "40"]
    path, ref = tmp_path / "gp.h5", tmp_path / "gp_ref.h5"
    gp_helpers.make_store(path, n=200)
    shutil.copyfile(path, ref)
    t0 = time.monotonic()
    assert subprocess.run([sys.executable, "-m", "engine", *interp, str(ref)], env=env(),
                          capture_output=True, timeout=600).returncode == 0
    wall = time.monotonic() - t0
    kills += _kill_command(interp, path, ref, ("interp/mean", "interp/status"), 2, wall)
    score = ["score", "--trees", "100", "--no-convergence", "--space", "both"]  # latent only
    path, ref = make_store(tmp_path / "s.h5", n=800), tmp_path / "s_ref.h5"
    shutil.copyfile(path, ref)
    t0 = time.monotonic()
    assert subprocess.run([sys.executable, "-m", "engine", *score, str(ref)], env=env(),
                          capture_output=True, timeout=600).returncode == 0
    wall = time.monotonic() - t0
    kills += _kill_command(score, path, ref, ("scores/cartesian/score",
                                              "scores/spherical/rank"), 2, wall, seed=1)
    assert kills, "the commands always finished before the kill"


def test_kills_during_labelling(tmp_path):
    from ..engine.test_anomaly_stage import make_store

    store = make_store(tmp_path / "s.h5", n=300)
    for delay in (0.8, 1.5):
        _kill_labeller(store, delay)


@pytest.mark.slow
def test_fifty_kill_points(setup, tmp_path):
    # (the whole pipeline, one stage at a time: setup runs it as the reference)
    """>= 50 kills: random and write-timed, in every stage, in ``run``, in labelling."""
    from collections import Counter

    points = []
    for stage in (*STAGES, None):
        got = []
        for seed in range(2, 12):
            got += _chain(setup, tmp_path, kills=4, seed=seed, stage=stage)
            if len(got) >= (7 if stage else 5):
                break
        points += got
    for delay in np.linspace(0.6, 2.5, 10):
        _kill_labeller(setup["demo"], float(delay))
    per_command = Counter(cmd for cmd, _, _ in points)
    per_stage = Counter(stage for _, _, stage in points)
    per_mode = Counter(mode for _, mode, _ in points)
    print(f"\nkill points: {len(points)} in the pipeline, by command {dict(per_command)}, "
          f"by stage running {dict(per_stage)}, {dict(per_mode)}; 10 in labelling; "
          "all opened, verified, unchanged, reran equal")
    assert len(points) + 10 >= 50
    assert set(per_stage) >= set(STAGES)
