"""SAMP round trip with a hub started by the test (loopback) and a second client playing
TOPCAT: pvsvet sends a VOTable, 'TOPCAT' reads it and selects rows back, and points at
the sky; every listener binds 127.0.0.1."""
from __future__ import annotations

import queue

import numpy as np
import pytest

pytest.importorskip("astropy.samp")


@pytest.fixture
def topcat(hub):
    """A client that loads VOTables (records each) and can select rows back."""
    from astropy.samp import SAMPIntegratedClient

    c = SAMPIntegratedClient("TOPCAT-like", addr="127.0.0.1")
    c.connect()
    c.loaded = queue.Queue()

    def load(private_key, sender_id, msg_id, mtype, params, extra):
        c.loaded.put(params)
        if msg_id is not None:
            c.reply(msg_id, {"samp.status": "samp.ok", "samp.result": {}})

    c.bind_receive_message("table.load.votable", load)
    yield c
    c.disconnect()


def _link():
    from pvsvet.samp import SampLink

    got = {"rows": queue.Queue(), "point": queue.Queue()}
    link = SampLink(on_rows=lambda rows, who: got["rows"].put((rows, who)),
                    on_point=lambda ra, dec: got["point"].put((ra, dec)))
    return link, got


def _table(n=6):
    from astropy.table import Table

    return Table({"id": [f"obj{i}" for i in range(n)], "ra": np.linspace(10, 11, n),
                  "dec": np.linspace(-5, -4, n)})


def test_round_trip_table_out_rows_back(topcat):
    from astropy.table import Table
    from urllib.parse import urlparse

    link, got = _link()
    assert "connected" in link.connect(start_hub=False)
    try:
        assert "TOPCAT-like" in link.recipients().values()
        rows = np.array([40, 7, 13, 2, 99, 5])        # catalogue rows of table rows 0..5
        tid = link.send_table(_table(), rows, "pvsvet selection")
        params = topcat.loaded.get(timeout=10)
        assert params["table-id"] == tid and params["name"] == "pvsvet selection"
        back = Table.read(urlparse(params["url"]).path, format="votable")
        assert list(back["id"]) == [f"obj{i}" for i in range(6)]
        # TOPCAT selects table rows 1 and 4 → pvsvet gets catalogue rows 7 and 99
        topcat.notify_all({"samp.mtype": "table.select.rowList",
                           "samp.params": {"table-id": tid, "url": params["url"],
                                           "row-list": ["1", "4"]}})
        sel, who = got["rows"].get(timeout=10)
        assert list(sel) == [7, 99] and who == "TOPCAT-like"
        # as a call too (TOPCAT answers calls): replied with samp.ok
        cid = next(k for k, v in topcat_clients(topcat).items() if v == "pvsvet")
        reply = topcat.ecall_and_wait(cid, "table.select.rowList", "10", **{
            "table-id": tid, "row-list": ["0"]})
        assert reply["samp.status"] == "samp.ok"
        assert list(got["rows"].get(timeout=10)[0]) == [40]
        # a row list of a table pvsvet never sent is refused, not mapped onto ours
        reply = topcat.ecall_and_wait(cid, "table.select.rowList", "10", **{
            "table-id": "someone-else", "row-list": ["0"]})
        assert reply["samp.status"] == "samp.error" and got["rows"].empty()
        topcat.ecall_and_wait(cid, "coord.pointAt.sky", "10", ra="10.2", dec="-4.8")
        assert got["point"].get(timeout=10) == (10.2, -4.8)
    finally:
        link.close()


def topcat_clients(c) -> dict:
    return {cid: c.get_metadata(cid).get("samp.name", "") for cid in c.get_registered_clients()}


def test_pvsvet_sends_the_selection_rows_back(topcat):
    link, _ = _link()
    link.connect(start_hub=False)
    seen = queue.Queue()
    topcat.bind_receive_notification(
        "table.select.rowList", lambda *a: seen.put(a[4]))
    try:
        tid = link.send_table(_table(), np.array([40, 7, 13, 2, 99, 5]), "t")
        topcat.loaded.get(timeout=10)
        assert link.send_rows(tid, np.array([13, 5, 1000])) == 2
        params = seen.get(timeout=10)
        assert params["table-id"] == tid and params["row-list"] == ["2", "5"]
    finally:
        link.close()


def test_no_hub_is_one_clear_error(tmp_path, monkeypatch):
    from pvsvet.samp import SampError

    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{(tmp_path / 'none.lock').as_uri()}")
    link, _ = _link()
    with pytest.raises(SampError, match="no SAMP hub is running"):
        link.connect(start_hub=False)


def test_every_listener_binds_loopback_only(tmp_path, monkeypatch):
    """pvsvet's own hub (started when none runs) and its client listen on 127.0.0.1 and
    nowhere else: checked on the sockets, and on every listening socket of the process."""
    psutil = pytest.importorskip("psutil")
    monkeypatch.setenv("HOME", str(tmp_path))            # the hub writes ~/.samp here
    monkeypatch.delenv("SAMP_HUB", raising=False)
    link, _ = _link()
    before = _listening(psutil)
    text = link.connect(start_hub=True)
    try:
        assert "started a SAMP hub on 127.0.0.1" in text
        socks = link.listeners()
        assert len(socks) == 2 and all(addr == "127.0.0.1" for addr, _ in socks)
        new = _listening(psutil) - before
        assert new and all(addr == "127.0.0.1" for addr, _ in new), new
    finally:
        link.close()
    assert not (_listening(psutil) - before)             # closed: nothing left listening


def _listening(psutil) -> set:
    conns = psutil.Process().net_connections(kind="inet")
    return {(c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN}


def test_nearest_row():
    from pvsvet.samp import nearest_row

    ra = np.array([10.0, 10.001, np.nan, 200.0])
    dec = np.array([-5.0, -5.0, 0.0, 80.0])
    assert nearest_row(ra, dec, 10.0009, -5.0) == 1
    assert nearest_row(ra, dec, 10.1, -5.0) is None            # 6 arcmin away
    assert nearest_row(ra, dec, 200.0 + 1e-4, 80.0) == 3       # RA shrinks near the pole
    assert nearest_row(np.array([np.nan]), np.array([np.nan]), 0, 0) is None
