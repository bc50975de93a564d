"""The context stage on demo stores (offline, synthetic photometry), selection, reader, CLI."""
from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import pytest

from engine.config import ContextConfig
from engine.context import (ContextStatus, cli, configure_parser, hr_background, hr_points,
                            load_context, mowlavi_line, run_context)
from engine.context.selection import select
from engine.progress import run_quiet
from engine.store import Store


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    from engine.simulate import make_demo

    path = tmp_path_factory.mktemp("demo") / "demo.h5"
    run_quiet(make_demo(path, 150, seed=7))
    return path


def _add_scores(path, seed=0):
    with Store(path, "a") as st:
        n = st.n_objects
        rng = np.random.default_rng(seed)
        for space in ("cartesian", "spherical"):
            score = rng.uniform(0, 1, n)
            rank = np.empty(n, np.int64)
            rank[np.argsort(-score)] = np.arange(1, n + 1)
            st.write_group(f"scores/{space}", {"score": score / score.max(), "rank": rank})


def test_offline_demo_every_object_fitted_or_flagged(demo_store, tmp_path):
    path = tmp_path / "d.h5"
    path.write_bytes(demo_store.read_bytes())
    summary = run_quiet(run_context(path, ContextConfig(top_n=30, offline=True)))
    assert summary["objects"] == 30 and summary["requests"] == 0
    with Store(path) as st:
        status = st.read("context/status")
        msg = st.read("context/status_msg")
        teff = st.read("context/fit_teff")
        attrs = st.attrs("context")
    assert attrs["synthetic"] and attrs["extinction_map"] == "synthetic"
    assert (status & ContextStatus.SYNTHETIC).all()
    for s, m, t in zip(status, msg, teff):
        fitted_cleanly = np.isfinite(t) and not s & (ContextStatus.FIT_FAILED | ContextStatus.POOR_FIT)
        flagged = bool(s & (ContextStatus.FIT_FAILED | ContextStatus.POOR_FIT |
                            ContextStatus.NO_DISTANCE)) and b"fit" in m
        assert fitted_cleanly or flagged, (s, m)
    rec = load_context(path, 0)
    assert rec["synthetic"] and rec["ebv_source"] == "synthetic" and rec["sed"]["dereddened"]
    assert set(rec["hr"]) == {"M_G", "bp_rp"} and len(rec["sed"]["band"]) == 12
    assert load_context(path, 10_000) is None
    pts = hr_points(path)
    assert len(pts["rows"]) == 30 and np.isfinite(pts["M_G"]).any()
    assert hr_background(path) is None                  # offline: the GUI shows only objects
    assert mowlavi_line(path)["slope"] == ContextConfig().mowlavi_slope


def test_fit_recovers_demo_dusty_stars(demo_store, tmp_path):
    """Demo stars given a DESK dust shell are fitted back near their true parameters."""
    path = tmp_path / "d.h5"
    path.write_bytes(demo_store.read_bytes())
    with Store(path) as st:
        sim = {k: st.read(f"sim/{k}") for k in ("tau10", "teff", "log_l")}
    dusty_rows = np.flatnonzero(sim["tau10"] > 0)
    if not len(dusty_rows):
        pytest.skip("this demo seed has no dusty stars")
    run_quiet(run_context(path, ContextConfig(top_n=int(dusty_rows.max()) + 1, offline=True)))
    for r in dusty_rows:
        fit = load_context(path, int(r))["fit"]
        assert abs(fit["teff"] - sim["teff"][r]) <= 200
        assert abs(np.log10(fit["lum_lsun"]) - sim["log_l"][r]) < 0.1


def test_selection_top_and_normal_per_space():
    classes = np.array(["SR"] * 6 + ["Mira"] * 4 + ["EW"] * 10)
    score = np.linspace(1, 0, 20)
    rank = np.arange(1, 21)
    rows, why = select({"cartesian": rank}, {"cartesian": score}, classes, 20, 3, 2, 1)
    assert rows.tolist() == [0, 1, 2, 4, 5]             # top 3 (SR) + 2 least anomalous SR
    assert why[0] == "top-cartesian" and why[-1] == "normal-cartesian"
    rows, why = select({}, {}, classes, 20, 4, 2)
    assert rows.tolist() == [0, 1, 2, 3] and set(why) == {"first"}


def test_stage_uses_scores_and_cancel_keeps_previous(demo_store, tmp_path):
    path = tmp_path / "d.h5"
    path.write_bytes(demo_store.read_bytes())
    _add_scores(path)
    cfg = ContextConfig(top_n=5, n_normal=2, offline=True)
    run_quiet(run_context(path, cfg))
    with Store(path) as st:
        first = st.read("context/row")
        sel = st.read("context/selection").astype(str)
        ranks = st.read("scores/cartesian/rank")
    assert set(np.flatnonzero((ranks >= 1) & (ranks <= 5))) <= set(first.tolist())
    assert any("normal-" in s for s in sel)
    gen = run_context(path, dataclasses.replace(cfg, top_n=20))
    next(gen), next(gen)
    gen.close()                                          # cancel mid-run
    with Store(path) as st:
        np.testing.assert_array_equal(st.read("context/row"), first)


def test_cli_offline_on_demo_store(demo_store, tmp_path, capsys):
    path = tmp_path / "d.h5"
    path.write_bytes(demo_store.read_bytes())
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    assert cli(parser.parse_args([str(path), "--offline", "--top", "8", "--quiet", "--json"])) == 0
    assert '"objects": 8' in capsys.readouterr().out
    assert len(hr_points(path)["rows"]) == 8


def test_missing_store_is_a_clear_error(tmp_path):
    from engine.errors import StoreError

    with pytest.raises(StoreError, match="no such store"):
        run_quiet(run_context(tmp_path / "nope.h5", ContextConfig(offline=True)))
