"""Merging a colleague's journal: both authors kept, conflicts listed, nothing overwritten;
per-author export columns; the CLI."""
import shutil

import numpy as np
import pytest

from engine.cli import main
from engine.export import export_targets
from engine.label_merge import author_column, conflicts, labels_by_author, merge, resolve
from engine.labels import LabelError, LabelJournal, journal_path
from engine.store import LightCurve, Store


def _store(path):
    e = np.zeros(0)
    with Store.create(path) as st:
        st.append_objects({"id": ["a", "b", "c", "d"], "period": [1.0, 2.0, 3.0, 4.0]},
                          [LightCurve(e, e, e, e.astype("u1")) for _ in range(4)])
        st.write_group("scores/cartesian", {"score": [0.5, 1.0, 0.2, 0.1],
                                            "rank": [2, 1, 3, 4]})
    return path


@pytest.fixture
def pair(tmp_path):
    """Our store (ann labels a, b) and a copy of it that bob labelled (b differently, c)."""
    ours = _store(tmp_path / "ours.h5")
    theirs = tmp_path / "bob" / "theirs.h5"
    theirs.parent.mkdir()
    shutil.copy(ours, theirs)
    with LabelJournal(ours) as j:
        j.add("a", "anomaly", author="ann")
        j.add("b", "SR", author="ann", note="ann's view")
    with LabelJournal(theirs) as j:
        j.add("a", "anomaly", author="bob")          # agrees with ann
        j.add("b", "Mira", author="bob")             # disagrees
        j.add("c", "EW", author="bob")
        j.add("c", "interesting", author="bob")
        j.undo("c", author="bob")                    # back to EW
    return ours, theirs


def test_merge_keeps_both_authors_and_lists_conflicts(pair):
    ours, theirs = pair
    result = merge(ours, theirs)
    assert result.added == 1 + 3                      # a (bob's agreeing entry), c (3)
    assert [c.object_id for c in result.conflicts] == ["b"]
    c = result.conflicts[0]
    assert (c.mine.label, c.mine.author, c.theirs.label, c.theirs.author) == (
        "SR", "ann", "Mira", "bob")
    with LabelJournal(ours) as j:
        cur = j.current()
        assert cur["b"].label == "SR" and cur["b"].author == "ann"   # not overwritten
        assert cur["c"].label == "EW" and cur["c"].author == "bob"   # their undo replayed
        assert {e.author for e in j.history("a")} == {"ann", "bob"}
        assert [e.label for e in j.history("b")] == ["SR"]
    assert [x.object_id for x in conflicts(ours)] == ["b"]
    # merging again adds nothing and lists the same conflict once
    again = merge(ours, journal_path(theirs))
    assert again.added == 0 and again.already == 2 + 3
    assert [x.object_id for x in conflicts(ours)] == ["b"]


def test_resolve_theirs_or_mine(pair):
    ours, theirs = pair
    merge(ours, theirs)
    resolve(ours, "b", "theirs", author="ann")
    with LabelJournal(ours) as j:
        now = j.current()["b"]
        assert now.label == "Mira" and now.author == "bob" and "chosen by ann" in now.note
        assert [e.label for e in j.history("b")] == ["SR", "Mira"]    # appended, not replaced
    assert conflicts(ours) == []
    with pytest.raises(LabelError, match="b: no unresolved label conflict"):
        resolve(ours, "b", "mine")


def test_keep_mine_leaves_the_journal_alone(pair):
    ours, theirs = pair
    merge(ours, theirs)
    with LabelJournal(ours) as j:
        before = len(j.entries())
    resolve(ours, "b", "mine")
    with LabelJournal(ours) as j:
        assert len(j.entries()) == before and j.current()["b"].label == "SR"
    assert conflicts(ours) == []


def test_export_has_per_author_columns(pair):
    ours, theirs = pair
    merge(ours, theirs)
    table = export_targets(ours, None, top=4)
    assert {"label_ann", "label_bob"} <= set(table.colnames)
    got = {str(r["id"]): (str(r["label"]), str(r["label_ann"]), str(r["label_bob"]))
           for r in table}
    assert got["a"] == ("anomaly", "anomaly", "anomaly")
    assert got["b"] == ("SR", "SR", "Mira")           # the conflict shows both views
    assert got["c"] == ("EW", "", "EW")
    assert got["d"] == ("", "", "")
    assert labels_by_author(ours)["bob"]["c"] == "EW"


def test_export_rows_in_the_given_order(pair):
    ours, _ = pair
    table = export_targets(ours, None, rows=[3, 0])
    assert list(table["id"]) == ["d", "a"] and list(table["label"]) == ["", "anomaly"]


def test_author_column_names():
    assert author_column("Ann O'Neil") == "label_Ann_O_Neil"
    assert author_column("") == "label_unknown"


def test_cli_merge_conflicts_and_resolve(pair, capsys):
    ours, theirs = pair
    assert main(["label", "merge", str(ours), str(theirs)]) == 0
    out = capsys.readouterr().out
    assert "4 entries added" in out and "1 conflicts" in out
    assert "conflict b: ours 'SR' (ann" in out and "theirs 'Mira' (bob" in out
    assert main(["label", str(ours), "--conflicts"]) == 0
    assert "1 unresolved label conflicts" in capsys.readouterr().out
    assert main(["label", str(ours), "--resolve", "b=theirs", "--author", "ann"]) == 0
    assert main(["label", str(ours), "--conflicts"]) == 0
    assert "0 unresolved" in capsys.readouterr().out


def test_cli_merge_bad_input_is_one_line(pair, tmp_path, capsys):
    ours, _ = pair
    assert main(["label", "merge", str(ours), str(tmp_path / "nothing.h5")]) == 1
    err = capsys.readouterr().err
    assert "nothing.h5: neither a label journal" in err and "Traceback" not in err
    assert main(["label", "merge", str(ours), str(ours)]) == 1
    assert "this store's own journal" in capsys.readouterr().err
