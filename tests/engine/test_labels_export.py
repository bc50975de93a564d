"""Target-list exports read back with astropy."""
import numpy as np
import pytest
from astropy.table import Table

from engine.cli import main
from engine.export import ExportError, export_targets, format_for, iau_name
from engine.labels import LabelJournal
from engine.store import LightCurve, Store


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "s.h5"
    e = np.zeros(0)
    n = 6
    with Store.create(path) as st:
        st.append_objects({"id": [f"z{i}" for i in range(n)],
                           "ra": [10.5, 200.0, 359.99, 45.0, 0.0, 120.0],
                           "dec": [-5.25, 41.5, 89.0, -0.01, 0.0, 12.0],
                           "period": [0.5, 300.0, 1.0, 2.0, 3.0, 4.0],
                           "class": ["EW", "Mira", "SR", "RR", "EW", "EW"],
                           "mean_g": [15.0, 14.0, 13.0, 16.0, 17.0, 18.0],
                           "mean_r": [14.5, 12.5, 12.0, 15.9, 16.5, 17.0]},
                          [LightCurve(e, e, e, e.astype("u1")) for _ in range(n)])
        st.write_group("scores/cartesian", {"score": [0.2, 1.0, 0.5, np.nan, 0.4, 0.3],
                                            "rank": [5, 1, 2, 0, 3, 4]})
        st.write_group("scores/spherical", {"score": [1.0, 0.1, 0.5, np.nan, 0.4, 0.3],
                                            "rank": [1, 5, 2, 0, 3, 4]})
    return path


def test_top_of_ranking_when_nothing_is_labelled(store):
    t = export_targets(store, None, top=3)
    assert list(t["id"]) == ["z1", "z2", "z4"] and set(t["label"]) == {""}
    assert len(export_targets(store, None)) == 0


@pytest.mark.parametrize("ext,fmt", [(".ecsv", "ascii.ecsv"), (".xml", "votable"),
                                     (".csv", "ascii.csv")])
def test_round_trip(store, tmp_path, ext, fmt):
    with LabelJournal(store) as j:
        j.add("z0", "anomaly", note="odd, \"quoted\"", author="ann")
        j.add("z2", "interesting")
        j.add("z3", "artefact/bad data")
        j.add("z5", "EW")
        j.undo("z5")
    out = tmp_path / f"t{ext}"
    written = export_targets(store, out)
    back = Table.read(out, format=fmt)
    # best Cartesian rank first; the unscored object (rank 0) last; undone z5 left out
    assert list(back["id"]) == ["z2", "z0", "z3"] == list(written["id"])
    row = back[list(back["id"]).index("z0")]
    assert row["label"] == "anomaly" and row["note"] == 'odd, "quoted"' and row["author"] == "ann"
    assert row["ra_hms"] == "00:42:00.00" and row["dec_dms"] == "-05:15:00.0"
    assert row["g_r"] == pytest.approx(0.5) and row["rank_spherical"] == 1
    assert row["name"] == "ZTF J004200.00-051500.0"
    if fmt != "ascii.csv":
        assert back["ra"].unit == "deg" and back["period"].unit == "d"
        assert "follow-up target list" in back.meta["description"]
    assert written["mean_g"].unit == "mag" and written["score_cartesian"].description


def test_label_filter_top_and_cli(store, tmp_path, capsys):
    with LabelJournal(store) as j:
        for oid, lab in [("z0", "anomaly"), ("z1", "anomaly"), ("z2", "SR"), ("z4", "anomaly")]:
            j.add(oid, lab)
    t = export_targets(store, None, labels=["anomaly"], top=2)
    assert list(t["id"]) == ["z1", "z4"]
    out = tmp_path / "t.vot"
    assert main(["export", str(store), "-o", str(out), "--labels", "anomaly", "SR"]) == 0
    assert "4 targets" in capsys.readouterr().out
    assert list(Table.read(out)["id"]) == ["z1", "z2", "z4", "z0"]
    assert main(["export", str(store), "-o", str(tmp_path / "t.txt")]) == 1
    assert "cannot tell the format" in capsys.readouterr().err
    assert main(["export", str(store), "-o", str(tmp_path / "t.txt"), "--format", "csv"]) == 0


def test_format_and_names():
    assert format_for("a.ECSV", None) == "ecsv" and format_for("a.x", "votable") == "votable"
    with pytest.raises(ExportError, match="unknown format"):
        format_for("a.csv", "fits")
    assert iau_name(359.99, 89.0) == "ZTF J235957.60+890000.0"
    assert iau_name(np.nan, 0.0) == ""
    assert iau_name(10.5, -5.25) == "ZTF J004200.00-051500.0"
    assert iau_name(0.0041666, -0.0000278) == "ZTF J000000.99-000000.1"


def test_top_is_the_top_of_the_ranking_once_anything_is_labelled(store, tmp_path, capsys):
    """Issue 17, defect 9: --top 3 returned only the labelled rows once one existed."""
    with LabelJournal(store) as j:
        j.add("z0", "anomaly")
    t = export_targets(store, None, top=3)
    assert list(t["id"]) == ["z1", "z2", "z4"] and set(t["label"]) == {""}
    t = export_targets(store, None, top=5)
    assert list(t["id"])[-1] == "z0" and t["label"][-1] == "anomaly"
    assert list(export_targets(store, None, labels=["anomaly"], top=3)["id"]) == ["z0"]
    assert list(export_targets(store, None, top=2, space="spherical")["id"]) == ["z0", "z2"]


def test_exports_carry_every_scored_space_and_why(store):
    with Store(store, "a") as st:
        surprise = np.array([[0.1, 2.5], [3.0, 0.2], [np.nan, np.nan], [1, 1], [0, 0], [0, 4]])
        st.write_group("scores/vetting", {"score": [0.6, 0.75, np.nan, 0.25, 0.0, 1.0],
                                          "rank": [3, 2, 0, 4, 5, 1], "surprise": surprise},
                       {"features": ["fold", "bands"]})
    t = export_targets(store, None, top=3)
    assert list(t["id"]) == ["z5", "z1", "z0"]                # vetting ranks by default
    assert list(t["why"]) == ["bands", "fold", "bands"]
    assert list(t["why_log10p"]) == [4.0, 3.0, 2.5]
    assert {"score_vetting", "rank_vetting", "score_cartesian", "rank_spherical"} <= set(t.colnames)
    assert t.meta["space"] == "vetting" and t["rank_vetting"].description


def test_label_cli_refuses_unknown_labels_and_records_one_default_author(store, capsys,
                                                                         monkeypatch):
    """Issue 17, defect 10 ("anomally" was stored as a new label) and defect 9 (the author
    was blank from the CLI)."""
    monkeypatch.setenv("PVSVET_AUTHOR", "ann")
    assert main(["label", str(store), "z1", "anomally"]) == 1
    err = capsys.readouterr().err
    assert "unknown label 'anomally'" in err and "anomaly, interesting" in err
    assert len(err.strip().splitlines()) == 1
    assert main(["label", str(store), "z1", "anomaly"]) == 0
    with LabelJournal(store) as j:
        e = j.current()["z1"]
    assert (e.label, e.author, e.space, e.rank) == ("anomaly", "ann", "cartesian", 1)
    assert main(["label", str(store), "--label-set", "odd,dull"]) == 0
    assert main(["label", str(store), "z2", "odd"]) == 0
    assert main(["label", str(store), "z2", "anomaly"]) == 1
    assert "known labels: odd, dull" in capsys.readouterr().err
    from engine.labels import default_author
    assert default_author() == "ann"


def test_label_help_names_the_labels_not_a_constant(capsys):
    """Issue 17, defect 10: `label --help` named "DEFAULT_LABELS"."""
    from engine.labels import DEFAULT_LABELS

    with pytest.raises(SystemExit):
        main(["label", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "DEFAULT_LABELS" not in out
    assert DEFAULT_LABELS[0] in out and DEFAULT_LABELS[1] in out
