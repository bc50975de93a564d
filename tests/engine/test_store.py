"""The HDF5 store: schema checks, appends, ragged light curves, atomic group commits."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from engine.errors import StoreError
from engine.store import SCHEMA_VERSION, LightCurve, Status, Store


def _lc(n: int, seed: int = 0) -> LightCurve:
    rng = np.random.default_rng(seed)
    return LightCurve(np.sort(rng.uniform(58000, 58500, n)), rng.normal(15, 0.1, n),
                      np.full(n, 0.02), rng.integers(0, 2, n).astype("u1"))


@pytest.fixture
def store(tmp_path):
    s = Store.create(tmp_path / "s.h5")
    s.append_objects({"id": ["a", "b", "c"], "period": [0.5, 1.5, 300.0],
                      "class": ["EW", "RR", "Mira"]}, [_lc(5, 1), _lc(7, 2), _lc(3, 3)])
    yield s
    s.close()


def test_append_and_read_back(store):
    objs = store.read_objects(["id", "period", "class", "status"])
    assert list(objs["id"]) == ["a", "b", "c"]
    np.testing.assert_allclose(objs["period"], [0.5, 1.5, 300.0])
    assert list(objs["class"]) == ["EW", "RR", "Mira"]
    assert (objs["status"] == 0).all()
    lc = store.lightcurve(1)
    ref = _lc(7, 2)
    np.testing.assert_allclose(lc.time, ref.time)
    np.testing.assert_allclose(lc.mag, ref.mag.astype("f4"))
    assert [len(x) for x in store.lightcurves(0, 3)] == [5, 7, 3]


def test_second_append_widens_strings_and_keeps_rows(store):
    rows = store.append_objects({"id": ["a-much-longer-identifier-than-before"],
                                 "status": [int(Status.FEW_POINTS)]}, [_lc(4, 9)])
    assert list(rows) == [3]
    objs = store.read_objects(["id", "class", "status"])
    assert objs["id"][0] == "a" and objs["id"][3] == "a-much-longer-identifier-than-before"
    assert objs["class"][3] == ""               # missing columns are filled
    assert objs["status"][3] == Status.FEW_POINTS
    assert len(store.lightcurve(3)) == 4 and len(store.lightcurve(2)) == 3


def test_mismatched_column_length_is_refused(store):
    with pytest.raises(StoreError, match="column 'period' has 2 values for 1"):
        store.append_objects({"id": ["x"], "period": [1.0, 2.0]}, [_lc(3)])
    assert store.n_objects == 3


def test_interrupted_append_leaves_previous_rows(tmp_path, store, monkeypatch):
    """A crash after the light curves are written but before the row count moves."""
    def boom(*a, **k):
        raise RuntimeError("killed")
    monkeypatch.setattr(h5py.AttributeManager, "__setitem__", boom)
    with pytest.raises(RuntimeError):
        store.append_objects({"id": ["d"]}, [_lc(6)])
    monkeypatch.undo()
    assert store.n_objects == 3
    store.append_objects({"id": ["e"]}, [_lc(2, 5)])   # overwrites the garbage rows
    assert list(store.read_objects(["id"])["id"]) == ["a", "b", "c", "e"]
    assert len(store.lightcurve(3)) == 2


def test_interrupted_group_commit_keeps_previous_content(store):
    store.write_group("interp", {"mean": np.zeros((3, 2, 160), "f4")}, {"method": "fast"})
    with pytest.raises(RuntimeError):
        with store.writing_group("interp") as g:
            g.create_dataset("mean", data=np.ones((3, 2, 160), "f4"))
            raise RuntimeError("cancelled mid-commit")
    assert (store.read("interp/mean") == 0).all()
    assert store.attrs("interp")["method"] == "fast"
    assert not store.has("_tmp_interp")


def test_group_commit_replaces(store):
    store.write_group("scores/cartesian", {"score": [1.0, 0.5, 0.2]}, {"features": ["a", "b"]})
    store.write_group("scores/cartesian", {"score": [0.3, 1.0, 0.1]}, {"features": ["c"]})
    np.testing.assert_allclose(store.read("scores/cartesian/score"), [0.3, 1.0, 0.1])
    assert store.attrs("scores/cartesian")["features"] == ["c"]
    np.testing.assert_allclose(store.read("scores/cartesian/score", rows=[2, 0]), [0.1, 0.3])


def test_runs_are_recorded(store):
    store.record_run("interpolate", "ok", config_hash="abc")
    store.record_run("interpolate", "cancelled")
    assert [r["status"] for r in store.runs("interpolate")] == ["ok", "cancelled"]
    assert store.last_run("interpolate")["config_hash"] == "abc"


def test_read_only_store_refuses_writes(tmp_path, store):
    store.close()
    ro = Store(tmp_path / "s.h5", "r")
    with pytest.raises(StoreError, match="read-only"):
        ro.append_objects({"id": ["z"]}, [_lc(3)])
    ro.close()


def test_not_a_store_is_refused_and_untouched(tmp_path):
    txt = tmp_path / "notes.h5"
    txt.write_text("hello")
    with pytest.raises(StoreError, match="not an HDF5 file"):
        Store(txt)
    assert txt.read_text() == "hello"
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h5:
        h5["x"] = [1, 2]
    before = other.read_bytes()
    with pytest.raises(StoreError, match="not a pvsvet store"):
        Store(other, "a")
    assert other.read_bytes() == before
    with pytest.raises(StoreError, match="no such store"):
        Store(tmp_path / "missing.h5")


def test_newer_schema_is_refused(tmp_path, store):
    store._h5["meta"].attrs["schema_version"] = SCHEMA_VERSION + 1
    store.close()
    with pytest.raises(StoreError, match="newer pvsvet"):
        Store(tmp_path / "s.h5", "a")


def test_missing_group_message_names_it(store):
    with pytest.raises(StoreError, match="/vae/mu"):
        store.read("vae/mu")


@pytest.mark.parametrize("finished", [True, False])
def test_replace_killed_between_its_moves_is_finished_on_open(tmp_path, finished):
    path = tmp_path / "k.h5"
    with Store.create(path) as st:
        st.write_group("scores/cartesian", {"score": [1.0, 2.0]})
    with h5py.File(path, "r+") as h5:        # the state a kill between the moves leaves
        g = h5.create_group("scores/_tmp_cartesian")
        g.create_dataset("score", data=[3.0, 4.0])
        if finished:
            g.attrs["write_id"] = 2
        h5.move("scores/cartesian", "scores/_old_cartesian")
    with Store(path, "a") as st:
        expected = [3.0, 4.0] if finished else [1.0, 2.0]
        np.testing.assert_array_equal(st.read("scores/cartesian/score"), expected)
