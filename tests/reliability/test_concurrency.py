"""Concurrency: labelling while ``score`` commits, and a read-only reader (what the GUI
does when it loads or reloads a store) while another process commits a stage."""
from __future__ import annotations

import numpy as np

from engine.cli import main
from engine.labels import LabelJournal
from engine.store import Store

from ..engine.test_anomaly_stage import make_store
from .helpers import engine, spawn

SCORE = ["score", "--trees", "300", "--force"]


def _scored(tmp_path):
    path = make_store(tmp_path / "s.h5", n=1500)
    assert engine(["score", "--trees", "50", "--no-convergence", path]).returncode == 0
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
