"""Link-outs (URLs from RA/Dec/oid), the table's context menu, plots saved as PNG and SVG,
and SAMP from the window: the selection goes out, TOPCAT's row selection and Aladin's
sky position come back into the shared Selection."""
from __future__ import annotations

import queue
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

from pvsvet.links import Target, aladin_lite, irsa_lightcurve, links, simbad, snad_viewer


# -- URLs (no Qt) --------------------------------------------------------------------------
def test_simbad_and_aladin_urls_carry_the_position():
    t = Target("ZTFJ012345.67+012345.6", 20.1234567, -1.5)
    q = parse_qs(urlparse(simbad(t)).query)
    assert urlparse(simbad(t)).netloc == "simbad.cds.unistra.fr"
    assert q["Coord"] == ["20.123457 -1.500000"] and q["Radius"] == ["2"]
    assert q["Radius.unit"] == ["arcsec"] and q["CooFrame"] == ["ICRS"]
    q = parse_qs(urlparse(aladin_lite(t)).query)
    assert q["target"] == ["20.123457 -1.500000"] and float(q["fov"][0]) < 0.1


def test_ztf_oid_links_by_id_else_by_cone():
    oid = Target("633207400004730", 10.0, 20.0)
    assert snad_viewer(oid) == "https://ztf.snad.space/view/633207400004730"
    assert parse_qs(urlparse(irsa_lightcurve(oid)).query)["ID"] == ["633207400004730"]
    other = Target("RRLyr-42", 10.0, +20.0)
    assert snad_viewer(other) == "https://ztf.snad.space/search/10.000000%20%2B20.000000/2"
    pos = parse_qs(urlparse(irsa_lightcurve(other)).query)["POS"][0]
    assert pos == "CIRCLE 10.000000 +20.000000 0.000556"       # 2 arcsec in degrees
    assert irsa_lightcurve(other).startswith(
        "https://irsa.ipac.caltech.edu/cgi-bin/ZTF/nph_light_curves?")


def test_no_position_disables_what_needs_one():
    got = dict(links(Target("633207400004730", float("nan"), float("nan"))))
    assert got["SIMBAD"] is None and got["Aladin Lite"] is None
    assert got["SNAD ZTF viewer"].endswith("/view/633207400004730")
    assert all(v is None for v in dict(links(Target("x", float("nan"), 1.0))).values())


# -- the window ------------------------------------------------------------------------------
def _actions(menu):
    out = {}
    for a in menu.actions():
        if a.menu():
            out.update(_actions(a.menu()))
        elif a.data():
            out[a.text()] = a.data()
    return out


def test_context_menu_links_are_the_current_objects(window):
    from pvsvet.interop import target

    state = window.state
    row = int(state.view.rows[3])
    menu = window.interop.link_menu(row)
    urls = _actions(menu)
    ra, dec = float(state.catalog.extra["ra"][row]), float(state.catalog.extra["dec"][row])
    t = target(state, row)
    assert (t.ra, t.dec, t.object_id) == (ra, dec, state.catalog.object_id(row))
    assert urls["SIMBAD"] == simbad(Target(t.object_id, ra, dec))
    assert urls["Aladin Lite"] == aladin_lite(t) and urls["SNAD ZTF viewer"] == snad_viewer(t)
    assert set(urls) == {"SIMBAD", "SNAD ZTF viewer", "IRSA ZTF light curve", "Aladin Lite"}


def test_plots_saved_as_png_and_svg(window, tmp_path):
    from PySide6.QtGui import QImage

    from pvsvet.interop import save_plot

    pane = window.panes["latent"]
    png = save_plot(pane, tmp_path / "latent.png")
    img = QImage(str(png[0]))
    assert not img.isNull() and img.width() >= 200 and img.height() >= 100
    svg = save_plot(pane, tmp_path / "latent.svg")[0].read_text()
    assert "<svg" in svg and "</svg>" in svg and "path" in svg
    for key in ("light_curve", "hr", "sed"):
        files = save_plot(window.panes[key], tmp_path / f"{key}.png")
        assert files and all(QImage(str(f)).width() > 0 for f in files)
    with pytest.raises(ValueError, match="as .png or .svg"):
        save_plot(pane, tmp_path / "x.jpg")


def test_save_menu_lists_the_panes_with_plots(window):
    window.interop._fill_save()
    titles = [a.text() for a in window.interop.save_menu.actions()]
    assert "Latent space…" in titles and "Light curves…" in titles
    assert "Labels…" not in titles and "Ranked anomalies…" not in titles


@pytest.fixture
def topcat(hub):
    from astropy.samp import SAMPIntegratedClient

    c = SAMPIntegratedClient("TOPCAT-like", addr="127.0.0.1")
    c.connect()
    c.loaded = queue.Queue()
    c.bind_receive_notification("table.load.votable", lambda *a: c.loaded.put(a[4]))
    yield c
    c.disconnect()


def test_samp_from_the_window(window, topcat, qtbot):
    from astropy.table import Table

    state, io = window.state, window.interop
    rows = np.asarray(state.view.rows[[0, 5, 9]])
    state.selection.select(rows, int(rows[0]))
    tid = io.send_selection()
    assert tid is not None
    params = topcat.loaded.get(timeout=10)
    sent = Table.read(urlparse(params["url"]).path, format="votable")
    assert sorted(sent["id"]) == sorted(state.catalog.object_id(int(r)) for r in rows)
    # TOPCAT selects its rows 0 and 2: those objects become pvsvet's selection
    topcat.notify_all({"samp.mtype": "table.select.rowList", "samp.params": {
        "table-id": tid, "row-list": ["0", "2"]}})
    want = sorted(state.catalog.rows_of_ids([str(sent["id"][0]), str(sent["id"][2])]))
    qtbot.waitUntil(lambda: sorted(state.selection.rows.tolist()) == want, timeout=10000)
    # Aladin points at a star (1" off): it becomes the current object
    target = int(state.view.rows[20])
    ra = float(state.catalog.extra["ra"][target]) + 1 / 3600 / np.cos(
        np.radians(float(state.catalog.extra["dec"][target])))
    topcat.notify_all({"samp.mtype": "coord.pointAt.sky", "samp.params": {
        "ra": str(ra), "dec": str(float(state.catalog.extra["dec"][target]))}})
    qtbot.waitUntil(lambda: state.selection.current == target, timeout=10000)
    assert window.table.table.currentIndex().row() == state.view.position(target)
    io.shutdown()
    assert io.link is None


def test_author_flag_is_the_setting(qtbot, gui_store, tmp_path):
    """``pvsvet --author NAME`` records labels as NAME and keeps it, as the menu does."""
    from PySide6.QtCore import QSettings

    from pvsvet.app import main

    ini = tmp_path / "s.ini"
    assert main([str(gui_store), "--settings", str(ini), "--author", "zoe",
                 "--screenshot", str(tmp_path / "shot.png")]) == 0
    assert QSettings(str(ini), QSettings.IniFormat).value("labels/author") == "zoe"
