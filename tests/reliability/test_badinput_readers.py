"""Property-based bad input (``-k badinput``): every reader of ``engine.ingest``, fed
any bytes or any mutation of a good file, returns objects or raises IngestError —
never another exception (which the CLI would print as a traceback)."""
from __future__ import annotations

import gzip

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import IngestError
from engine.ingest.catalog import read_catalog
from engine.ingest.formats import FORMATS, reader_for, sniff
from engine.ingest.textcsv import first_line, read_csv, read_text

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

GOOD = {
    "chen": "SourceID,RAdeg,DEdeg,HJD,mag,e_mag,flag,band\n"
            "1,15.5,5.1,2458200.1,16.5,0.02,0,g\n1,15.5,5.1,2458201.1,16.4,0.02,0,r\n",
    "ztf-dr": "oid,ra,dec,mjd,mag,magerr,filtercode,catflags\n"
              "5,15.5,5.1,58200.1,16.5,0.02,zg,0\n5,15.5,5.1,58201.1,16.4,0.02,zr,0\n",
    "csv": "id,time,mag,magerr,band\na,58200.1,16.5,0.02,g\na,58201.1,16.4,0.02,r\n",
    "alerce": "oid,mjd,fid,magpsf,sigmapsf\nZTF1,58200.1,1,16.5,0.02\n",
}
CATALOG = "Num,Per,Type,RA,Dec\n1,0.5,EW,15.5,5.1\n2,1.5,RR,16.0,-5.0\n"


def _mutations(text: str):
    """Any good file with bytes cut, replaced, inserted, or re-encoded."""
    raw = text.encode()
    return st.one_of(
        st.binary(max_size=600),
        st.integers(0, len(raw)).map(lambda n: raw[:n]),
        st.tuples(st.integers(0, len(raw) - 1), st.binary(min_size=1, max_size=8)).map(
            lambda t: raw[:t[0]] + t[1] + raw[t[0] + len(t[1]):]),
        st.tuples(st.integers(0, len(raw)), st.text(max_size=20)).map(
            lambda t: raw[:t[0]] + t[1].encode("utf-8", "surrogatepass") + raw[t[0]:]),
        st.just(text.encode("utf-16")),
        st.just(b"\xef\xbb\xbf" + raw),
        st.just(gzip.compress(raw)[:-3]),
        st.sampled_from([b"nan,nan\nnan,inf\n", b"\n\n\n", b",,,,\n,,,,\n", b"\x00" * 64]),
    )


def _ok_or_refused(fn, path):
    try:
        fn(path)
    except IngestError as exc:
        assert str(path.name) in str(exc) or str(path) in str(exc), str(exc)


@pytest.mark.badinput
@pytest.mark.parametrize("fmt", FORMATS)
def test_badinput_light_curve_readers(fmt, tmp_path):
    reader = reader_for(fmt)

    @SETTINGS
    @given(data=_mutations(GOOD[fmt]))
    def check(data):
        path = tmp_path / "SourceID_1.csv"
        path.write_bytes(data)
        _ok_or_refused(reader, path)
        _ok_or_refused(sniff, path)

    check()


@pytest.mark.badinput
def test_badinput_text_readers(tmp_path):
    @SETTINGS
    @given(data=_mutations(GOOD["csv"]))
    def check(data):
        path = tmp_path / "x.csv"
        path.write_bytes(data)
        for fn in (read_text, first_line, read_csv):
            _ok_or_refused(fn, path)

    check()


@pytest.mark.badinput
@pytest.mark.parametrize("suffix", [".csv", ".txt", ".ecsv", ".xml", ".fits", ".parquet"])
def test_badinput_catalogue_reader(suffix, tmp_path):
    @settings(max_examples=15, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data=_mutations(CATALOG))
    def check(data):
        path = tmp_path / f"cat{suffix}"
        path.write_bytes(data)
        _ok_or_refused(lambda p: read_catalog(p, {"id": "Num", "period": "Per",
                                                  "class": "Type"}), path)

    check()
