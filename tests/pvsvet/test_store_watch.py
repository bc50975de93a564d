"""The GUI open while a separate ``pvsvet-engine`` process commits a stage: the open
store is watched (a stat per second, a commit stamp read only when the file changed),
every load is one consistent version, and the window reloads when the commit is done."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from engine.store import Store
from pvsvet.state import AppState

from ..reliability.helpers import env, kill_group, spawn
from .conftest import make_store

SCORE = ["score", "--trees", "40", "--no-convergence", "--force", "--space", "cartesian"]

_WRITER = """
import sys, time
from engine.store import Store
with Store(sys.argv[1], "a") as st:
    print("open", flush=True)
    time.sleep(60)
"""


def _engine(*args) -> None:
    res = subprocess.run([sys.executable, "-m", "engine", *map(str, args)], env=env(),
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr


def test_changed_on_disk_sees_commits_not_reads_and_not_a_write_in_progress(tmp_path):
    path = make_store(tmp_path / "s.h5", n=60, context=False)
    state = AppState()
    state.open(path)
    assert not state.changed_on_disk()
    _engine("info", path)                         # a reader changes nothing
    assert not state.changed_on_disk()
    holder = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], env=env(),
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with Store(path, "r", wait=0) as _:
            pass
    except Exception as exc:                     # HDF5's lock: the writer holds the file
        assert "busy" in str(exc)
        assert not state.changed_on_disk()       # mid-write: nothing to show yet
    finally:
        kill_group(holder)
    _engine(*SCORE, path)                        # another process commits /scores
    assert state.changed_on_disk()
    old = state.catalog.score("cartesian").copy()
    state.reload()
    assert not state.changed_on_disk()
    with Store(path) as st:
        np.testing.assert_array_equal(state.catalog.score("cartesian"),
                                      st.read("scores/cartesian/score")[:60].astype("f4"))
    assert not np.array_equal(old, state.catalog.score("cartesian"), equal_nan=True)


def test_window_reloads_when_another_process_commits(qtbot, window):
    state = window.state
    path = state.path
    window._watch.setInterval(200)
    state.selection.set_current(7)
    old = state.catalog.score("cartesian").copy()
    loads: list[np.ndarray] = []
    state.loaded.connect(lambda s: loads.append(s.catalog.score("cartesian").copy()))
    proc = spawn([*SCORE, path])
    try:
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=240_000)
    finally:
        if proc.poll() is None:
            kill_group(proc)
    assert proc.returncode == 0, proc.stderr.read()
    with Store(path) as st:
        new = st.read("scores/cartesian/score")[:len(old)].astype(old.dtype)
    qtbot.waitUntil(lambda: loads and np.array_equal(loads[-1], new, equal_nan=True),
                    timeout=20_000)
    # every load the window made was the old or the new version, never a mix
    for scores in loads:
        assert (np.array_equal(scores, old, equal_nan=True)
                or np.array_equal(scores, new, equal_nan=True))
    assert state.selection.current == 7                 # the reload kept the selection
    assert "reloaded" in window.statusBar().currentMessage()
    assert not window.reload_if_changed()               # once, not on every tick


def test_run_menu_while_another_process_holds_the_store(qtbot, window):
    """Run ▸ Score while a separate process runs a stage on the store: refused at once
    with the holder named in the error box; the store and the window unchanged."""
    from PySide6.QtWidgets import QMessageBox

    from ..engine.test_workcache import _hold

    path = window.state.path
    before = path.read_bytes()
    holder = _hold(path)
    try:
        window.menus.run_actions["score"].trigger()
        qtbot.waitUntil(lambda: not window.menus.runner.busy, timeout=60_000)
    finally:
        kill_group(holder)
    boxes = [w for w in window.findChildren(QMessageBox) if w.isVisible()]
    assert boxes and f"pid {holder.pid} (interpolate) is running on this store" in boxes[0].text()
    boxes[0].close()
    assert path.read_bytes() == before and len(window.state.catalog) == 300
