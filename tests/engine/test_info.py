"""``pvsvet-engine info`` on demo stores, bare stores, stores with stage groups, non-stores."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from engine.errors import StoreError
from engine.info import cli_info, collect, configure_info, flag_counts, format_text
from engine.progress import run_quiet
from engine.simulate import make_demo
from engine.simulate.anomalies import KINDS
from engine.simulate.classes import CLASS_NAMES
from engine.store import LightCurve, Status, Store


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("info") / "demo.h5"
    run_quiet(make_demo(path, 500, seed=11))
    return path


def _run_cli(argv, capsys):
    parser = argparse.ArgumentParser()
    configure_info(parser)
    rc = cli_info(parser.parse_args(argv))
    return rc, capsys.readouterr().out


def test_json_on_demo(demo_path, capsys):
    rc, out = _run_cli([str(demo_path), "--json"], capsys)
    assert rc == 0
    info = json.loads(out)
    with Store(demo_path) as s:
        o = s.read_objects(["class", "truth_kind"])
    assert info["n_objects"] == 500
    assert set(info["classes"]) == set(CLASS_NAMES)
    assert sum(info["classes"].values()) == 500
    assert info["classes"]["EW"] == int((o["class"] == "EW").sum())
    assert info["truth"]["n_anomalies"] == int((o["truth_kind"] != "").sum()) >= 5
    assert len(info["truth"]["kinds"]) >= 4 and set(info["truth"]["kinds"]) <= set(KINDS)
    assert info["groups"]["sim"]["attrs"]["synthetic"] is True
    assert info["runs"][0]["stage"] == "demo" and info["runs"][0]["status"] == "ok"
    assert "interp" not in info["groups"]


def test_text_on_demo(demo_path, capsys):
    rc, out = _run_cli([str(demo_path)], capsys)
    assert rc == 0
    assert "objects: 500" in out and "Mira" in out and "injected anomalies" in out
    assert "/sim" in out and "demo" in out


def test_stage_groups_failures_and_runs(tmp_path):
    path = tmp_path / "s.h5"
    with Store.create(path) as s:
        lcs = [LightCurve(np.arange(3.0), np.ones(3), np.full(3, 0.1), np.array([0, 1, 1], "u1"))
               for _ in range(4)]
        s.append_objects({"id": list("abcd"), "class": ["EW", "EW", "RR", ""],
                          "status": [0, int(Status.FEW_POINTS), 0,
                                     int(Status.FEW_POINTS | Status.MISSING_BAND)],
                          "status_msg": ["", "3 points", "", "no g"]}, lcs)
        s.write_group("interp", {
            "mean": np.zeros((4, 2, 160), "f4"),
            "status": np.array([0, 64, 64, 128], "u4"),
            "status_msg": np.array(["", "optimiser diverged", "optimiser diverged", "sigma"])},
            {"method": "fast", "config": {"n_phase": 160}})
        s.write_group("scores/cartesian", {"score": np.ones(4), "rank": np.arange(1, 5)},
                      {"convergence": {"spearman_top1000": 0.995}, "n_estimators": 5000})
        s.record_run("interpolate", "ok", config_hash="abc123")
        s.record_run("score", "failed", config_hash="def456", error="boom")
    info = collect(path)
    assert info["ingest"]["flags"] == {"FEW_POINTS": 2, "MISSING_BAND": 1}
    interp = info["groups"]["interp"]
    assert interp["failures"]["n_failed"] == 3
    assert interp["failures"]["flags"] == {"GP_FAILED": 2, "GP_UNPHYSICAL": 1}
    assert interp["failures"]["messages"][0] == ["optimiser diverged", 2]
    assert interp["datasets"]["mean"] == [4, 2, 160]
    cart = info["groups"]["scores/cartesian"]
    assert cart["attrs"]["convergence"]["spearman_top1000"] == pytest.approx(0.995)
    assert info["failures"] == {"ingest": 2, "interp": 3}
    assert [r["stage"] for r in info["runs"]] == ["interpolate", "score"]
    assert info["runs"][1]["status"] == "failed" and info["runs"][1]["error"] == "boom"
    assert "truth" not in info
    text = format_text(info)
    assert "GP_FAILED: 2" in text and "scores/cartesian" in text and "def456" in text
    json.dumps(info)   # serialisable


def test_empty_store(tmp_path):
    path = tmp_path / "empty.h5"
    Store.create(path).close()
    info = collect(path)
    assert info["n_objects"] == 0 and info["groups"] == {} and info["runs"] == []
    assert "stage groups: none yet" in format_text(info)


def test_refuses_non_stores(tmp_path):
    bad = tmp_path / "notes.h5"
    bad.write_text("not hdf5")
    with pytest.raises(StoreError, match="not a pvsvet store"):
        collect(bad)
    with pytest.raises(StoreError, match="no such store"):
        collect(tmp_path / "missing.h5")


def test_cli_one_line_error(tmp_path, capsys):
    from engine.cli import main
    bad = tmp_path / "x.h5"
    bad.write_text("nope")
    assert main(["info", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a pvsvet store" in err[0]


def test_flag_counts():
    st = np.array([0, 1, 3, 64 | 1], "u4")
    assert flag_counts(st) == {"REJECTED_CUT": 3, "FEW_POINTS": 1, "GP_FAILED": 1}


def test_context_flags_are_decoded_as_context_flags_and_notes_are_not_failures(tmp_path):
    """Issue 17, defect 6: '/context failed: 349 REJECTED_CUT' for synthetic contexts and
    '/interp failed: 485' for 483 good fits."""
    from engine.context.objects import ContextStatus

    path = tmp_path / "s.h5"
    with Store.create(path) as s:
        lcs = [LightCurve(np.arange(3.0), np.ones(3), np.full(3, 0.1), np.array([0, 1, 1], "u1"))
               for _ in range(4)]
        s.append_objects({"id": list("abcd"), "status": [int(Status.OTHER_BANDS), 0, 0, 0]}, lcs)
        s.write_group("interp", {"status": np.array([int(Status.OTHER_BANDS), 0, 0, 64], "u4")})
        s.write_group("context", {"status": np.array(
            [1, 1, int(ContextStatus.SYNTHETIC | ContextStatus.FIT_FAILED), 0], "u4")})
    info = collect(path)
    ctx = info["groups"]["context"]["failures"]
    assert ctx["flags"] == {"SYNTHETIC": 3, "FIT_FAILED": 1} and ctx["n_failed"] == 1
    interp = info["groups"]["interp"]["failures"]
    assert interp["n_failed"] == 1 and interp["flags"] == {"GP_FAILED": 1, "OTHER_BANDS": 1}
    assert info["ingest"]["n_failed"] == 0
    assert "REJECTED_CUT" not in format_text(info)
