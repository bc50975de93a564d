"""Defects 5 and 6: truncated and damaged stores are named as damaged, never read as
data; ``verify`` lists each group; a writer's lock is still "busy"."""
from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from engine.errors import StoreError
from engine.store import Store

from ..engine.test_anomaly_stage import make_store
from .helpers import engine, env, kill_group, one_line_error


@pytest.fixture
def scored(tmp_path):
    path = make_store(tmp_path / "s.h5", n=300)
    rng = np.random.default_rng(1)
    with Store(path, "a") as st:
        st.write_group("interp", {"mean": rng.normal(size=(300, 2, 160)).astype("f4")})
    return path


def _flip(path, offset):
    with open(path, "r+b") as fh:
        fh.seek(offset)
        b = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([b[0] ^ 0x5A]))


def _chunk_offset(path, name):
    with h5py.File(path, "r") as h5:
        return h5[name].id.get_chunk_info(0).byte_offset


def test_truncated_store_is_damaged_not_busy(scored, tmp_path):
    """Defect 5: HDF5's "sblock->base_addr" contains "lock"; a truncated file waited
    10 s and was reported busy."""
    cut = tmp_path / "cut.h5"
    cut.write_bytes(scored.read_bytes()[: scored.stat().st_size // 2])
    t0 = time.monotonic()
    with pytest.raises(StoreError, match=r"cut.h5: damaged or truncated store") as err:
        Store(cut)
    assert time.monotonic() - t0 < 2 and "busy" not in str(err.value)
    line = one_line_error(engine(["info", cut]))
    assert "cut.h5: damaged or truncated" in line


@contextlib.contextmanager
def _held_by_a_writer(path):
    """Another process holds ``path`` open for writing (HDF5's lock) inside the block."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import h5py, sys, time; f = h5py.File(sys.argv[1], 'r+'); "
         "print('open', flush=True); time.sleep(60)", str(path)],
        stdout=subprocess.PIPE, text=True, env=env(), start_new_session=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        yield
    finally:
        kill_group(holder)


def test_store_held_by_a_writer_is_busy(scored):
    with _held_by_a_writer(scored):
        with pytest.raises(StoreError, match="busy, another process is writing it"):
            Store(scored, wait=0.3)


def test_flipped_byte_in_interp_mean_is_found_and_refused(scored):
    """Defect 6: with flipped bytes every command exited 0 and read the values."""
    assert engine(["verify", scored]).returncode == 0
    _flip(scored, _chunk_offset(scored, "interp/mean") + 1234)
    res = engine(["verify", scored, "--json"])
    assert res.returncode == 1
    groups = json.loads(res.stdout)["groups"]
    assert groups["interp"]["state"] == "damaged" and "interp/mean" in groups["interp"]["detail"]
    assert groups["vae"]["state"] == groups["objects"]["state"] == "intact"
    with Store(scored) as st, pytest.raises(StoreError, match=r"/interp/mean is damaged .*"
                                                              r"rerun interpolate"):
        st.read("interp/mean")
    text = engine(["verify", scored]).stdout
    assert "/interp" in text and "damaged" in text and "rerun interpolate" in text


def test_score_refuses_damaged_input(scored):
    _flip(scored, _chunk_offset(scored, "vae/mu") + 100)
    line = one_line_error(engine(["score", "--trees", "20", "--no-convergence", scored]))
    assert "/vae/mu is damaged" in line and "rerun train" in line
    with Store(scored) as st:
        assert not st.has("scores")


def _meta_offset(path):
    data = path.read_bytes()
    at = data.find(b'"checked_by_test"')
    assert at > 0
    return at + 3


def test_flipped_byte_in_meta_is_found_and_refused(tmp_path):
    path = tmp_path / "s.h5"
    Store.create(path, config={"checked_by_test": 1}).close()
    make_store  # noqa: B018  (the same store layout as the score tests is not needed)
    _flip(path, _meta_offset(path))
    res = engine(["verify", path, "--json"])
    assert res.returncode == 1
    assert json.loads(res.stdout)["groups"]["meta"]["state"] == "damaged"
    for cmd in (["info", path], ["info", "--json", path],
                ["score", "--trees", "20", path], ["export", path, "-o", tmp_path / "t.csv"]):
        line = one_line_error(engine(cmd))
        assert "damaged" in line and str(path) in line


def test_old_store_without_checksums_opens_and_says_so(tmp_path):
    """A store written before this version (HDF5 earliest format, no filters, no digest)."""
    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as h5:
        meta = h5.create_group("meta")
        meta.attrs.update({"schema_version": 1, "pvsvet_version": "0.1", "created": "x",
                           "config": "{}"})
        objs = h5.create_group("objects")
        objs.attrs["n"] = 1
        objs.create_dataset("id", data=np.array([b"a"]), maxshape=(None,))
        lcs = h5.create_group("lightcurves")
        for k, dt in (("time", "f8"), ("mag", "f4"), ("magerr", "f4"), ("band", "u1")):
            lcs.create_dataset(k, shape=(0,), dtype=dt, maxshape=(None,))
        lcs.create_dataset("offsets", data=np.zeros(2, "i8"), maxshape=(None,))
        h5.create_group("runs").create_dataset("records", shape=(0,), maxshape=(None,),
                                               dtype=h5py.string_dtype())
    with Store(path) as st:
        assert st.n_objects == 1 and st.meta["config"] == {}
    res = engine(["verify", path])
    assert res.returncode == 0, res.stderr
    assert "not checksummed" in res.stdout and "no damage found" in res.stdout


def _screenshot(store, tmp_path):
    return subprocess.run([sys.executable, "-c", "import sys; from pvsvet.app import main; sys.exit(main())", str(store), "--screenshot",
                           str(tmp_path / "shot.png")], env={**env(), "QT_QPA_PLATFORM":
                                                             "offscreen"},
                          capture_output=True, text=True, timeout=120)


def test_screenshot_of_a_store_that_cannot_be_opened_exits_1(scored, tmp_path):
    """Defect 5: ``pvsvet STORE --screenshot`` waited on a modal box forever."""
    cut = tmp_path / "cut.h5"
    cut.write_bytes(scored.read_bytes()[:4096])
    res = _screenshot(cut, tmp_path)
    assert res.returncode == 1 and "cut.h5: damaged or truncated" in res.stderr
    assert "Traceback" not in res.stderr


def test_screenshot_of_a_store_held_by_a_writer_exits_1(scored, tmp_path):
    with _held_by_a_writer(scored):
        res = _screenshot(scored, tmp_path)
    assert res.returncode == 1 and "busy, another process is writing it" in res.stderr
