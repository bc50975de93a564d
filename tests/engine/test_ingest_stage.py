"""The ingest stage end to end: matching, bad inputs, duplicates, appends, cancel, CLI."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.ingest import cli, configure_parser
from engine.config import IngestConfig
from engine.errors import IngestError
from engine.ingest import EXCLUDING, ingest
from engine.progress import Progress, run_quiet
from engine.store import BAND_CODE, Status, Store

DATA = Path(__file__).resolve().parents[1] / "data" / "ingest"
TABLE2 = DATA / "chen_table2_mini.txt"


def write_chen(path: Path, source_id: int, n_g: int = 20, n_r: int = 25, seed: int = 0) -> Path:
    """A Chen CPVS-format light curve (BOM, HJD, flag 0) of a 0.5 d sinusoid."""
    rng = np.random.default_rng(seed)
    lines = ["\ufeffSourceID,RAdeg,DEdeg,HJD,mag,e_mag,flag,band"]
    for band, n, m0 in (("g", n_g, 16.5), ("r", n_r, 16.1)):
        t = np.sort(rng.uniform(58200, 58700, n))
        mag = m0 + 0.3 * np.sin(2 * np.pi * t / 0.5) + rng.normal(0, 0.02, n)
        lines += [f"{source_id},15.5,5.1,{ti:.5f},{mi:.3f},0.020,0,{band}"
                  for ti, mi in zip(t, mag)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def lcdir(tmp_path) -> Path:
    d = tmp_path / "lcs"
    d.mkdir()
    write_chen(d / "SourceID_101.csv", 101, seed=1)
    write_chen(d / "SourceID_102.csv", 102, seed=2)
    write_chen(d / "SourceID_103.csv", 103, n_g=5, seed=3)   # FEW_POINTS in g
    write_chen(d / "SourceID_999.csv", 999, seed=4)          # not in the catalogue
    return d


def objects(path) -> dict:
    with Store(path) as st:
        return st.read_objects()


def test_table2_catalogue_and_chen_files(tmp_path, lcdir):
    summary = run_quiet(ingest(tmp_path / "s.h5", TABLE2, [str(lcdir)]))
    o = objects(tmp_path / "s.h5")
    assert list(o["id"]) == ["101", "102", "103", "999"]
    assert o["name"][0] == "ZTFJ010203.04+050607.0"        # the catalogue's name
    assert o["name"][3] == "ZTF J010200.00+050600.0"       # made from the file's position
    np.testing.assert_allclose(o["period"][:3], [0.5123456, 0.0, 312.5])
    assert list(o["class"][:3]) == ["RR", "EW", "Mira"]
    assert o["ra"][0] == pytest.approx(15.51267)           # catalogue beats the file
    assert list(o["status"]) == [0, Status.BAD_PERIOD, Status.FEW_POINTS, Status.BAD_PERIOD]
    assert o["status_msg"][1].startswith("period 0 d is not positive")
    assert "no row in catalogue" in o["status_msg"][3]
    assert (o["n_g"][0], o["n_r"][0], o["n_g"][2]) == (20, 25, 5)
    assert summary["catalog_rows_without_lightcurve"] == 1           # SourceID 104
    assert summary["catalog_ids_without_lightcurve"] == ["104"]
    assert summary["objects_without_catalog_row"] == 1
    assert any(p.startswith("999 (SourceID_999.csv): no catalogue row") for p in summary["problems"])
    assert summary["stored"] == 4 and summary["stored_ok"] == 1
    assert summary["flagged"] == {"BAD_PERIOD": 2, "FEW_POINTS": 1}
    assert summary["stored_usable"] == 1


def test_unmatched_files_can_be_skipped(tmp_path, lcdir):
    summary = run_quiet(ingest(tmp_path / "s.h5", TABLE2, [str(lcdir)], unmatched="skip"))
    assert list(objects(tmp_path / "s.h5")["id"]) == ["101", "102", "103"]
    assert summary["skipped"] == {"no catalogue row": 1}
    assert any("999" in p for p in summary["problems"])


def test_light_curves_round_trip(tmp_path, lcdir):
    run_quiet(ingest(tmp_path / "s.h5", TABLE2, [str(lcdir / "SourceID_101.csv")], fmt="chen"))
    text = (lcdir / "SourceID_101.csv").read_text(encoding="utf-8-sig").split("\n")[1:-1]
    rows = np.array([r.split(",")[3:6] for r in text], float)
    with Store(tmp_path / "s.h5") as st:
        lc = st.lightcurve(0)
    order = np.argsort(rows[:, 0], kind="stable")
    np.testing.assert_allclose(lc.time, rows[order, 0])
    np.testing.assert_allclose(lc.mag, rows[order, 1], atol=1e-6)
    assert set(lc.band) == {BAND_CODE["g"], BAND_CODE["r"]}


def test_bad_files_are_reported_and_the_rest_completes(tmp_path, lcdir):
    (lcdir / "broken.csv").write_bytes(b"\xff\xfe\x00garbage")
    shutil.copy(DATA / "missing_magerr.csv", lcdir / "nomagerr.csv")
    (lcdir / "header_only.csv").write_text("time,mag,magerr,band\n")
    summary = run_quiet(ingest(tmp_path / "s.h5", TABLE2, [str(lcdir), str(tmp_path / "nope")]))
    assert summary["files_failed"] == 3                      # broken, nomagerr, nope
    problems = "\n".join(summary["problems"])
    assert "broken.csv" in problems and "not a UTF-8 text file" in problems
    assert "nomagerr.csv" in problems and "no magerr column" in problems
    assert "nope" in problems and "no such file" in problems
    o = objects(tmp_path / "s.h5")
    assert {"101", "102", "103", "999"} <= set(o["id"])
    empty = o["status"][list(o["id"]).index("header_only")]   # 0 points: both bands missing
    assert empty & Status.MISSING_BAND


def test_bad_values_and_bands_are_flagged_per_object(tmp_path):
    cat = tmp_path / "cat.csv"
    cat.write_text("id,period,class\nbands_mixed,0.7,RR\n")
    run_quiet(ingest(tmp_path / "s.h5", cat, [str(DATA / "bands_mixed.csv")]))
    o = objects(tmp_path / "s.h5")
    st = Status(int(o["status"][0]))
    assert st == (Status.BAD_VALUES | Status.DUPLICATE_TIMES | Status.OTHER_BANDS
                  | Status.FEW_POINTS)
    msg = o["status_msg"][0]
    for part in ("malformed", "NaN/inf", "sorted", "merged", "'V'", "only 3 g points"):
        assert part in msg


def write_csv(path: Path, n: int = 12, seed: int = 0) -> Path:
    """A plain time,mag,magerr,band file with n points in g and in r."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(58200, 58700, 2 * n))
    bands = ["g", "r"] * n
    rows = [f"{ti:.5f},{16 + 0.1 * np.sin(ti):.3f},0.03,{b}" for ti, b in zip(t, bands)]
    path.write_text("time,mag,magerr,band\n" + "\n".join(rows) + "\n")
    return path


def test_bad_periods_are_flagged(tmp_path):
    for i, oid in enumerate(("a1", "a2", "a3", "a4")):
        write_csv(tmp_path / f"{oid}.csv", seed=i)
    summary = run_quiet(ingest(tmp_path / "s.h5", DATA / "catalog_mapped.csv",
                               [str(tmp_path / "a*.csv")], fmt="csv",
                               columns={"id": "Num", "period": "Per", "class": "Type"},
                               class_map={"ab": "RR", "c": "RRc"}))
    o = objects(tmp_path / "s.h5")
    assert list(o["id"]) == ["a1", "a2", "a3", "a4"]
    assert [int(s) for s in o["status"]] == [0, Status.BAD_PERIOD, Status.BAD_PERIOD, 0]
    assert o["status_msg"][1] == "period -1 d is not positive"
    assert o["status_msg"][2] == "no period"
    assert list(o["class"]) == ["RR", "RRc", "RR", "EW"]
    assert o["name"][0] == "ZTF J082947.59+335422.8"
    assert summary["flagged"] == {"BAD_PERIOD": 2}
    assert any("a1" in p and "duplicate catalogue id" in p for p in summary["problems"])


def test_duplicate_ids_in_input_and_store_are_skipped(tmp_path, lcdir):
    write_chen(lcdir / "copy_of_101.csv", 101, seed=9)      # the same id again
    first = run_quiet(ingest(tmp_path / "s.h5", TABLE2, [str(lcdir)]))
    assert first["skipped"] == {"duplicate id": 1} and first["stored"] == 4
    o = objects(tmp_path / "s.h5")
    assert sorted(o["id"]) == ["101", "102", "103", "999"]
    # a second ingest appends the new object and skips everything already stored
    more = tmp_path / "more"
    more.mkdir()
    write_chen(more / "SourceID_104.csv", 104, seed=5)
    write_chen(more / "SourceID_102.csv", 102, seed=6)
    second = run_quiet(ingest(tmp_path / "s.h5", TABLE2, [str(more)]))
    assert second["stored"] == 1 and second["skipped"] == {"duplicate id": 1}
    o = objects(tmp_path / "s.h5")
    assert len(o["id"]) == 5 and len(set(o["id"])) == 5 and o["id"][4] == "104"
    assert o["class"][4] == "EA"
    with Store(tmp_path / "s.h5") as st:
        assert len(st.runs("ingest")) == 2


def test_batches_and_cancel_keep_finished_work(tmp_path):
    d = tmp_path / "many"
    d.mkdir()
    for i in range(9):
        write_chen(d / f"{i}.csv", 1000 + i, seed=i)
    cfg = IngestConfig(batch_size=2)
    gen = ingest(tmp_path / "s.h5", None, [str(d)], cfg=cfg)
    progress = [next(gen)]
    # run until the first batch is committed, then cancel
    while True:
        if (tmp_path / "s.h5").exists():
            with Store(tmp_path / "s.h5") as st:
                if st.n_objects:
                    break
        progress.append(next(gen))
    gen.close()
    assert all(isinstance(p, Progress) and p.stage == "ingest" for p in progress)
    with Store(tmp_path / "s.h5") as st:
        n_kept = st.n_objects
        assert n_kept % 2 == 0 and 0 < n_kept < 9
        assert not st.runs("ingest")                      # no run record for a cancelled run
    summary = run_quiet(ingest(tmp_path / "s.h5", None, [str(d)], cfg=cfg))
    assert summary["stored"] == 9 - n_kept and summary["skipped_total"] == n_kept
    o = objects(tmp_path / "s.h5")
    assert sorted(o["id"]) == [str(1000 + i) for i in range(9)]


def test_no_files_is_an_error(tmp_path):
    with pytest.raises(IngestError, match="no light-curve files"):
        run_quiet(ingest(tmp_path / "s.h5", None, [str(tmp_path / "absent")]))


def test_excluding_flags():
    assert EXCLUDING & Status.REJECTED_CUT and EXCLUDING & Status.BAD_PERIOD
    assert not EXCLUDING & (Status.BAD_VALUES | Status.DUPLICATE_TIMES | Status.OTHER_BANDS)


def run_cli(argv: list[str]) -> int:
    """``pvsvet-engine ingest ARGV`` through this command's own parser and handler."""
    import argparse

    parser = argparse.ArgumentParser()
    configure_parser(parser)
    return cli(parser.parse_args(argv))


def test_cli_json_summary_and_report(tmp_path, lcdir, capsys):
    report = tmp_path / "report.tsv"
    rc = run_cli([str(tmp_path / "s.h5"), "--catalog", str(TABLE2), "--lightcurves",
               str(lcdir / "*.csv"), "--format", "chen", "--json", "--report", str(report)])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["stored"] == 4 and summary["files"] == 4
    lines = report.read_text().splitlines()
    assert lines[0] == "what\tid_or_file\treason"
    assert any(ln.startswith("flagged BAD_PERIOD\t102") for ln in lines)
    assert any("catalogue row without light curve" in ln and "\t104\t" in ln for ln in lines)


def test_cli_bad_catalogue_raises_a_pvsvet_error(tmp_path, lcdir):
    # engine.cli prints PvsvetError messages as one line with exit code 1
    with pytest.raises(IngestError, match="catalog_mapped.csv: no column 'Number' "
                       r"\(mapped to id\)"):
        run_cli([str(tmp_path / "s.h5"), "--catalog", str(DATA / "catalog_mapped.csv"),
                 "--columns", "id=Number", "--lightcurves", str(lcdir), "--quiet"])
    assert not (tmp_path / "s.h5").exists()          # nothing created for a bad catalogue


def test_pvsvet_engine_ingest_bad_input_exits_1_with_one_line(tmp_path, lcdir, capsys):
    from engine.cli import main

    rc = main(["ingest", str(tmp_path / "s.h5"), "--catalog", str(tmp_path / "absent.csv"),
               "--lightcurves", str(lcdir)])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1
    assert err.endswith("absent.csv: catalogue file not found")
