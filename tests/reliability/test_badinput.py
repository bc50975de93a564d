"""The bad-input corpus (``pytest -k badinput``): every case is generated here.

Each case runs the CLI in-process (:func:`engine.cli.main`) and asserts exit code 1,
one error line naming the file or object and what is wrong, no traceback, and that
nothing already stored changed. A case that raises any other exception (a traceback
for a user) fails the test.
"""
from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys

import numpy as np
import pytest

from engine.cli import main
from engine.store import SCHEMA_VERSION, Store

from ..engine.test_anomaly_stage import make_store
from ..engine.test_ingest_stage import write_chen
from .helpers import env

GOOD_CSV = "SourceID,RAdeg,DEdeg,HJD,mag,e_mag,flag,band\n1,15.5,5.1,58200.1,16.5,0.02,0,g\n"


def _digest(path):
    """What a file holds: for a readable store its objects and groups (a failed run may
    add a provenance record to /runs), else its bytes."""
    if not path.exists():
        return None
    if path.suffix == ".h5":
        try:
            import h5py
            h = hashlib.sha256()
            with h5py.File(path, "r") as h5:
                h5.visititems(lambda k, v: h.update(k.encode() + np.asarray(v[()]).tobytes())
                              if isinstance(v, h5py.Dataset) and not k.startswith("runs")
                              else None)
            return h.hexdigest()
        except (OSError, KeyError):
            pass
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


# -- the cases: (name, builder(tmp) -> (argv, named, watched files)) -----------------
def _lc_case(content: bytes, name="SourceID_1.csv"):
    def build(tmp):
        f = tmp / name
        f.write_bytes(content)
        return ["ingest", str(tmp / "new.h5"), "--lightcurves", str(f)], name, []
    return build


def _catalog_case(content: bytes | None, name="cat.csv"):
    def build(tmp):
        d = tmp / "lcs"
        d.mkdir()
        write_chen(d / "SourceID_101.csv", 101)
        cat = tmp / name
        if content is None:
            cat.mkdir()
        else:
            cat.write_bytes(content)
        return (["ingest", str(tmp / "new.h5"), "--catalog", str(cat), "--lightcurves",
                 str(d)], name, [])
    return build


def _store(tmp, n=200):
    path = make_store(tmp / "s.h5", n=n)
    return path


def _future_schema(tmp):
    path = _store(tmp)
    import h5py
    with h5py.File(path, "r+") as h5:
        h5["meta"].attrs["schema_version"] = SCHEMA_VERSION + 1
    return ["info", str(path)], "newer pvsvet", [path]


def _meta_damaged(cmd):
    def build(tmp):
        path = Store.create(tmp / "s.h5", config={"kept_setting": 1}).path
        Store(path).close()
        data = path.read_bytes()
        _flip(path, data.find(b'"kept_setting"') + 2)
        argv = {"info": ["info", str(path)], "info-json": ["info", "--json", str(path)],
                "score": ["score", "--trees", "10", str(path)],
                "export": ["export", str(path), "-o", str(tmp / "t.csv")],
                "label": ["label", str(path), "x", "anomaly"]}[cmd]
        return argv, "/meta is damaged", [path]
    return build


def _chunk_damaged(tmp):
    import h5py
    path = _store(tmp)
    with h5py.File(path, "r") as h5:
        off = h5["vae/mu"].id.get_chunk_info(0).byte_offset
    _flip(path, off + 40)
    return ["score", "--trees", "10", "--no-convergence", str(path)], "/vae/mu is damaged", [path]


def _not_a_store(content: bytes | None):
    def build(tmp):
        path = tmp / "s.h5"
        if content is None:
            path.mkdir()
        else:
            path.write_bytes(content)
        return ["info", str(path)], "s.h5", []
    return build


def _truncated_store(tmp):
    path = _store(tmp)
    cut = tmp / "cut.h5"
    cut.write_bytes(path.read_bytes()[:path.stat().st_size // 3])
    return ["info", str(cut)], "cut.h5: damaged or truncated", [cut]


def _journal_not_sqlite(tmp):
    path = _store(tmp)
    journal = tmp / "s.h5.labels.sqlite"
    journal.write_bytes(b"this is not a database\n" * 50)
    return ["label", str(path), "o5", "anomaly"], "labels.sqlite", [path, journal]


def _label_file(content: bytes | None):
    def build(tmp):
        path = _store(tmp)
        f = tmp / "labels.csv"
        if content is None:
            f.mkdir()
        else:
            f.write_bytes(content)
        return ["label", str(path), "--from", str(f)], "labels.csv", [path]
    return build


def _export_to_folder(tmp):
    path = _store(tmp)
    (tmp / "out.csv").mkdir()
    return ["export", str(path), "-o", str(tmp / "out.csv")], "out.csv", [path]


def _second_ingest_of_garbage(tmp):
    """A bad file appended to an existing store changes nothing stored."""
    path = _store(tmp)
    bad = tmp / "SourceID_9.csv"
    bad.write_bytes(b"\x00\x01\x02garbage" * 100)
    return ["ingest", str(path), "--lightcurves", str(bad)], "SourceID_9.csv", [path]


def _old_store_bad_json(tmp):
    """A store from before checksums whose config bytes were damaged: info raised a
    JSONDecodeError."""
    import h5py
    path = tmp / "old.h5"
    with h5py.File(path, "w") as h5:
        meta = h5.create_group("meta")
        meta.attrs.update({"schema_version": SCHEMA_VERSION, "pvsvet_version": "0.1",
                           "created": "x", "config": '{"interp": {"n_phase"\x07 160}}'})
        objs = h5.create_group("objects")
        objs.attrs["n"] = 0
        objs.create_dataset("id", shape=(0,), dtype="S1", maxshape=(None,))
        lcs = h5.create_group("lightcurves")
        for k, dt in (("time", "f8"), ("mag", "f4"), ("magerr", "f4"), ("band", "u1")):
            lcs.create_dataset(k, shape=(0,), dtype=dt, maxshape=(None,))
        lcs.create_dataset("offsets", data=np.zeros(1, "i8"), maxshape=(None,))
        h5.create_group("runs").create_dataset("records", shape=(0,), maxshape=(None,),
                                               dtype=h5py.string_dtype())
    return ["info", str(path)], "/meta is damaged (its config is not valid JSON)", [path]


def _export_top(n):
    def case(tmp):
        path = _store(tmp)
        return ["export", str(path), "-o", str(tmp / "t.csv"), "--top", str(n)], \
            f"--top {n}", [path]
    return case


CASES = {
    "export-top-negative": _export_top(-5),
    "export-top-zero": _export_top(0),
    "store-old-meta-bad-json": _old_store_bad_json,
    "lc-garbled": _lc_case(b"this,is\nnot a light curve;;;\n\"unclosed,\n"),
    "lc-truncated": _lc_case(GOOD_CSV.encode()[:30]),
    "lc-empty": _lc_case(b""),
    "lc-binary": _lc_case(bytes(range(256)) * 8),
    "lc-latin1": _lc_case("SourceID,RAdeg,DEdeg,HJD,mag,e_mag,flag,band\n1,15.5,5.1,"
                          "58200.1,16.5,0.02,0,g  # Ångström\n".encode("latin-1")),
    "lc-bad-gzip": _lc_case(gzip.compress(GOOD_CSV.encode())[:25], "SourceID_1.csv.gz"),
    "lc-header-only": _lc_case(GOOD_CSV.splitlines()[0].encode() + b"\n"),
    "catalog-directory": _catalog_case(None),
    "catalog-garbled": _catalog_case(b"a,b\n1,2,3,4\n\"x\n"),
    "catalog-empty": _catalog_case(b""),
    "catalog-binary": _catalog_case(bytes(range(256)) * 4),
    "catalog-latin1": _catalog_case("Num,Per,Type\n101,0.5,EW é\n".encode("latin-1")),
    "catalog-no-id": _catalog_case(b"foo,bar\n1,2\n"),
    "store-future-schema": _future_schema,
    "store-meta-damaged-info": _meta_damaged("info"),
    "store-meta-damaged-info-json": _meta_damaged("info-json"),
    "store-meta-damaged-score": _meta_damaged("score"),
    "store-meta-damaged-export": _meta_damaged("export"),
    "store-meta-damaged-label": _meta_damaged("label"),
    "store-chunk-damaged-score": _chunk_damaged,
    "store-truncated": _truncated_store,
    "store-empty-file": _not_a_store(b""),
    "store-text-file": _not_a_store(b"hello\n"),
    "store-directory": _not_a_store(None),
    "journal-not-sqlite": _journal_not_sqlite,
    "label-from-latin1": _label_file("id,label\no1,anomalié\n".encode("latin-1")),
    "label-from-binary": _label_file(b"\xff\xfe\x00\x00" + bytes(range(256))),
    "label-from-directory": _label_file(None),
    "label-from-no-label": _label_file(b"id,label\no1,\n"),
    "export-to-a-folder": _export_to_folder,
    "ingest-garbage-into-a-store": _second_ingest_of_garbage,
}


@pytest.mark.badinput
@pytest.mark.parametrize("case", sorted(CASES))
def test_badinput(case, tmp_path, capsys):
    argv, named, watched = CASES[case](tmp_path)
    before = {p: _digest(p) for p in watched}
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:          # argparse's own refusals
        code = exc.code
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("pvsvet-engine")]
    assert code == 1, (code, err)
    assert "Traceback" not in err
    assert len(lines) == 1 and named in lines[0], err
    assert {p: _digest(p) for p in watched} == before


@pytest.mark.badinput
def test_badinput_utf8_bom_catalogue_is_read(tmp_path, capsys):
    """A UTF-8-BOM catalogue (Excel's "CSV UTF-8") was rejected as "no column 'Num'"."""
    d = tmp_path / "lcs"
    d.mkdir()
    write_chen(d / "SourceID_101.csv", 101)
    cat = tmp_path / "cat.csv"
    cat.write_bytes("\ufeffNum,Per,Type\n101,0.5,EW\n".encode("utf-8"))
    store = tmp_path / "s.h5"
    assert main(["ingest", str(store), "--catalog", str(cat), "--columns",
                 "id=Num,period=Per,class=Type", "--lightcurves", str(d), "--quiet"]) == 0
    with Store(store) as st:
        objs = st.read_objects(["id", "period", "class"])
    assert list(objs["id"]) == ["101"] and objs["period"][0] == 0.5 and objs["class"][0] == "EW"


@pytest.mark.badinput
def test_badinput_absurd_values_are_flagged_not_fatal(tmp_path, capsys):
    """NaN, inf, negative errors and absurd magnitudes: flagged per object, exit 0."""
    d = tmp_path / "lcs"
    d.mkdir()
    write_chen(d / "SourceID_101.csv", 101)
    rows = ["SourceID,RAdeg,DEdeg,HJD,mag,e_mag,flag,band"]
    rows += [f"102,15.5,5.1,{58200 + i},{v},{e},0,{'gr'[i % 2]}" for i, (v, e) in enumerate(
        [("nan", 0.02), ("inf", 0.02), (16.5, -1), (1e30, 0.02), (16.4, "nan")] * 8)]
    (d / "SourceID_102.csv").write_text("\n".join(rows) + "\n")
    assert main(["ingest", str(tmp_path / "s.h5"), "--lightcurves", str(d), "--quiet"]) == 0
    with Store(tmp_path / "s.h5") as st:
        objs = st.read_objects(["id", "status"])
    assert objs["status"][list(objs["id"]).index("102")] != 0


@pytest.mark.badinput
def test_badinput_info_into_a_closed_pipe(tmp_path):
    """``info | head``: a BrokenPipeError traceback before."""
    path = make_store(tmp_path / "s.h5", n=50)
    res = subprocess.run(f"{sys.executable} -m engine info --json {path} | head -c 10",
                         shell=True, env=env(), capture_output=True, text=True, timeout=60)
    assert "Traceback" not in res.stderr and "BrokenPipe" not in res.stderr, res.stderr
