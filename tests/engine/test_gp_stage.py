"""The interpolation stage: /interp contents, failure paths, split, resume, CLI."""
import shutil

import numpy as np
import pytest

from engine.cli import main
from engine.config import InterpConfig
from engine.executors import SerialExecutor
from engine.fold import fold, unscale
from engine.gp import interpolate, make_split
from engine.gp.stage import cache_for
from engine.progress import run_quiet
from engine.store import LightCurve, Status, Store

from .gp_helpers import make_lc, make_store

CFG = InterpConfig(chunk_size=16, workers=1)


def _bad_rows(rng):
    few = make_lc(rng, 0.5, n=(40, 4))
    lc = make_lc(rng, 0.5)
    only_g = lc.select(lc.band == 0)
    return [("few", 0.5, 0, few), ("no_r", 0.5, 0, only_g), ("zero_period", 0.0, 0, lc),
            ("cut", 0.5, int(Status.REJECTED_CUT), lc)]


@pytest.fixture(scope="module")
def done_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("gp") / "s.h5"
    make_store(path, n=40, extra=_bad_rows(np.random.default_rng(9)))
    result = run_quiet(interpolate(path, CFG, SerialExecutor()))
    return path, result


def test_interp_group_schema(done_store):
    path, result = done_store
    with Store(path) as store:
        n = store.n_objects
        g = {k: store.read(f"interp/{k}") for k in store.group_keys("interp")}
        attrs = store.attrs("interp")
        assert store.last_run("interpolate")["method"] == "fast"
    assert g["mean"].shape == g["std"].shape == (n, 2, 160) and g["mean"].dtype == np.float32
    assert g["raw_mean_mag"].shape == g["raw_std_mag"].shape == (n, 2)
    assert g["hyper"].shape == (n, 4) and g["nll"].shape == g["split"].shape == (n,)
    assert g["status"].dtype == np.uint32 and g["split"].dtype == np.uint8
    np.testing.assert_allclose(g["phase"], np.arange(160) / 160)
    assert attrs["method"] == "fast" and attrs["config"]["chunk_size"] == 16
    assert result["n_ok"] == 40 and result["n"] == 44


def test_good_objects_are_scaled_and_recover_the_data(done_store):
    path, _ = done_store
    with Store(path) as store:
        g = {k: store.read(f"interp/{k}") for k in ("mean", "std", "raw_mean_mag", "raw_std_mag",
                                                       "status", "hyper")}
        lcs = store.lightcurves(0, 40)
        period = store.read_objects(["period"])["period"]
    assert (g["status"][:40] == 0).all()
    np.testing.assert_allclose(g["mean"][:40].mean(axis=-1), 0, atol=1e-5)
    np.testing.assert_allclose(g["mean"][:40].std(axis=-1), 1, atol=1e-4)
    mags, _ = unscale(g["mean"][:40].astype(float), g["std"][:40].astype(float),
                      g["raw_mean_mag"][:40], g["raw_std_mag"][:40])
    for i, lc in enumerate(lcs):   # the curve goes through the data (errors 0.02 mag)
        for b in (0, 1):
            sel = lc.band == b
            ph = fold(lc.time[sel], period[i])
            model = np.interp(ph, np.arange(161) / 160, np.append(mags[i, b], mags[i, b, 0]))
            assert np.median(np.abs(model - lc.mag[sel])) < 0.04
    assert (g["hyper"][:40, 0] > 0.02).all() and (g["hyper"][:40, 0] < 1).all()


def test_failure_paths_are_flagged_not_fatal(done_store):
    path, _ = done_store
    with Store(path) as store:
        status = store.read("interp/status")
        msg = [m.decode() for m in store.read("interp/status_msg")]
        mean, split = store.read("interp/mean"), store.read("interp/split")
    expect = {40: Status.FEW_POINTS, 41: Status.MISSING_BAND, 42: Status.BAD_PERIOD,
              43: Status.REJECTED_CUT}
    for row, flag in expect.items():
        assert status[row] & flag, (row, status[row])
        assert np.isnan(mean[row]).all() and split[row] == 255 and msg[row]
    assert "few" in msg[40] and "r points" in msg[40]
    assert "no_r" in msg[41] and "no r points" in msg[41]
    assert "period" in msg[42]


def test_split_ratios_stratified_and_deterministic():
    rng = np.random.default_rng(0)
    classes = rng.choice(np.array(["RR", "EW", "Mira", "SR"]), size=2000, p=[0.5, 0.3, 0.15, 0.05])
    eligible = rng.random(2000) > 0.1
    s = make_split(classes, eligible, (0.7, 0.2, 0.1), seed=42)
    assert (s[~eligible] == 255).all() and (s[eligible] <= 2).all()
    for cls in np.unique(classes):
        sel = eligible & (classes == cls)
        frac = np.bincount(s[sel], minlength=3)[:3] / sel.sum()
        np.testing.assert_allclose(frac, [0.7, 0.2, 0.1], atol=1.0 / sel.sum() + 1e-9)
    np.testing.assert_array_equal(s, make_split(classes, eligible, (0.7, 0.2, 0.1), seed=42))
    assert (s != make_split(classes, eligible, (0.7, 0.2, 0.1), seed=1)).any()


def test_split_excludes_failed_fits(done_store):
    path, _ = done_store
    with Store(path) as store:
        split, status = store.read("interp/split"), store.read("interp/status")
    assert set(np.unique(split[status == 0])) <= {0, 1, 2}
    assert (split[status != 0] == 255).all()


def test_resume_after_cancel(tmp_path):
    path = make_store(tmp_path / "a.h5", n=50, seed=2)
    ref = tmp_path / "b.h5"
    shutil.copy(path, ref)
    cfg = InterpConfig(chunk_size=10, workers=1)
    gen = interpolate(path, cfg, SerialExecutor())
    for p in gen:
        if p.done >= 20:
            break
    gen.close()   # the user's cancel
    cache = cache_for(path, cfg)
    assert cache.done_starts() == {0, 10}
    with Store(path) as store:
        assert not store.has("interp")
    stamps = {s: cache._file(s).stat().st_mtime_ns for s in (0, 10)}
    gen = interpolate(path, cfg, SerialExecutor())
    next(gen)   # first report: resuming; nothing recomputed yet
    assert {s: cache._file(s).stat().st_mtime_ns for s in (0, 10)} == stamps
    result = run_quiet(gen)
    assert result["resumed_chunks"] == 2 and result["computed"] == 30
    assert not cache.dir.exists()
    run_quiet(interpolate(ref, cfg, SerialExecutor()))
    with Store(path) as a, Store(ref) as b:
        for k in ("mean", "std", "raw_mean_mag", "hyper", "status", "split"):
            np.testing.assert_array_equal(a.read(f"interp/{k}"), b.read(f"interp/{k}"))


def test_cli_with_processes_and_bad_input(tmp_path, capsys):
    path = make_store(tmp_path / "c.h5", n=12, seed=4)
    assert main(["interpolate", str(path), "--workers", "2", "--chunk-size", "6", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"n_ok": 12' in out
    with Store(path) as store:
        parallel = store.read("interp/mean")
    run_quiet(interpolate(path, InterpConfig(chunk_size=6), SerialExecutor()))
    with Store(path) as store:
        np.testing.assert_array_equal(parallel, store.read("interp/mean"))
    assert main(["interpolate", str(tmp_path / "missing.h5")]) == 1
    assert "no such store" in capsys.readouterr().err
    assert main(["interpolate", str(path), "--chunk-size", "0"]) == 1


def test_george_method_writes_interp(tmp_path):
    pytest.importorskip("george")
    path = make_store(tmp_path / "g.h5", n=2, seed=6)
    run_quiet(interpolate(path, InterpConfig(method="george", workers=1), SerialExecutor()))
    with Store(path) as store:
        assert store.attrs("interp")["method"] == "george"
        assert (store.read("interp/status") == 0).all()
        assert np.isfinite(store.read("interp/mean")).all()
