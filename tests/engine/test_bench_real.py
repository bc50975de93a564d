"""``bench real``: the builders of real anomalies, the SNAD101 fixture, the figures."""
import argparse

import numpy as np
import pytest

from engine.benchmarks import real, real_data as R
from engine.benchmarks.real import _space_figures

FIXTURE = real.REPO / "tests" / "data" / "real" / "snad101_ztf_dr8.csv"


def _star(i=0, n=120, period=0.55, seed=0):
    rng = np.random.default_rng(seed + i)
    t = np.sort(rng.uniform(51000, 54000, n))
    band = np.where(np.arange(n) % 2, "r", "g")
    mag = 17 + 0.4 * np.sin(2 * np.pi * t / period) + rng.normal(0, 0.02, n)
    return R.RealCurve(f"s{i}", t, mag, np.full(n, 0.02), band, period, "RR", source="test")


def test_period_builders_change_only_the_period():
    rng = np.random.default_rng(1)
    c = _star()
    for _ in range(50):
        w = R.wrong_period(c, rng)
        ratio = w.period / c.period
        assert 10 ** 0.15 <= max(ratio, 1 / ratio) <= 10 and w.kind == "wrong_period"
        # never an alias: not within 2% of p/q for p, q <= 3
        assert min(abs(ratio * q / p - 1) for p in (1, 2, 3) for q in (1, 2, 3)) > 0.02
    assert R.alias(c, "alias_2P").period == pytest.approx(1.1)
    assert R.alias(c, "alias_P/2").period == pytest.approx(0.275)
    assert R.alias(c, "alias_1d").period == pytest.approx(1 / (1 / 0.55 - 1))
    np.testing.assert_array_equal(R.alias(c, "alias_2P").mag, c.mag)


def test_band_builders_mix_two_real_stars():
    a, b = _star(0), _star(1, period=0.31)
    m = R.mismatched_bands(a, b)
    np.testing.assert_array_equal(np.sort(m.time[m.in_band("g")]), np.sort(a.time[a.in_band("g")]))
    np.testing.assert_array_equal(np.sort(m.time[m.in_band("r")]), np.sort(b.time[b.in_band("r")]))
    assert m.period == a.period and m.kind == "mismatched_bands"
    bl = R.blend(a, b, np.random.default_rng(0))
    # two fluxes: brighter than a alone at every epoch, by 0.3-0.75 mag for 0-0.7 mag offsets
    assert (bl.mag < a.mag).all() and 0.2 < np.median(a.mag - bl.mag) < 0.8


def test_eclipses_and_fades_add_dimming_events():
    rng = np.random.default_rng(2)
    c = _star()
    e = R.eclipses(c, rng)
    down = e.mag - c.mag
    assert (down >= 0).all() and down.max() >= 0.4
    assert all(((down > 0.2) & c.in_band(b)).sum() >= 3 for b in "gr")
    f = R.fade(c, rng)
    assert (f.mag >= c.mag).all() and (f.mag - c.mag > 0.3).sum() >= 5
    # a curve too sparse for any eclipse to be seen gives None, not a silent normal star
    assert R.eclipses(_star(n=4), rng, tries=5) is None


def test_build_anomalies_uses_each_star_once_and_leaves_the_rest_as_normals():
    stars = [_star(i) for i in range(40)]
    made, rest = R.build_anomalies(stars, 2, np.random.default_rng(0))
    kinds = [c.kind for c in made]
    assert {k: kinds.count(k) for k in set(kinds)} == {k: 2 for k in R.KINDS[:8]}
    used = {c.id.split("-")[0] for c in made}
    # 8 kinds x 2, the two pair kinds take a second star each: 20 stars used, 20 left
    assert len(used) == 16 and len(rest) == 20 and used.isdisjoint({c.id for c in rest})


def test_transient_takes_a_periodic_stars_period_and_class():
    sn = R.RealCurve("bts-x", np.arange(30.0), np.full(30, 18.0), np.full(30, 0.1),
                     np.array(["g", "R"] * 15), np.nan, "")
    t = R.transient(sn, 312.5, "SR")
    assert (t.period, t.cls, t.kind) == (312.5, "SR", "transient")


def test_snad101_fixture_is_real_ztf_g_and_r_with_its_source():
    text = FIXTURE.read_text()
    assert "2388baf23943590bd75d85537b763149a6a0465d" in text and "MIT" in text
    c = R.read_snad101(FIXTURE)
    assert (c.in_band("g").sum(), c.in_band("r").sum()) == (286, 365)
    assert c.kind == "snad101" and 0.1 <= c.period <= 500
    assert 58190 < c.time.min() and c.time.max() - c.time.min() > 1000


def test_csv_reader_drops_missing_value_sentinels(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("# comment\ntime,mag,magerr,band\n1.0,17.0,0.01,g\n2.0,99.99,99.999,r\n"
                 "3.0,17.2,0.02,r\n")
    t, m, e, b = R.read_csv_curve(p)
    assert t.tolist() == [1.0, 3.0] and b.tolist() == ["g", "r"]


def test_figures_count_real_anomalies_normals_and_the_demo_in_the_same_ranking():
    n = 1000
    rank = np.arange(1, n + 1)                 # row i ranked i + 1
    rank[999] = 0                              # one unscored (cut at ingest)
    rows = np.array([0, 1, 2, 3, 500, 998, 999])
    kinds = np.array(["fade", "fade", "blend", "", "", "blend", "transient"])
    demo = np.zeros(n, bool)
    demo[[4, 5, 900]] = True
    rank[998] = 0                              # one that passed ingest, left unscored
    ingested = rows != 999
    f = _space_figures(rank, rows, kinds, demo, ingested)
    t5 = f["top5%"]
    assert f["n_scored"] == 998 and f["unscored_real"] == {"blend": 1, "transient": 1}
    # 3 of the 3 scored anomalies are in the top 5%; of the 4 that passed ingest, 3
    assert t5["real_anomaly_recall"] == 1.0 and t5["by_kind"]["blend"] == 1.0
    assert t5["real_anomaly_recall_ingested"] == 0.75
    # among the real curves alone (the transient cut at ingest left out): anomalies at
    # ranks 1, 2, 3 and unscored, normals at 4 and 501: 6 of the 8 pairs ordered right
    real = f["real_only"]
    assert real["auc"] == 0.75 and real["above_normal_2"] == 0.75
    assert real["average_precision"] == pytest.approx((1 + 1 + 1 + 4 / 6) / 4, abs=1e-4)
    assert "above_normal_5" not in real                 # there are two normal stars
    assert t5["real_normal_share"] == 0.5 and f["top2%"]["demo_recall"] == pytest.approx(0.6667)
    assert f["meets_target"] is False


def test_demo_recall_ranks_the_demo_among_itself_not_behind_the_real_anomalies():
    # 1,000 demo objects then 30 real anomalies ranked first: the demo's anomalies at
    # demo ranks 1..10 are its top 1% alone, but all lie beyond the store's top 2%
    n_demo, n_real = 1000, 30
    rank = np.concatenate([np.arange(1, n_demo + 1) + n_real, np.arange(1, n_real + 1)])
    rows = np.arange(n_demo, n_demo + n_real)
    kinds = np.array(["fade"] * n_real)
    demo = np.zeros(n_demo + n_real, bool)
    demo[:10] = True
    demo[500] = True                                   # and one far down
    f = _space_figures(rank, rows, kinds, demo)
    assert f["top5%"]["real_anomaly_recall"] == 1.0 and f["top2%"]["real_anomaly_recall"] == 0.7
    assert f["top2%"]["demo_recall"] == pytest.approx(10 / 11, abs=1e-4)
    assert f["top2%"]["demo_recall_with_real"] == 0.0   # 21 places, all taken by real ones
    assert f["top1%"]["demo_recall"] == pytest.approx(10 / 11, abs=1e-4)


def test_bench_real_skips_cleanly_without_the_data(tmp_path):
    p = argparse.ArgumentParser()
    real.configure(p)
    out = real.run(p.parse_args(["--data", str(tmp_path)]))
    assert "skipped" in out and str(tmp_path) in out["skipped"]
