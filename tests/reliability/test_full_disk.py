"""Defect 2: a full disk during a group commit refuses the commit and keeps the store.

Two ways to run out of space: a real, small file system (tmpfs; needs root, skipped
otherwise) and the process's file-size limit (RLIMIT_FSIZE; runs anywhere)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from engine.store import Store

from ..engine.test_anomaly_stage import make_store
from .helpers import engine, one_line_error, small_filesystem

SCORE = ["score", "--trees", "50", "--no-convergence", "--space", "both",  # latent only
         "--force"]   # last: SCORE[:-1] is the first, unforced run


def _scores(path):
    with Store(path) as st:
        return {k: st.read(f"scores/cartesian/{k}") for k in st.group_keys("scores/cartesian")}


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def _fill(folder, leave_kb):
    """Fill the file system of ``folder`` up to ``leave_kb`` KiB free."""
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    filler = folder / "filler"
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(0, free - leave_kb * 1024))
    return filler


@pytest.mark.parametrize("leave_kb", [8, 30])
def test_score_on_a_full_file_system(tmp_path, leave_kb):
    with small_filesystem(8 * 1024, tmp_path) as fs:
        path = make_store(fs / "s.h5", n=600)
        assert engine([*SCORE[:-1], path]).returncode == 0
        before = _scores(path)
        filler = _fill(fs, leave_kb)
        line = one_line_error(engine([*SCORE, path]))
        assert str(path) in line and "not enough disk space" in line
        assert engine(["info", path]).returncode == 0
        _same(_scores(path), before)
        filler.unlink()
        assert engine([*SCORE, path]).returncode == 0
        assert engine(["verify", path]).returncode == 0


def test_score_under_a_file_size_limit(tmp_path):
    path = make_store(tmp_path / "s.h5", n=600)
    assert engine([*SCORE[:-1], path]).returncode == 0
    before = _scores(path)
    res = engine([*SCORE, path], fsize=path.stat().st_size + 20 * 1024)
    line = one_line_error(res)
    assert "not enough disk space" in line
    _same(_scores(path), before)
    assert engine(["info", path]).returncode == 0


def test_space_check_runs_before_anything_is_written(tmp_path, monkeypatch):
    path = make_store(tmp_path / "s.h5", n=50)
    size = path.stat().st_size
    with Store(path, "a") as st:
        monkeypatch.setattr(Store, "free_bytes", lambda self: 100_000)
        with pytest.raises(Exception, match="not enough disk space to write /x/big"):
            st.write_group("x", {"big": np.zeros(200_000)})
        assert not st.has("x") and not st.has("_tmp_x")
    assert path.stat().st_size <= size + 16384


# -- labelling ----------------------------------------------------------------------
def _labelled(tmp, n=5):
    path = make_store(tmp / "s.h5", n=50)
    for i in range(n):
        assert engine(["label", path, f"o{i}", "anomaly", "--note", f"n{i}"]).returncode == 0
    return path


def _journal(path):
    from engine.labels import LabelJournal

    with LabelJournal(path) as j:
        return [(e.object_id, e.label, e.note) for e in j.entries()]


def _refused_label(path, **kw):
    line = one_line_error(engine(["label", path, "o9", "anomaly", "--note", "x" * 5000], **kw))
    assert "label journal" in line or ".labels.sqlite" in line
    assert "the disk is full" in line and "every label recorded before is kept" in line
    return line


def test_label_under_a_file_size_limit_keeps_every_label(tmp_path):
    path = _labelled(tmp_path)
    before = _journal(path)
    _refused_label(path, fsize=4096)
    label_file = tmp_path / "more.csv"
    label_file.write_text("id,label\n" + "".join(f"o{i},normal\n" for i in range(10, 40)))
    line = one_line_error(engine(["label", path, "--from", label_file], fsize=4096))
    assert "the disk is full" in line
    assert _journal(path) == before                  # nothing lost, nothing half written
    assert engine(["label", path, "o9", "anomaly"]).returncode == 0
    assert _journal(path)[:-1] == before and _journal(path)[-1][:2] == ("o9", "anomaly")


def test_label_on_a_full_file_system_keeps_every_label(tmp_path):
    with small_filesystem(4 * 1024, tmp_path) as fs:
        path = _labelled(fs)
        before = _journal(path)
        filler = _fill(fs, 4)
        _refused_label(path)
        filler.unlink()        # (a full disk also stops SQLite opening the journal to read)
        assert _journal(path) == before
        assert engine(["label", path, "o9", "anomaly"]).returncode == 0
        assert len(_journal(path)) == len(before) + 1


# -- other stages' commits -----------------------------------------------------------
LC_FILE = Path(__file__).resolve().parents[1] / "data" / "ingest" / "bands_mixed.csv"


def _state(path):
    with Store(path) as st:
        ctx = st.read("context/row") if st.has("context/row") else None
        return st.n_objects, st.group_writes, len(st.runs()), ctx


@pytest.mark.parametrize("command", [
    ["context", "{s}", "--offline", "--quiet", "--top", "20"],
    ["ingest", "{s}", "--lightcurves", str(LC_FILE), "--quiet"],
])
def test_context_and_ingest_under_a_file_size_limit_keep_the_store(tmp_path, command):
    path = make_store(tmp_path / "s.h5", n=50)
    assert engine(["context", path, "--offline", "--quiet"]).returncode == 0
    n, writes, runs, ctx = _state(path)
    args = [a.replace("{s}", str(path)) for a in command]
    line = one_line_error(engine(args, fsize=path.stat().st_size + 8192))
    assert "not enough disk space" in line and "the store is unchanged" in line
    n2, writes2, runs2, ctx2 = _state(path)
    assert (n2, writes2, runs2) == (n, writes, runs)
    np.testing.assert_array_equal(ctx2, ctx)
    assert engine(["verify", path]).returncode == 0
    assert engine(args).returncode == 0                      # with space it goes through
