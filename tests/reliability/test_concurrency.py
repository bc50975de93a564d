"""Concurrency: labelling while ``score`` commits, and a read-only reader (what the GUI
does when it loads or reloads a store) while another process commits a stage."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.ingest.fetch_queue import FetchQueue
from engine.labels import LabelJournal
from engine.store import Store

from ..engine.test_anomaly_stage import make_store
from ..engine.test_workcache import _hold
from .helpers import engine, kill_group, spawn

SCORE = ["score", "--trees", "300", "--force", "--space", "both"]   # latent means only


def _scored(tmp_path):
    path = make_store(tmp_path / "s.h5", n=1500)
    assert engine(["score", "--trees", "50", "--no-convergence", "--space", "both",
                   path]).returncode == 0
    return path


def test_label_while_score_commits(tmp_path, capsys):
    path = _scored(tmp_path)
    proc = spawn([*SCORE, path])
    codes = []
    while proc.poll() is None and len(codes) < 400:
        codes.append(main(["label", str(path), f"o{len(codes) % 1500}", "anomaly",
                           "--note", str(len(codes))]))
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    assert codes and set(codes) == {0}
    with LabelJournal(path) as j:
        assert len(j.entries()) == len(codes)


def test_reader_never_sees_a_half_written_stage(tmp_path):
    path = _scored(tmp_path)
    with Store(path) as st:
        old = st.read("scores/cartesian/score")
        old_id = st.attrs("scores/cartesian")["write_id"]
    proc = spawn([*SCORE, path])
    seen = set()
    while proc.poll() is None:
        with Store(path, "r", wait=30) as st:
            names = st.group_keys("scores")
            assert not [n for n in names if n.startswith(("_tmp_", "_old_"))]
            wid = st.attrs("scores/cartesian")["write_id"]
            score = st.read("scores/cartesian/score")
            rank = st.read("scores/cartesian/rank")
        assert len(score) == len(rank) == 1500
        if wid == old_id:
            np.testing.assert_array_equal(score, old)
        seen.add(wid)
    assert proc.returncode == 0, proc.stderr.read()
    with Store(path) as st:
        assert st.attrs("scores/cartesian")["write_id"] != old_id
    assert old_id in seen


# -- one writer at a time: every command that writes the store --------------------------
TABLE2 = Path(__file__).resolve().parents[1] / "data" / "ingest" / "chen_table2_mini.txt"

#: every command that writes the store (or its work folder, queue or caches); the label
#: journal is SQLite with its own locking and is written while stages run (above)
WRITERS = {
    "demo --overwrite": lambda s, t: ["demo", s, "--overwrite", "--objects", "5"],
    "ingest": lambda s, t: ["ingest", s, "--lightcurves", str(t / "none.csv"), "--quiet"],
    "fetch catalog": lambda s, t: ["fetch", "catalog", s, "--table", str(TABLE2)],
    "fetch lightcurves": lambda s, t: ["fetch", "lightcurves", s, "--url",
                                       "http://127.0.0.1:9/x", "--quiet"],
    "fetch --hats": lambda s, t: ["fetch", "lightcurves", s, "--hats", str(t / "hats"),
                                  "--quiet"],
    "interpolate": lambda s, t: ["interpolate", s, "--workers", "1"],
    "train": lambda s, t: ["train", s],
    "encode": lambda s, t: ["encode", s],
    "score": lambda s, t: ["score", s, "--trees", "20", "--no-convergence", "--space", "both"],
    "context": lambda s, t: ["context", s, "--offline"],
    "run": lambda s, t: ["run", s, "--quiet"],
}


def _files(path: Path) -> dict[str, bytes]:
    """The store and everything beside it that a writer keeps (queue, journal, work folder)."""
    return {p.name: p.read_bytes() for p in sorted(path.parent.rglob("*"))
            if p.is_file() and not p.name.endswith(".lock")}


@pytest.mark.parametrize("command", list(WRITERS))
def test_second_writer_is_refused_in_one_line_and_changes_nothing(command, tmp_path, capsys):
    """While one command holds a store (the holder here: a process with the stage
    lock), every other writing command refuses at once in one line naming the holder,
    and no byte of the store, its fetch queue or its journal changes."""
    path = make_store(tmp_path / "s.h5", n=50)
    with FetchQueue(path) as q:       # something queued, so fetch gets as far as the lock
        q.add([{"id": "q1", "name": "", "ra": 1.0, "dec": 2.0, "period": 0.5, "class": "RR"}])
    before = _files(path)
    proc = _hold(path)
    try:
        code = main(WRITERS[command](str(path), tmp_path))
    finally:
        kill_group(proc)
    err = [ln for ln in capsys.readouterr().err.splitlines()
           if ln.startswith("pvsvet-engine")]
    assert code == 1 and len(err) == 1, err
    assert f"pid {proc.pid} (interpolate) is running on this store" in err[0]
    assert _files(path) == before
