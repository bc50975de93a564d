"""The label journal: append-only, undo, history, WAL, reopen, concurrent writers, CLI."""
import multiprocessing as mp
import sqlite3

import numpy as np
import pytest

from engine.cli import main
from engine.labels import DEFAULT_LABELS, LabelError, LabelJournal, journal_path, read_label_csv
from engine.store import LightCurve, Store


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "s.h5"
    e = np.zeros(0)
    with Store.create(path) as st:
        st.append_objects({"id": ["a", "b", "c"], "period": [1.0, 2.0, 3.0]},
                          [LightCurve(e, e, e, e.astype("u1")) for _ in range(3)])
        st.write_group("scores/cartesian", {"score": [0.5, 1.0, 0.2], "rank": [2, 1, 3]})
    return path


def test_add_current_history_and_reopen(store):
    with LabelJournal(store) as j:
        s1 = j.add("a", "anomaly", note="odd dip", author="ann", score=0.9, rank=3,
                   space="cartesian", run="r1")
        s2 = j.add("a", " SR ")
        j.add("b", "artefact/bad data")
        assert s2 > s1
    with LabelJournal(store) as j:               # survives reopening
        cur = j.current()
        assert cur["a"].label == "SR" and cur["b"].label == "artefact/bad data"
        hist = j.history("a")
        assert [e.label for e in hist] == ["anomaly", "SR"]
        assert hist[0].note == "odd dip" and hist[0].author == "ann" and hist[0].rank == 3
        assert hist[0].score == 0.9 and hist[0].space == "cartesian" and hist[0].run == "r1"
        assert hist[0].time.endswith("+00:00") and hist[0].time <= hist[1].time


def test_empty_labels_refused_custom_allowed(store):
    with LabelJournal(store) as j:
        for bad in ("", "   ", None):
            with pytest.raises(LabelError, match="a: empty label refused"):
                j.add("a", bad)
        j.add("a", "weird blend")
        assert j.current()["a"].label == "weird blend"
        assert j.entries()[-1].object_id == "a" and len(j.entries()) == 1


def test_undo_walks_back_and_appends(store):
    with LabelJournal(store) as j:
        assert j.undo("a") is None                  # nothing to undo
        j.add("a", "anomaly", note="n1")
        j.add("a", "EW")
        j.undo("a", author="bob")
        assert j.current()["a"].label == "anomaly" and j.current()["a"].note == "n1"
        j.undo("a")
        assert "a" not in j.current()              # back to unlabelled
        assert j.current(include_unlabelled=True)["a"].label == ""
        assert j.undo("a") is None
        hist = j.history("a")
        assert [e.label for e in hist] == ["anomaly", "EW", "anomaly", ""]
        assert hist[2].undoes == hist[1].seq and hist[2].author == "bob"


def test_journal_is_append_only_and_wal(store):
    with LabelJournal(store) as j:
        j.add("a", "anomaly")
    db = sqlite3.connect(journal_path(store))
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    for sql in ("UPDATE labels SET label='x'", "DELETE FROM labels"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(sql)
    db.close()


def test_label_set_default_and_edit(store):
    with LabelJournal(store) as j:
        assert j.label_set() == list(DEFAULT_LABELS) and len(DEFAULT_LABELS) == 15
        j.set_label_set(["anomaly", "boring"])
        with pytest.raises(LabelError, match="duplicates"):
            j.set_label_set(["x", "x"])
    with LabelJournal(store) as j:
        assert j.label_set() == ["anomaly", "boring"]


def _writer(store, who, n):
    with LabelJournal(store) as j:
        for i in range(n):
            j.add("abc"[i % 3], f"{who}{i}", author=who)


def test_two_processes_write_at_once(store):
    LabelJournal(store).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(store, w, 40)) for w in ("gui", "cli")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    with LabelJournal(store) as j:
        entries = j.entries()
    assert len(entries) == 80 and {e.author for e in entries} == {"gui", "cli"}


def test_cli_label_and_import(store, tmp_path, capsys):
    assert main(["label", str(store), "b", "anomaly", "--note", "big", "--author", "me"]) == 0
    with LabelJournal(store) as j:
        e = j.current()["b"]
    assert (e.note, e.author, e.rank, e.score, e.space) == ("big", "me", 1, 1.0, "cartesian")
    assert main(["label", str(store), "zz", "anomaly"]) == 1
    assert "zz: no such object" in capsys.readouterr().err
    csv = tmp_path / "l.csv"
    csv.write_text("id,label,note\na,interesting,hm\nnope,EW\nc,RR\n")
    assert main(["label", str(store), "--from", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "2 labels applied" in out and "1 unknown ids" in out and "nope" in out
    with LabelJournal(store) as j:
        cur = j.current()
    assert cur["a"].label == "interesting" and cur["a"].note == "hm" and cur["c"].label == "RR"
    (tmp_path / "bad.csv").write_text("a,\n")
    assert main(["label", str(store), "--from", str(tmp_path / "bad.csv")]) == 1
    assert "row 1" in capsys.readouterr().err


def test_read_label_csv_without_header(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,anomaly\n\nb,EW,a note\n")
    assert read_label_csv(p) == [("a", "anomaly", ""), ("b", "EW", "a note")]
    with pytest.raises(LabelError, match="cannot read"):
        read_label_csv(tmp_path / "missing.csv")


def test_not_a_journal(store):
    journal_path(store).write_text("this is not sqlite" * 100)
    with pytest.raises(LabelError, match="not a usable label journal"):
        LabelJournal(store)


def test_corrected_period_is_recorded_and_undone(store):
    with LabelJournal(store) as j:
        j.add("a", "RR", period=0.5731)
        j.add("a", "anomaly")                       # no correction: the catalogue period
        assert [e.period for e in j.history("a")] == [0.5731, None]
        j.undo("a")
        assert j.current()["a"].period == 0.5731    # undo restores the corrected period
        for bad in (0.0, -1.0, float("nan"), "fast"):
            with pytest.raises(LabelError, match="a: a corrected period"):
                j.add("a", "RR", period=bad)


def test_journal_without_period_column_is_migrated(store):
    db = sqlite3.connect(journal_path(store))       # a journal of the earlier schema
    db.executescript("CREATE TABLE labels (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                     "object_id TEXT NOT NULL, label TEXT NOT NULL, note TEXT NOT NULL "
                     "DEFAULT '', author TEXT NOT NULL DEFAULT '', time TEXT NOT NULL, "
                     "score REAL, rank INTEGER, space TEXT NOT NULL DEFAULT '', run TEXT NOT "
                     "NULL DEFAULT '', undoes INTEGER);"
                     "INSERT INTO labels (object_id, label, time) VALUES ('b', 'SR', 't0');")
    db.close()
    with LabelJournal(store) as j:
        assert j.current()["b"].label == "SR" and j.current()["b"].period is None
        j.add("b", "EW", period=0.31)
        assert j.current()["b"].period == 0.31


def test_merge_keeps_a_corrected_period_and_reads_an_old_journal(store, tmp_path):
    from engine.label_merge import merge

    ours = tmp_path / "ours.h5"
    ours.write_bytes(store.read_bytes())
    with LabelJournal(store) as j:                    # the colleague's, with a period
        j.add("a", "RR", author="bob", period=0.61)
    merge(ours, store)
    with LabelJournal(ours) as j:
        assert j.current()["a"].period == 0.61 and j.current()["a"].author == "bob"
    old = tmp_path / "old.h5.labels.sqlite"           # a colleague's journal, earlier schema
    db = sqlite3.connect(old)
    db.executescript("CREATE TABLE labels (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                     "object_id TEXT, label TEXT, note TEXT DEFAULT '', author TEXT "
                     "DEFAULT '', time TEXT, score REAL, rank INTEGER, space TEXT DEFAULT '', "
                     "run TEXT DEFAULT '', undoes INTEGER);"
                     "INSERT INTO labels (object_id, label, author, time) "
                     "VALUES ('c', 'EW', 'cy', 't0');")
    db.close()
    merge(ours, old)
    with LabelJournal(ours) as j:
        assert j.current()["c"].label == "EW" and j.current()["c"].period is None
