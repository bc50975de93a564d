"""fetch lightcurves: the real requests + astropy client against a local IRSA-shaped server."""
from __future__ import annotations

import dataclasses
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

from engine.cli import main
from engine.ingest.fetch_lightcurves import FetchConfig, fetch_lightcurves
from engine.ingest.fetch_queue import FetchQueue
from engine.progress import drive
from engine.store import BAND_CODE, Store

DATA = Path(__file__).resolve().parents[1] / "data" / "fetch"
HEADER = (DATA / "irsa_two_oids.csv").read_text().splitlines()[0]

# positions that pick a recorded answer (RA, deg)
MULTI, FAIL500, EMPTY, TRUNC, SLOW, PAGE = 10.0, 11.0, 12.0, 13.0, 14.0, 15.0


def _synthetic(ra: float, dec: float) -> str:
    """A normal answer: one g and one r oid, deterministic in the position."""
    rng = np.random.default_rng(int(ra * 1000))
    lines = [HEADER]
    for band, oid in (("zg", 1000 + int(ra * 10)), ("zr", 2000 + int(ra * 10))):
        for k in range(12):
            mjd = 58200.0 + 3.1 * k + (0.01 if band == "zr" else 0.0)
            mag = 15 + 0.3 * np.sin(k) + rng.normal(0, 0.01)
            lines.append(f"{oid},1,{mjd + 2400000.5:.7f},{mjd:.7f},{mag:.4f},0.0120,0,{band},"
                         f"{ra:.7f},{dec:.7f},1,0,1,686,3,1,20.6,26.2,0.03,0.0,0.0,30,1.1,1")
    return "\n".join(lines) + "\n"


class IrsaHandler(BaseHTTPRequestHandler):
    hits: dict = {}
    lock = threading.Lock()

    def log_message(self, *args):   # keep pytest output clean
        pass

    def do_GET(self):
        q = parse_qs(urlparse(self.path).query)
        _, ra, dec, _ = q["POS"][0].split()
        ra, dec = float(ra), float(dec)
        with self.lock:
            self.hits[ra] = self.hits.get(ra, 0) + 1
            self.params = q
            type(self).last = q
        if ra == FAIL500:
            return self._send(500, b"Internal Server Error", "text/plain")
        if ra == SLOW:
            time.sleep(1.0)
        if ra == TRUNC:
            body = _synthetic(ra, dec).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])   # the connection drops mid-transfer
            self.wfile.flush()
            self.close_connection = True
            return
        if ra == MULTI:
            body = (DATA / "irsa_two_oids.csv").read_bytes()
        elif ra == EMPTY:
            body = (DATA / "irsa_empty.csv").read_bytes()
        elif ra == PAGE:
            return self._send(200, (DATA / "irsa_error.html").read_bytes(), "text/html")
        else:
            body = _synthetic(ra, dec).encode()
        self._send(200, body, "text/csv")

    def _send(self, code, body, ctype):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture()
def irsa():
    IrsaHandler.hits = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), IrsaHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/ZTF/nph_light_curves"
    server.shutdown()
    server.server_close()


def _cfg(url, **kw):
    return dataclasses.replace(FetchConfig(url=url, rate=0, retries=1, backoff=0.01,
                                           timeout=0.5, workers=3, batch=4), **kw)


def _queue(store, ras):
    with FetchQueue(store) as q:
        q.add([{"id": f"S{int(ra * 10)}", "name": "", "ra": ra, "dec": 20.0, "period": 0.5,
                "class": "RR", "cpvs_R21": 0.4, "cpvs_Amp_g": 0.8} for ra in ras])


def test_mapping_merged_oids_catflags_and_failures(tmp_path, irsa):
    store = tmp_path / "s.h5"
    _queue(store, [MULTI, FAIL500, EMPTY, TRUNC, SLOW, PAGE])
    summary = drive(fetch_lightcurves(store, _cfg(irsa)), show=False)
    assert summary["done"] == 1 and summary["failed"] == 5
    reasons = {f["id"]: f["reason"] for f in summary["failures"]}
    assert "HTTP 500" in reasons["S110"]
    assert "no ZTF light curve" in reasons["S120"]
    assert "transfer broken" in reasons["S130"]
    assert "time-out" in reasons["S140"]
    assert "page, not a table" in reasons["S150"]
    assert IrsaHandler.hits[FAIL500] == 2          # one retry
    assert IrsaHandler.last["BANDNAME"] == ["g,r"] and IrsaHandler.last["FORMAT"] == ["csv"]
    with Store(store) as st:
        objs = st.read_objects()
        lc = st.lightcurve(0)
    assert list(objs["id"]) == ["S100"]
    assert objs["ztf_oids"][0].split() == ["686103400034440", "686203400023312",
                                           "737103400012201"]
    assert objs["ra"][0] == 10.0 and objs["period"][0] == 0.5 and objs["class"][0] == "RR"
    assert objs["cpvs_R21"][0] == pytest.approx(0.4)
    # 8 rows, catflags 32768 and 2 dropped: 3 g (two oids) and 3 r
    assert (lc.band == BAND_CODE["g"]).sum() == 3 and (lc.band == BAND_CODE["r"]).sum() == 3
    assert not np.isin(np.float32([15.811, 15.260]), lc.mag).any()
    # heliocentric JD -> HJD - 2400000.5, as the Chen files store it
    assert lc.time.min() == pytest.approx(2458202.9660413 - 2400000.5, abs=1e-6)
    assert objs["n_g"][0] == 3 and objs["n_r"][0] == 3


def test_failed_objects_are_retried_on_request(tmp_path, irsa, capsys):
    store = tmp_path / "s.h5"
    _queue(store, [20.0, FAIL500])
    drive(fetch_lightcurves(store, _cfg(irsa)), show=False)
    IrsaHandler.hits.clear()
    again = drive(fetch_lightcurves(store, _cfg(irsa)), show=False)
    assert again["fetched"] == 0 and IrsaHandler.hits == {}      # failed not retried
    assert main(["fetch", "status", str(store)]) == 0
    assert "failed S110: HTTP 500" in capsys.readouterr().out
    assert main(["fetch", "lightcurves", str(store), "--url", irsa, "--retry-failed",
                 "--retries", "0", "--rate", "0", "--quiet"]) == 0
    assert IrsaHandler.hits == {FAIL500: 1}
    with FetchQueue(store) as q:
        assert q.summary()["failures"][0]["attempts"] == 2


def test_resume_after_cancel_equals_uninterrupted(tmp_path, irsa):
    ras = [20.0 + i for i in range(10)]
    whole = tmp_path / "whole.h5"
    _queue(whole, ras)
    drive(fetch_lightcurves(whole, _cfg(irsa)), show=False)
    IrsaHandler.hits.clear()
    part = tmp_path / "part.h5"
    _queue(part, ras)
    gen = fetch_lightcurves(part, _cfg(irsa))
    next(gen)          # start
    next(gen)          # one batch of 4 stored
    gen.close()        # the user cancels
    with Store(part) as st:
        assert st.n_objects == 4
    first = dict(IrsaHandler.hits)
    drive(fetch_lightcurves(part, _cfg(irsa)), show=False)
    # no object fetched twice, none duplicated
    assert all(n == 1 for n in IrsaHandler.hits.values()) and len(IrsaHandler.hits) == 10
    assert set(first) < set(IrsaHandler.hits)
    with Store(whole) as a, Store(part) as b:
        oa, ob = a.read_objects(), b.read_objects()
        assert list(oa["id"]) == list(ob["id"]) and len(set(ob["id"])) == 10
        for col in ("ra", "dec", "period", "n_g", "n_r", "ztf_oids"):
            assert list(oa[col]) == list(ob[col])
        for i in range(10):
            la, lb = a.lightcurve(i), b.lightcurve(i)
            assert np.array_equal(la.time, lb.time) and np.array_equal(la.mag, lb.mag)
            assert np.array_equal(la.band, lb.band)


def test_append_before_queue_update_is_not_duplicated(tmp_path, irsa):
    """A kill between the store append and the queue update: the store is the truth."""
    store = tmp_path / "s.h5"
    _queue(store, [20.0, 21.0])
    drive(fetch_lightcurves(store, _cfg(irsa)), show=False)
    with FetchQueue(store) as q:       # as if killed before the queue was updated
        q._db.execute("UPDATE state SET state = 'pending'")
        q._db.commit()
    IrsaHandler.hits.clear()
    out = drive(fetch_lightcurves(store, _cfg(irsa)), show=False)
    assert out["fetched"] == 0 and out["done"] == 2 and IrsaHandler.hits == {}
    with Store(store) as st:
        assert st.n_objects == 2


def test_nothing_queued_is_one_line(tmp_path, capsys):
    assert main(["fetch", "lightcurves", str(tmp_path / "none.h5")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "fetch catalog" in err


def test_offline_run_keeps_the_queue_and_resumes(tmp_path, irsa, capsys):
    store = tmp_path / "s.h5"
    _queue(store, [20.0 + i for i in range(6)])
    drive(fetch_lightcurves(store, _cfg(irsa, batch=2)), show=False)
    with Store(store) as st:
        st_n = st.n_objects
    assert st_n == 6
    # a second store whose service is down: nothing marked failed, one clear line
    off = tmp_path / "off.h5"
    _queue(off, [20.0 + i for i in range(6)])
    dead = "http://127.0.0.1:9/cgi-bin/ZTF/nph_light_curves"     # discard port: refused
    assert main(["fetch", "lightcurves", str(off), "--url", dead, "--retries", "0",
                 "--rate", "0", "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unreachable" in err and "resume" in err
    with FetchQueue(off) as q:
        assert q.summary()["pending"] == 6 and q.summary()["failed"] == 0
    assert main(["fetch", "lightcurves", str(off), "--url", irsa, "--rate", "0",
                 "--quiet"]) == 0
    with Store(store) as a, Store(off) as b:
        assert list(a.read_objects(["id"])["id"]) == list(b.read_objects(["id"])["id"])


def test_release_is_sent_as_the_collection(tmp_path, irsa):
    store = tmp_path / "s.h5"
    _queue(store, [20.0])
    drive(fetch_lightcurves(store, _cfg(irsa, release="DR23")), show=False)
    assert IrsaHandler.last["COLLECTION"] == ["ztf_dr23"]
    assert IrsaHandler.last["POS"][0].startswith("CIRCLE 20.0000000 20.0000000 0.00041")
