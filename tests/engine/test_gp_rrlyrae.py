"""Interpolations of the 483 real SDSS Stripe 82 RR Lyrae (Sesar et al. 2010) are physically
right, judged against the published template fits (Table 2), not against our own outputs."""
import csv

import numpy as np
import pytest

from engine.config import InterpConfig
from engine.fold import epoch_phase, phase_distance, phase_grid
from engine.gp.fast_fit import fit_fast
from engine.gp.model import prepare

BANDS = {"g": 0, "r": 1}


def _read_lc(path):
    with open(path, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["band"] in BANDS and float(r["mag"]) < 30]
    t = np.array([float(r["time"]) for r in rows])
    m = np.array([float(r["mag"]) for r in rows])
    e = np.array([float(r["magerr"]) for r in rows])
    b = np.array([BANDS[r["band"]] for r in rows], dtype=np.uint8)
    return t, m, e, b


def _table2(path):
    """Num -> (type, period d, A_g mag, epoch of max in g MJD, A_r mag) from the MRT file."""
    out = {}
    with open(path) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 23 and parts[0].isdigit():
                out[parts[0]] = (parts[1], float(parts[2]), float(parts[7]), float(parts[9]),
                                 float(parts[11]))
    return out


@pytest.fixture(scope="module")
def fitted(shared_data):
    root = shared_data / "sdss_s82_rrlyrae"
    table = _table2(root / "apj326724t2.txt")
    with open(root / "periods.csv", newline="") as fh:
        periods = {r["Num"]: (r["Type"], float(r["Per"])) for r in csv.DictReader(fh)}
    cfg = InterpConfig()
    nums, data = [], []
    for num, (_, per) in sorted(periods.items()):
        d, flag, _ = prepare(*_read_lc(root / "light-curves" / f"{num}.csv"), per, cfg.min_points)
        if d is not None and num in table:
            nums.append(num)
            data.append(d)
    mean, std, hyper, _, status, _ = fit_fast(data, cfg, phase_grid(160))
    mags = mean + np.array([d.offset for d in data])[:, :, None]
    return nums, mags, status, table, periods


def test_almost_all_fit(fitted):
    nums, _, status, _, periods = fitted
    assert len(nums) >= 470 and len(periods) == 483
    assert np.mean(status == 0) > 0.98


def test_g_amplitude_matches_published_template(fitted):
    nums, mags, status, table, _ = fitted
    ok = status == 0
    amp_gp = np.ptp(mags[ok, 0], axis=1)
    amp_pub = np.array([table[n][2] for n, k in zip(nums, ok) if k])
    assert np.corrcoef(amp_gp, amp_pub)[0, 1] > 0.9
    assert 0.85 < np.median(amp_gp / amp_pub) < 1.05   # GP smooths the sharp maximum a little


def test_g_amplitude_exceeds_r(fitted):
    nums, mags, status, table, _ = fitted
    ok = status == 0
    amp = np.ptp(mags[ok], axis=2)
    assert np.mean(amp[:, 0] > amp[:, 1]) > 0.95
    ratio_pub = np.median([table[n][4] / table[n][2] for n, k in zip(nums, ok) if k])
    assert np.median(amp[:, 1] / amp[:, 0]) == pytest.approx(ratio_pub, abs=0.05)


def test_phase_of_maximum_matches_published_epoch(fitted):
    nums, mags, status, table, _ = fitted
    ok = status == 0
    grid = phase_grid(160)
    phase_gp = grid[np.argmin(mags[ok, 0], axis=1)]   # maximum light = smallest magnitude
    phase_pub = np.array([epoch_phase(table[n][3], table[n][1]) for n, k in zip(nums, ok) if k])
    dist = phase_distance(phase_gp, phase_pub)
    assert np.median(dist) < 0.02
    assert np.mean(dist < 0.05) > 0.9


def test_rrab_rise_faster_than_decline(fitted):
    nums, mags, status, _, periods = fitted
    grid = phase_grid(160)
    rise = []
    for n, m, st in zip(nums, mags[:, 0], status):
        if st == 0:
            t_max, t_min = grid[np.argmin(m)], grid[np.argmax(m)]
            rise.append(((t_max - t_min) % 1.0, periods[n][0]))
    frac = np.array([r for r, _ in rise])
    kind = np.array([k for _, k in rise])
    assert np.median(frac[kind == "ab"]) < 0.3          # RRab: steep rise, slow decline
    assert np.mean(frac[kind == "ab"] < 0.5) > 0.95
    assert np.median(frac[kind == "c"]) > np.median(frac[kind == "ab"])   # RRc more symmetric
