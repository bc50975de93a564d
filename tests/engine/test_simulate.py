"""The synthetic demo catalogue: counts, classes, anomalies, determinism, physics ranges."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from engine.errors import PvsvetError, StoreError
from engine.progress import Progress, run_quiet
from engine.simulate import make_demo
from engine.simulate import ogle3
from engine.simulate.anomalies import KINDS
from engine.simulate.classes import CLASS_NAMES, class_counts
from engine.names import CHEN_PREFIX, iau_names
from engine.simulate.sky import galactic_to_icrs, icrs_to_galactic
from engine.store import Store

N = 1200


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("sim") / "demo.h5"
    run_quiet(make_demo(path, N, seed=7))
    with Store(path) as s:
        objs = s.read_objects()
        sim = {k: s.read(f"sim/{k}") for k in s.group_keys("sim")}
        sim_attrs = s.attrs("sim")
        lcs = s.lightcurves(0, N)
        runs = s.runs()
    return dict(path=path, objs=objs, sim=sim, sim_attrs=sim_attrs, lcs=lcs, runs=runs)


def test_counts_and_columns(demo):
    o = demo["objs"]
    assert len(o["id"]) == N and len(demo["lcs"]) == N
    assert len(set(o["id"])) == N and len(set(o["name"])) >= N - 2
    assert all(n.startswith("ZTFJ") and len(n) == 22 for n in o["name"][:50])
    assert np.all(o["n_g"] == [int((lc.band == 0).sum()) for lc in demo["lcs"]])
    assert np.all(o["n_r"] == [int((lc.band == 1).sum()) for lc in demo["lcs"]])
    assert demo["runs"][-1]["stage"] == "demo" and demo["runs"][-1]["status"] == "ok"


def test_all_classes_in_cpvs_proportions(demo):
    cls = demo["objs"]["class"]
    assert set(cls) == set(CLASS_NAMES)
    frac = {c: np.mean(cls == c) for c in CLASS_NAMES}
    assert 0.44 < frac["EW"] < 0.50 and 0.13 < frac["SR"] < 0.17
    assert frac["EW"] > frac["SR"] > frac["BYDra"] > frac["EA"] > frac["CEP"]


def test_class_counts_every_class_and_exact_total():
    for n in (11, 100, 501, 20000):
        c = class_counts(n)
        assert c.sum() == n and c.min() >= 1


def test_anomalies_present_of_all_kinds(demo):
    o = demo["objs"]
    truth = o["truth_anomaly"] == 1
    assert 0.005 < truth.mean() < 0.02
    kinds = set(o["truth_kind"][truth])
    assert kinds == set(KINDS) and len(kinds) >= 4
    assert np.all(o["truth_kind"][~truth] == "")


def test_wrong_period_differs_from_truth(demo):
    o, sim = demo["objs"], demo["sim"]
    ratio = o["period"] / sim["true_period"]
    wrong = o["truth_kind"] == "wrong_period"
    assert np.all(np.abs(ratio[~wrong] - 1) < 1e-5)
    assert np.all((np.abs(ratio[wrong] - 1) > 0.07) & (np.abs(ratio[wrong] - 2) > 0.1))


def test_colour_mismatch_is_off_its_class(demo):
    o = demo["objs"]
    gr = o["mean_g"] - o["mean_r"]
    for row in np.flatnonzero(o["truth_kind"] == "colour_mismatch"):
        cls = o["class"][row]
        normal = (o["class"] == cls) & (o["truth_anomaly"] == 0)
        assert abs(gr[row] - np.median(gr[normal])) > 0.5, (cls, gr[row])


def test_phase_lag_truth_in_sim(demo):
    o, sim = demo["objs"], demo["sim"]
    lag = sim["lag_g"]
    rows = o["truth_kind"] == "phase_lag"
    assert rows.any() and np.all(lag[~rows] == 0)
    ew = rows & (o["class"] == "EW")
    # an EW repeats every half cycle: its lag sits near a quarter cycle, others 0.3-0.5
    assert np.all((lag[ew] >= 0.2) & (lag[ew] <= 0.3))
    assert np.all((lag[rows & ~ew] >= 0.3) & (lag[rows & ~ew] <= 0.5))


def test_semiregular_phase_wanders():
    """SR: the phase of a fixed-period fold drifts from cycle to cycle; RR does not."""
    from engine.simulate import cadence, lightcurves, shapes
    from engine.simulate.classes import CLASS_NAMES as NAMES

    n, rng = 40, np.random.default_rng(3)
    t = np.tile(np.linspace(cadence.MJD_START, cadence.MJD_END, 400), n)
    obj = np.repeat(np.arange(n), 400)
    ep = cadence.Epochs(obj, t, np.ones(len(t), np.uint8), np.full(len(t), 21.0))
    spread = {}
    for name in ("SR", "RR"):
        code = np.full(n, NAMES.index(name))
        par = {"period": np.full(n, 50.0), "t0": np.zeros(n), "lag_g": np.zeros(n),
               "amp_g": np.ones(n), "amp_r": np.ones(n), "mean_g": np.zeros(n),
               "mean_r": np.zeros(n), "class_code": code}
        tmpl = np.repeat(np.cos(2 * np.pi * shapes.PHASE)[None, :], n, 0).astype("f4")
        m = lightcurves.model_mags(par, ep, tmpl, rng).reshape(n, 400)
        # phase of the first harmonic in the first and last 50 days, per object
        first, last = t[:400] < cadence.MJD_START + 50, t[:400] > cadence.MJD_END - 50
        ph = [np.angle((m[:, sel] * np.exp(-2j * np.pi * t[:400][sel] / 50.0)).sum(1))
              for sel in (first, last)]
        spread[name] = np.median(np.abs(np.angle(np.exp(1j * (ph[1] - ph[0]))))) / (2 * np.pi)
    assert spread["RR"] < 0.01 and spread["SR"] > 0.05, spread


PERIOD_RANGE = {"EW": (0.2, 1), "EA": (0.5, 20), "BYDra": (1, 30), "RSCVN": (1, 50),
                # pulsators: the 0.1-99.9% period range of their OGLE-III class
                **{c: (10 ** q["log_p"][0], 10 ** q["log_p"][-1])
                   for c, q in ogle3.QUANTILES.items()}}


def test_periods_magnitudes_colours_per_class(demo):
    o, sim = demo["objs"], demo["sim"]
    normal = o["truth_anomaly"] == 0
    gr = o["mean_g"] - o["mean_r"]
    for cls, (lo, hi) in PERIOD_RANGE.items():
        m = (o["class"] == cls) & normal
        period = o["period"][m]
        assert np.all((period >= lo * (1 - 1e-9)) & (period <= hi * (1 + 1e-9))), cls
    assert np.all((o["mean_r"] >= 13.0) & (o["mean_r"] <= 20.65))
    med = {c: np.median(gr[(o["class"] == c) & normal]) for c in CLASS_NAMES}
    assert 0.2 < med["EW"] < 0.8 and 0.2 < med["RR"] < 0.55 and med["RRc"] < med["RR"]
    assert med["Mira"] > 1.5 and med["SR"] > 1.2 and med["Mira"] > med["EW"] + 1
    # pulsators: larger amplitude in g than in r
    puls = np.isin(o["class"], ["RR", "RRc", "DSCT", "CEP", "CEPII", "Mira", "SR"])
    assert np.all(sim["amp_g"][puls] > sim["amp_r"][puls])
    mira = (o["class"] == "Mira") & normal      # OGLE-III Miras: I amplitude above 0.8 mag
    lo, hi = (10 ** ogle3.QUANTILES["Mira"]["log_a"][i] for i in (0, -1))
    assert 0.79 < lo and np.all((sim["amp_r"][mira] >= lo * (1 - 1e-6))
                                & (sim["amp_r"][mira] <= hi * (1 + 1e-6)))


def test_cadence_and_errors_in_ztf_regime(demo):
    o = demo["objs"]
    assert 60 < np.median(o["n_g"]) < 150 and 100 < np.median(o["n_r"]) < 220
    assert 1.3 < np.median(o["n_r"] / np.maximum(o["n_g"], 1)) < 1.8
    t = np.concatenate([lc.time for lc in demo["lcs"]])
    assert 58193 < t.min() and t.max() < 58666     # March 2018 - June 2019
    mag = np.concatenate([lc.mag for lc in demo["lcs"]])
    err = np.concatenate([lc.magerr for lc in demo["lcs"]])
    assert np.median(err[np.abs(mag - 13.5) < 0.5]) < 0.015
    assert 0.07 < np.median(err[np.abs(mag - 20.4) < 0.15]) < 0.25
    # seasonal gaps: some objects unobserved for > 60 days
    gaps = [np.diff(np.sort(lc.time)).max() for lc in demo["lcs"][:200] if len(lc) > 2]
    assert np.median(gaps) > 60


def test_lpvs_toward_galactic_plane(demo):
    o = demo["objs"]
    _, b = icrs_to_galactic(o["ra"], o["dec"])
    lpv = np.isin(o["class"], ["Mira", "SR"])
    assert np.median(np.abs(b[lpv])) < np.median(np.abs(b[~lpv]))
    assert np.all(o["dec"] > -30.5)


def test_sim_group_context_photometry(demo):
    sim, attrs, o = demo["sim"], demo["sim_attrs"], demo["objs"]
    assert attrs["synthetic"] in (True, 1) and attrs["seed"] == 7
    for col in ("G", "BP", "RP", "distance_pc", "ebv", "ps1_g", "ps1_y", "J", "H", "Ks",
                "W1", "W2", "W3", "W4", "G_err", "W4_err", "chemistry"):
        assert col in sim and len(sim[col]) == N, col
    assert set(attrs["columns"]) == set(sim)
    chem = sim["chemistry"].astype(str)
    lpv = np.isin(o["class"], ["Mira", "SR"]) & (o["truth_kind"] != "colour_mismatch")
    assert set(chem[lpv]) == {"O", "C"} and set(chem[~lpv]) == {""}
    # the SED is consistent with the light curves: PS1 r ~ ZTF mean r (same star)
    ok = np.isfinite(sim["ps1_r"])
    assert np.median(np.abs(sim["ps1_r"][ok] - o["mean_r"][ok])) < 0.1
    # Gaia colour follows the ZTF colour, and red LPVs are bright in the infrared
    gr = o["mean_g"] - o["mean_r"]
    bprp = sim["BP"] - sim["RP"]
    fin = np.isfinite(bprp)
    assert fin.mean() > 0.95 and np.corrcoef(gr[fin], bprp[fin])[0, 1] > 0.85
    dusty = sim["tau10"] > 0
    assert dusty.sum() > 0 and np.all(lpv[dusty])
    ks_w3 = sim["Ks"] - sim["W3"]
    both = np.isfinite(ks_w3)
    assert np.nanmedian(ks_w3[dusty & both]) > np.nanmedian(ks_w3[~dusty & both & lpv]) + 0.3


def test_deterministic_byte_identical(tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    run_quiet(make_demo(a, 300, seed=3))
    run_quiet(make_demo(b, 300, seed=3))
    assert _contents(a) == _contents(b)
    c = tmp_path / "c.h5"
    run_quiet(make_demo(c, 300, seed=4))
    assert _contents(a) != _contents(c)


#: wall-clock timestamps, and the /meta digest (a checksum over "created" among others)
_TIMESTAMPS = {"created", "written", "started", "finished", "digest"}


def _contents(path) -> dict[str, bytes]:
    """Every dataset's bytes and every attribute, except the wall-clock timestamps."""
    import json
    out = {}

    def visit(name, obj):
        for k, v in obj.attrs.items():
            if k not in _TIMESTAMPS:
                out[f"{name}@{k}"] = np.asarray(v).tobytes()
        if isinstance(obj, h5py.Dataset):
            data = obj[()]
            if name == "runs/records":   # JSON records: drop only their timestamps
                data = [json.dumps({k: v for k, v in json.loads(r).items()
                                    if k not in _TIMESTAMPS}, sort_keys=True) for r in data]
                out[name] = "\n".join(data).encode()
            else:
                out[name] = np.asarray(data).tobytes() + str(obj.dtype).encode()

    with h5py.File(path, "r") as f:
        f.visititems(visit)
        for k, v in f["meta"].attrs.items():
            if k not in _TIMESTAMPS:
                out[f"meta@{k}"] = np.asarray(v).tobytes()
    return out


def test_progress_cancel_and_refusals(tmp_path):
    path = tmp_path / "x.h5"
    gen = make_demo(path, 500, seed=0)
    first = next(gen)
    assert isinstance(first, Progress) and first.total == 500
    gen.close()                       # cancel before the first chunk is written
    assert not path.exists() and not list(tmp_path.glob("*demo-tmp*"))
    run_quiet(make_demo(path, 50, seed=0))
    with pytest.raises(StoreError, match="already exists"):
        run_quiet(make_demo(path, 50, seed=0))
    with pytest.raises(PvsvetError, match="at least 1"):
        run_quiet(make_demo(tmp_path / "y.h5", 0))


def test_sky_transform_round_trip_and_names():
    l = np.array([0.0, 90.0, 180.0, 300.0])
    b = np.array([0.0, 30.0, -45.0, 89.0])
    ra, dec = galactic_to_icrs(l, b)
    l2, b2 = icrs_to_galactic(ra, dec)
    assert np.allclose(b, b2, atol=1e-9) and np.allclose(np.cos(np.radians(l - l2)), 1)
    assert abs(ra[0] - 266.405) < 0.01 and abs(dec[0] + 28.936) < 0.01   # Galactic centre
    assert iau_names(np.array([0.0034]), np.array([62.10161]), CHEN_PREFIX) == [
        "ZTFJ000000.81+620605.7"]


@pytest.mark.slow
def test_full_size_demo(tmp_path):
    path = tmp_path / "big.h5"
    run_quiet(make_demo(path, 20000, seed=0))
    with Store(path) as s:
        o = s.read_objects(["class", "truth_kind"])
    assert len(o["class"]) == 20000 and set(o["class"]) == set(CLASS_NAMES)
    assert set(o["truth_kind"]) - {""} == set(KINDS)


def test_dust_shells_drawn_are_seen_by_ztf():
    """Carbon shells of tau10 >= 0.4 sit at DUSTY's optical floor (colours of noise):
    no demo star gets one, and every dusty star stays red in g - r."""
    pytest.importorskip("desk")
    from engine.simulate.dust import ZTF_UM, DustGrid, MIN_LOG_OPTICAL

    grid = DustGrid.load()
    thin = grid.grids["O"].tau10 < 0.8
    assert grid.visible["O"][thin].all() and not grid.visible["O"].all()
    assert grid.visible["C"][grid.grids["C"].tau10 < 0.2].all()
    n = 400
    rng = np.random.default_rng(5)
    chem = np.where(np.arange(n) % 2 == 0, "C", "O")
    lam = np.array(ZTF_UM)
    shape, tau, teff, _ = grid.sample(rng.uniform(2600, 3400, n), chem,
                                      np.ones(n, bool), lam, rng)
    nu = 2.99792458e14 / lam
    assert np.all(np.log10(shape * nu) > MIN_LOG_OPTICAL)
    g_r = -2.5 * np.log10(shape[:, 0] / shape[:, 1])     # AB: m = -2.5 log L_nu + const
    assert g_r.min() > 1.0
    assert np.all(tau[chem == "C"] < 0.4) and tau[chem == "O"].max() > 0.4
