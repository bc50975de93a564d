"""The work cache beside the store (resume) and the one-stage-run-per-store lock."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from engine.config import InterpConfig
from engine.errors import StageError
from engine.executors import SerialExecutor
from engine.gp import interpolate
from engine.progress import run_quiet
from engine.store import Store
from engine.workcache import ChunkCache, lock_path, stage_lock

from .gp_helpers import make_store


def test_left_over_temporary_and_stray_files_do_not_break_resume(tmp_path, caplog):
    """Defect 3: a kill during a chunk write left ``chunk_N.tmp.npz``, which
    ``done_starts`` took for a chunk and ``int('...tmp')`` broke every later run."""
    cache = ChunkCache(tmp_path / "s.h5", "interpolate", "k")
    cache.save(0, a=np.arange(3))
    cache.save(16, a=np.arange(3))
    (cache.dir / "chunk_0000000032.tmp.npz").write_bytes(b"half a chunk")   # old temp name
    (cache.dir / "partial_0000000048.123.npz").write_bytes(b"half")          # new temp name
    (cache.dir / "chunk_x.npz").write_bytes(b"")
    (cache.dir / "notes.txt").write_text("a user's file")
    assert cache.done_starts() == {0, 16}
    assert "stray file" in caplog.text
    assert [s for s, _ in cache.iter_chunks()] == [0, 16]


def test_save_leaves_only_the_finished_chunk(tmp_path):
    cache = ChunkCache(tmp_path / "s.h5", "interpolate", "k")
    cache.save(5, a=np.arange(4.0))
    assert sorted(p.name for p in cache.dir.iterdir()) == ["chunk_0000000005.npz"]
    np.testing.assert_array_equal(cache.load(5)["a"], np.arange(4.0))


def test_damaged_chunk_is_removed_with_a_message(tmp_path):
    cache = ChunkCache(tmp_path / "s.h5", "interpolate", "k")
    cache.save(0, a=np.arange(4.0))
    path = cache.dir / "chunk_0000000000.npz"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(StageError, match="chunk_0000000000.npz: damaged work file"):
        cache.load(0)
    assert cache.done_starts() == set()


def test_interpolate_resumes_over_a_killed_chunk_write(tmp_path):
    path = tmp_path / "s.h5"
    make_store(path, n=20)
    cfg = InterpConfig(chunk_size=8, workers=1)
    ref = tmp_path / "ref.h5"
    make_store(ref, n=20)
    run_quiet(interpolate(ref, cfg, SerialExecutor()))
    from engine.gp.stage import cache_for
    cache = cache_for(path, cfg)
    cache.dir.mkdir(parents=True)
    (cache.dir / "chunk_0000000008.tmp.npz").write_bytes(b"PK\x03\x04 cut")
    run_quiet(interpolate(path, cfg, SerialExecutor()))
    with Store(path) as a, Store(ref) as b:
        np.testing.assert_array_equal(a.read("interp/mean"), b.read("interp/mean"))
    assert not cache.dir.exists()


_HOLDER = """
import sys, time
from engine.workcache import stage_lock
with stage_lock(sys.argv[1], "interpolate"):
    print("held", flush=True)
    time.sleep(60)
"""


def _hold(store) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(store)], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": os.getcwd()},
                            start_new_session=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_stage_run_is_refused_and_a_killed_holder_frees_the_store(tmp_path):
    """Defect 7 (first half): two interpolations on one store shared and cleared one
    work folder; the second now refuses at once, naming the holder."""
    path = tmp_path / "s.h5"
    make_store(path, n=8)
    before = path.read_bytes()
    proc = _hold(path)
    try:
        with pytest.raises(StageError, match=rf"pid {proc.pid} \(interpolate\) is running"):
            run_quiet(interpolate(path, InterpConfig(chunk_size=8, workers=1), SerialExecutor()))
        assert path.read_bytes() == before
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    run_quiet(interpolate(path, InterpConfig(chunk_size=8, workers=1), SerialExecutor()))
    with Store(path) as st:
        assert st.has("interp")


def test_cli_refuses_a_second_writer_in_one_line(tmp_path, capsys):
    from engine.cli import main

    path = tmp_path / "s.h5"
    make_store(path, n=8)
    proc = _hold(path)
    try:
        assert main(["interpolate", str(path), "--workers", "1"]) == 1
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is running on this store" in err[0] and "Traceback" not in err[0]


def test_lock_is_reentrant_in_one_process(tmp_path):
    store = tmp_path / "s.h5"
    with stage_lock(store, "run"):
        with stage_lock(store, "interpolate"):
            pass
        assert "pid" in lock_path(store).read_text()
