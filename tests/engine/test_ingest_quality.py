"""Cleaning rules, the paper's detection cut, derived columns and IAU names."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.config import IngestConfig
from engine.ingest.formats import RawObject, reader_for
from engine.ingest.quality import check_period, clean, merge_duplicates, significance
from engine.names import iau_name
from engine.store import BAND_CODE, LightCurve, Status

DATA = Path(__file__).resolve().parents[1] / "data" / "ingest"
G, R = BAND_CODE["g"], BAND_CODE["r"]
CFG = IngestConfig()


def raw(n_g=12, n_r=12, err_g=0.02, err_r=0.02, seed=0, **kw) -> RawObject:
    """A clean two-band object with n_g + n_r points."""
    rng = np.random.default_rng(seed)
    time = np.sort(rng.uniform(58000, 58500, n_g + n_r))
    band = np.array([G] * n_g + [R] * n_r, "u1")[rng.permutation(n_g + n_r)]
    mag = np.where(band == G, 16.5, 16.0) + rng.normal(0, 0.01, n_g + n_r)
    err = np.where(band == G, err_g, err_r).astype("f8")
    return RawObject("x.csv", "x", 10.0, 20.0, time, mag, err, band, **kw)


def test_clean_object_has_no_flags_and_median_means():
    obj = raw()
    c = clean(obj, CFG)
    assert c.status == 0 and c.notes == []
    assert (c.n_g, c.n_r) == (12, 12)
    assert c.mean_g == pytest.approx(np.median(obj.mag[obj.band == G]))
    assert c.mean_r == pytest.approx(np.median(obj.mag[obj.band == R]))


def test_nan_inf_and_sentinel_values_are_dropped_and_flagged():
    obj = raw(n_g=15, n_r=15)
    obj.mag[[0, 1]] = [np.nan, 99.999]
    obj.magerr[2] = np.inf
    obj.magerr[3] = 0.0
    obj.time[4] = np.nan
    c = clean(obj, CFG)
    assert c.status == Status.BAD_VALUES
    assert len(c.lc) == 30 - 5 and np.isfinite(c.lc.mag).all() and (c.lc.mag < 30).all()
    assert "5 points with NaN/inf" in c.notes[0]


def test_unsorted_times_are_sorted_and_noted():
    obj = raw()
    order = np.random.default_rng(1).permutation(24)
    shuffled = RawObject("x", "x", 0, 0, obj.time[order], obj.mag[order], obj.magerr[order],
                         obj.band[order])
    c = clean(shuffled, CFG)
    assert np.all(np.diff(c.lc.time) >= 0) and c.status == 0
    np.testing.assert_array_equal(c.lc.time, obj.time)
    np.testing.assert_array_equal(c.lc.mag, obj.mag)
    assert "times were not sorted; sorted" in c.notes


def test_duplicated_times_merge_by_inverse_variance():
    lc = LightCurve(np.array([1.0, 2.0, 2.0, 2.0, 3.0]), np.array([10., 11., 12., 13., 14.]),
                    np.array([.1, .1, .2, .1, .1]), np.array([G, G, G, R, G], "u1"))
    merged, n = merge_duplicates(lc)
    assert n == 1                                   # g at t=2 twice; r at t=2 is another band
    assert list(merged.time) == [1.0, 2.0, 2.0, 3.0] and list(merged.band) == [G, G, R, G]
    w = np.array([100.0, 25.0])
    assert merged.mag[1] == pytest.approx((w * [11, 12]).sum() / w.sum())
    assert merged.magerr[1] == pytest.approx(1 / np.sqrt(w.sum()))
    obj = raw()
    obj.time[5] = obj.time[6]
    obj.band[5] = obj.band[6]
    c = clean(obj, CFG)
    assert c.status == Status.DUPLICATE_TIMES and "1 points at repeated times merged" in c.notes


def test_few_points_and_missing_band():
    c = clean(raw(n_g=9), CFG)
    assert c.status == Status.FEW_POINTS and "only 9 g points (< 10)" in c.notes
    c = clean(raw(n_g=0), CFG)
    assert c.status == Status.MISSING_BAND and c.notes == ["no g points"]
    assert np.isnan(c.mean_g) and c.n_g == 0


@pytest.mark.parametrize("err_g, err_r, rejected", [
    (0.434, 0.361, False),          # 1.0857/0.434 = 2.502 sigma, 1.0857/0.361 = 3.007 sigma
    (0.435, 0.361, True),           # g: 2.496 sigma
    (0.434, 0.362, True),           # r: 2.999 sigma
])
def test_detection_cut_thresholds(err_g, err_r, rejected):
    c = clean(raw(err_g=err_g, err_r=err_r), CFG)
    assert bool(c.status & Status.REJECTED_CUT) is rejected
    assert c.status & ~Status.REJECTED_CUT == 0


def test_significance_is_1_0857_over_magerr():
    assert significance(np.array([1.0857 / 3]))[0] == pytest.approx(3.0, rel=1e-4)


def test_other_bands_kept_but_flagged():
    (obj,) = reader_for("csv")(DATA / "bands_mixed.csv")
    c = clean(obj, CFG)
    assert c.lc.band.tolist().count(BAND_CODE["u"]) == 1
    assert c.lc.band.tolist().count(BAND_CODE["other"]) == 2
    for flag in (Status.OTHER_BANDS, Status.BAD_VALUES, Status.DUPLICATE_TIMES,
                 Status.FEW_POINTS):
        assert c.status & flag
    assert (c.n_g, c.n_r) == (3, 2)                 # 4 g with one merged pair; 6 r minus 4 bad
    assert any("unknown band label(s) 'V'" in n for n in c.notes)
    assert c.mean_g == pytest.approx(np.median([16.10, (2500 * 16.2 + 625 * 16.4) / 3125, 16.30]))


def test_check_period():
    assert check_period(0.5) == ""
    assert "not positive" in check_period(0.0) and "not positive" in check_period(-2.0)
    assert check_period(np.nan) == "no period"


def test_iau_names_truncate():
    # Chen's name of SourceID 1 (ZTFJ000000.13+620605.8) from its light-curve position
    assert iau_name(0.0005663, 62.1016311) == "ZTF J000000.13+620605.8"
    assert iau_name(127.44829, 33.906333) == "ZTF J082947.58+335422.7"   # 47.5896 s
    assert iau_name(359.9999999, -0.5) == "ZTF J235959.99-003000.0"
    assert iau_name(np.nan, 1.0) == ""
