"""Real survey files in ../shared/data ingest with the counts their SOURCE.md files state."""
from __future__ import annotations

import re

import numpy as np
import pytest

from engine.ingest import ingest
from engine.progress import run_quiet
from engine.store import BAND_CODE, Status, Store

G, R = BAND_CODE["g"], BAND_CODE["r"]


def read(path):
    with Store(path) as st:
        objs = st.read_objects()
        lcs = st.lightcurves(0, st.n_objects)
    return objs, lcs


def test_stripe82_rr_lyrae(shared_data, tmp_path):
    d = shared_data / "sdss_s82_rrlyrae"
    summary = run_quiet(ingest(tmp_path / "s.h5", d / "periods.csv", [str(d / "light-curves")],
                               columns={"id": "Num", "period": "Per", "class": "Type"},
                               class_map={"ab": "RR", "c": "RRc"}))
    o, lcs = read(tmp_path / "s.h5")
    assert summary["stored"] == 483 and summary["files_failed"] == 0
    assert summary["catalog_rows_without_lightcurve"] == 0
    classes, counts = np.unique(o["class"], return_counts=True)
    assert dict(zip(classes, counts)) == {"RR": 379, "RRc": 104}
    assert o["period"].min() == pytest.approx(0.254, abs=1e-3)
    assert o["period"].max() == pytest.approx(0.907, abs=1e-3)
    # u, i, z stay in the store, out of the two-band pipeline
    assert all(o["status"] & Status.OTHER_BANDS)
    assert {BAND_CODE[b] for b in "uiz"} <= set(np.concatenate([lc.band for lc in lcs]))
    assert not np.any(o["status"] & (Status.BAD_PERIOD | Status.MISSING_BAND
                                     | Status.REJECTED_CUT))
    # the 54 missing-value rows (mag 99.99) are dropped, everything else is kept
    dropped = sum(int(m) for m in re.findall(r"(\d+) points with NaN", " ".join(o["status_msg"])))
    merged = sum(int(m) for m in re.findall(r"(\d+) points at repeated", " ".join(o["status_msg"])))
    assert dropped == 54
    assert sum(len(lc) for lc in lcs) == 136_196 - 54 - merged
    assert np.median(o["n_g"]) == 56


def test_chen_cpvs_files(shared_data, tmp_path):
    d = shared_data / "ztf_samples" / "chen2020_lc_format"
    run_quiet(ingest(tmp_path / "s.h5", None, [str(d)], fmt="auto"))
    o, _ = read(tmp_path / "s.h5")
    got = {i: (g, r) for i, g, r in zip(o["id"], o["n_g"], o["n_r"])}
    assert got == {"1": (131, 264), "7": (256, 318)}
    assert o["name"][list(o["id"]).index("1")] == "ZTF J000000.13+620605.8"   # Chen's ID
    assert all(o["status"] == Status.BAD_PERIOD)       # no catalogue offline: no period


def test_ztf_dr_files_are_r_only(shared_data, tmp_path):
    d = shared_data / "ztf_samples" / "ztf_dr_format"
    summary = run_quiet(ingest(tmp_path / "s.h5", None, [str(d / "*.csv")], fmt="ztf-dr"))
    o, lcs = read(tmp_path / "s.h5")
    assert sorted(o["id"]) == ["640202200001881", "742201400001054", "742201400001066"]
    assert all(o["n_g"] == 0) and all(90 <= n <= 110 for n in o["n_r"])
    assert all(o["status"] & Status.MISSING_BAND)
    assert summary["flagged"]["MISSING_BAND"] == 3
    assert all((lc.band == R).all() for lc in lcs)


def test_alerce_detections(shared_data, tmp_path):
    d = shared_data / "ztf_samples" / "alerce_alert_detections"
    summary = run_quiet(ingest(tmp_path / "s.h5", d / "object_info_sample.parquet",
                               [str(d / "detections_sample.parquet")]))
    o, lcs = read(tmp_path / "s.h5")
    assert summary["objects_read"] == 10 and summary["stored"] == 10
    assert summary["catalog_rows_without_lightcurve"] == 0
    import pyarrow.parquet as pq

    t = pq.read_table(d / "detections_sample.parquet",
                      columns=["oid", "mjd", "fid", "magpsf_corr"]).to_pydict()
    keys = {(a, b, c) for a, b, c, m in zip(t["oid"], t["mjd"], t["fid"], t["magpsf_corr"])
            if m is not None and np.isfinite(m)}
    assert sum(len(lc) for lc in lcs) == len(keys)       # de-duplicated on (oid, mjd, fid)
    assert len(keys) < len(t["oid"]) / 2 + 10             # the file holds every row twice
    for lc in lcs:
        assert set(lc.band) <= {G, R} and np.all(np.diff(lc.time) >= 0)


def test_ztf_bts_sn_ia(shared_data, tmp_path):
    d = shared_data / "ztf_bts_snia"
    summary = run_quiet(ingest(tmp_path / "s.h5", d / "bts.csv", [str(d / "light-curves")],
                               columns={"id": "ZTFID", "ra": "RA", "dec": "Dec",
                                        "class": "type"}))
    o, lcs = read(tmp_path / "s.h5")
    assert summary["stored"] == 2289 and summary["files_failed"] == 0
    assert summary["objects_without_catalog_row"] == 0
    assert all(o["status"] & Status.BAD_PERIOD)          # transients: no period
    assert set(o["class"]) >= {"SN Ia"}
    assert (o["n_r"] > 0).mean() > 0.95                  # the capital "R" is ZTF r
    first = list(o["id"]).index("ZTF17aadlxmv")
    assert o["ra"][first] == pytest.approx(127.448292, abs=1e-5)   # 08:29:47.59
    assert o["name"][first] == "ZTF J082947.59+335422.8"
