"""Light-curve readers, format sniffing, band labels and catalogue readers."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.errors import IngestError
from engine.ingest.bands import band_codes, fid_codes
from engine.ingest.catalog import parse_mapping, read_catalog
from engine.ingest.formats import expand_paths, read_alerce, reader_for, sniff
from engine.store import BAND_CODE, Status

DATA = Path(__file__).resolve().parents[1] / "data" / "ingest"
G, R = BAND_CODE["g"], BAND_CODE["r"]


def write_alerce(path: Path) -> Path:
    """A tiny ALeRCE detections parquet: two objects, one repeated row, one uncorrected."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [("ZTF1", 58300.1, 1, 17.0, 0.05, 15.0, 0.02, 10.0, 20.0),
            ("ZTF1", 58300.1, 1, 17.0, 0.05, 15.0, 0.02, 10.0, 20.0),   # repeated
            ("ZTF1", 58300.2, 2, 17.5, 0.05, 14.5, 0.02, 10.0, 20.0),
            ("ZTF1", 58300.3, 2, 17.6, 0.05, np.nan, np.nan, 10.0, 20.0),  # uncorrected
            ("ZTF2", 58301.1, 1, 18.0, 0.05, np.nan, np.nan, 30.0, -5.0),
            ("ZTF2", 58301.2, 3, 18.2, 0.05, np.nan, np.nan, 30.0, -5.0)]
    names = ["oid", "mjd", "fid", "magpsf", "sigmapsf", "magpsf_corr", "sigmapsf_corr", "ra",
             "dec"]
    cols = list(zip(*rows))
    pq.write_table(pa.table({n: list(c) for n, c in zip(names, cols)}), path)
    return path


# -- sniffing -------------------------------------------------------------------------
def test_sniff_recognises_each_format(tmp_path):
    assert sniff(DATA / "chen_flagged.csv") == "chen"
    assert sniff(DATA / "ztf_dr_catflags.csv") == "ztf-dr"
    assert sniff(DATA / "bands_mixed.csv") == "csv"
    assert sniff(write_alerce(tmp_path / "d.parquet")) == "alerce"


def test_sniff_unknown_header_names_the_file(tmp_path):
    bad = tmp_path / "weird.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(IngestError, match="weird.csv: unknown light-curve format"):
        sniff(bad)


# -- readers -----------------------------------------------------------------------------
def test_chen_reader_drops_flagged_points_and_takes_median_position():
    (obj,) = reader_for("chen")(DATA / "chen_flagged.csv")
    assert obj.id == "5"
    assert len(obj.time) == 4                       # 2 of 6 rows have flag != 0
    assert any("2 points with Chen flag != 0 dropped" in n for n in obj.notes)
    assert (obj.ra, obj.dec) == (10.0, 20.0)      # median of the kept rows' positions
    assert list(obj.band) == [G, G, R, R]
    np.testing.assert_allclose(obj.time[:2], [58300.1, 58301.1])


def test_ztf_dr_reader_keeps_only_clean_catflags_by_default():
    (obj,) = reader_for("ztf-dr")(DATA / "ztf_dr_catflags.csv")
    assert len(obj.time) == 3 and obj.id is None
    assert any("2 points with catflags != 0" in n for n in obj.notes)
    (loose,) = reader_for("ztf-dr", catflags_mask=32768)(DATA / "ztf_dr_catflags.csv")
    assert len(loose.time) == 4                     # catflags 4 kept, 32768 dropped


def test_csv_reader_maps_band_labels_and_reports_unknown():
    (obj,) = reader_for("csv")(DATA / "bands_mixed.csv")
    assert obj.unknown_bands == ["V"]
    counts = {b: int((obj.band == BAND_CODE[b]).sum()) for b in ("g", "r", "u", "other")}
    assert counts == {"g": 4, "r": 6, "u": 1, "other": 2}
    assert obj.flags & Status.BAD_VALUES           # the 3-field row at the end
    assert any("malformed" in n and "line 16" in n for n in obj.notes)


def test_julian_dates_are_converted_to_mjd(tmp_path):
    f = tmp_path / "jd.csv"
    f.write_text("time,mag,magerr,band\n2458300.5,16,0.02,g\n2458301.5,16.1,0.02,r\n")
    (obj,) = reader_for("csv")(f)
    np.testing.assert_allclose(obj.time, [58300.0, 58301.0])
    assert any("Julian" in n for n in obj.notes)


def test_missing_column_names_file_and_column():
    with pytest.raises(IngestError, match=r"missing_magerr.csv: no magerr column"):
        reader_for("csv")(DATA / "missing_magerr.csv")


def test_unreadable_files_raise_ingest_errors(tmp_path):
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"time,mag\n\xff\xfe\x00\x81")
    with pytest.raises(IngestError, match="binary.csv: not a UTF-8 text file"):
        reader_for("csv")(binary)
    empty = tmp_path / "empty.csv"
    empty.write_text("\n\n")
    with pytest.raises(IngestError, match="empty.csv: empty file"):
        reader_for("csv")(empty)
    with pytest.raises(IngestError, match="cannot read"):
        reader_for("csv")(tmp_path / "absent.csv")


def test_alerce_reader_deduplicates_and_prefers_corrected_magnitudes(tmp_path):
    objs = read_alerce(write_alerce(tmp_path / "d.parquet"))
    assert [o.id for o in objs] == ["ZTF1", "ZTF2"]
    one, two = objs
    assert len(one.time) == 2                       # repeat removed, uncorrected dropped
    np.testing.assert_allclose(one.mag, [15.0, 14.5])
    assert any("1 uncorrected" in n for n in one.notes)
    np.testing.assert_allclose(two.mag, [18.0, 18.2])   # no corrected: magpsf fallback
    assert list(two.band) == [G, BAND_CODE["i"]]
    assert (one.ra, two.dec) == (10.0, -5.0)


def test_alerce_csv_export_reads_like_the_parquet(tmp_path):
    f = tmp_path / "alerce.csv"
    f.write_text("oid,mjd,fid,magpsf,sigmapsf,magpsf_corr,sigmapsf_corr\n"
                 "ZTFa,58300.5,1,18.0,0.1,16.0,0.03\n"
                 "ZTFa,58300.5,1,18.0,0.1,16.0,0.03\n"
                 "ZTFa,58301.5,2,17.5,0.1,15.5,0.03\n")
    assert sniff(f) == "alerce"
    (obj,) = reader_for("auto")(f)
    assert obj.id == "ZTFa" and list(obj.mag) == [16.0, 15.5] and np.isnan(obj.ra)


def test_band_code_tables():
    codes, unknown = band_codes(["g", "R", "zr", "ZTF_g", "i", "W1"])
    assert list(codes) == [G, R, R, G, BAND_CODE["i"], BAND_CODE["other"]]
    assert unknown == ["W1"]
    codes, unknown = fid_codes(np.array([1, 2, 7]))
    assert list(codes) == [G, R, BAND_CODE["other"]] and unknown == ["fid=7"]


def test_expand_paths_reports_missing_inputs(tmp_path):
    (tmp_path / "a.csv").write_text("x")
    (tmp_path / "b.parquet").write_text("x")
    (tmp_path / "notes.md").write_text("x")
    files, problems = expand_paths([str(tmp_path), str(tmp_path / "*.csv"),
                                    str(tmp_path / "nope"), str(tmp_path / "z*.csv")])
    assert [f.name for f in files] == ["a.csv", "b.parquet", "a.csv"]
    assert len(problems) == 2 and "no such file" in problems[0] and "matches no" in problems[1]


# -- catalogues -----------------------------------------------------------------------------
def test_chen_table2_layout():
    cat = read_catalog(DATA / "chen_table2_mini.txt")
    assert list(cat.id) == ["101", "102", "103", "104"]
    assert cat.name[0] == "ZTFJ010203.04+050607.0"
    np.testing.assert_allclose(cat.period, [0.5123456, 0.0, 312.5, 1.2345])
    assert list(cat.cls) == ["RR", "EW", "Mira", "EA"]
    assert cat.dec[2] == pytest.approx(-5.13333)


def test_mapped_csv_catalogue_with_class_map_and_sexagesimal():
    cat = read_catalog(DATA / "catalog_mapped.csv", parse_mapping("id=Num,period=Per,class=Type"),
                       parse_mapping("ab=RR,c=RRc"))
    assert list(cat.id) == ["a1", "a2", "a3", "a4"] and cat.duplicates == ["a1"]
    assert cat.period[0] == 0.5                     # first of the duplicated rows
    assert np.isnan(cat.period[2]) and cat.period[1] == -1.0
    assert list(cat.cls) == ["RR", "RRc", "RR", "EW"]
    assert cat.ra[0] == pytest.approx(127.448292, abs=1e-6)
    assert cat.dec[1] == pytest.approx(-0.5) and cat.dec[3] == pytest.approx(-89.99999722)


def test_catalogue_errors_name_the_problem(tmp_path):
    with pytest.raises(IngestError, match="no column 'Period' \\(mapped to period\\)"):
        read_catalog(DATA / "catalog_mapped.csv", {"id": "Num", "period": "Period"})
    with pytest.raises(IngestError, match="unknown key\\(s\\) colour"):
        read_catalog(DATA / "catalog_mapped.csv", {"colour": "g-r"})
    with pytest.raises(IngestError, match="'period' is not NAME=VALUE"):
        parse_mapping("id=Num,period")
    with pytest.raises(IngestError, match="catalogue file not found"):
        read_catalog(tmp_path / "none.csv")
    nohead = tmp_path / "noid.csv"
    nohead.write_text("foo,bar\n1,2\n")
    with pytest.raises(IngestError, match="noid.csv: no id column"):
        read_catalog(nohead)


def test_ecsv_and_votable_catalogues_via_astropy(tmp_path):
    from astropy.table import Table

    t = Table({"oid": ["x", "y"], "logP": [-0.3, 1.0], "LCtype": [1, 5]})
    for name in ("c.ecsv", "c.xml"):
        t.write(tmp_path / name, format="ascii.ecsv" if name.endswith("ecsv") else "votable")
        cat = read_catalog(tmp_path / name, {"logperiod": "logP"}, {"1": "RR", "5": "EW"})
        np.testing.assert_allclose(cat.period, [10 ** -0.3, 10.0])
        assert list(cat.cls) == ["RR", "EW"] and list(cat.id) == ["x", "y"]
