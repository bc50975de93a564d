"""Defect 4: export replaces the target list atomically (kill, full disk)."""
from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

from engine.labels import LabelJournal
from engine.store import LightCurve, Store

from .helpers import engine, kill_group, one_line_error, small_filesystem, spawn

N = 600


@pytest.fixture
def labelled(tmp_path):
    path = tmp_path / "s.h5"
    e = np.zeros(0)
    with Store.create(path) as st:
        st.append_objects({"id": [f"ZTF{i:08d}" for i in range(N)], "ra": np.linspace(0, 359, N),
                           "dec": np.linspace(-80, 80, N), "period": np.full(N, 0.5),
                           "class": ["EW"] * N},
                          [LightCurve(e, e, e, e.astype("u1")) for _ in range(N)])
    with LabelJournal(path) as j:
        j.add("ZTF00000000", "anomaly", note="the first")
    return path


def _grow(path):
    with LabelJournal(path) as j:
        j.add_many([(f"ZTF{i:08d}", "interesting", "a note " * 5) for i in range(N)])


@pytest.mark.parametrize("ext", [".ecsv", ".csv", ".xml"])
def test_file_size_limit_keeps_the_previous_list(labelled, tmp_path, ext):
    out = tmp_path / f"targets{ext}"
    assert engine(["export", labelled, "-o", out]).returncode == 0
    before = out.read_bytes()
    _grow(labelled)
    res = engine(["export", labelled, "-o", out], fsize=64 * 1024)
    line = one_line_error(res)
    assert str(out) in line and "previous list is kept" in line
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_full_disk_keeps_the_previous_list(labelled, tmp_path):
    """The same on a real, small file system (tmpfs)."""
    with small_filesystem(96, tmp_path) as fs:
        out = fs / "targets.ecsv"
        assert engine(["export", labelled, "-o", out]).returncode == 0
        before = out.read_bytes()
        _grow(labelled)
        line = one_line_error(engine(["export", labelled, "-o", out]))
        assert "No space left" in line
        assert out.read_bytes() == before


def test_kills_mid_write_leave_a_whole_list(labelled, tmp_path):
    out = tmp_path / "targets.ecsv"
    assert engine(["export", labelled, "-o", out]).returncode == 0
    old = out.read_bytes()
    _grow(labelled)
    ref = tmp_path / "ref.ecsv"
    assert engine(["export", labelled, "-o", ref]).returncode == 0
    new = ref.read_bytes()
    for delay in np.linspace(0.8, 2.5, 4):
        proc = spawn(["export", labelled, "-o", out])
        time.sleep(delay)
        kill_group(proc)
        got = out.read_bytes()
        assert got in (old, new)
        out.write_bytes(old)
