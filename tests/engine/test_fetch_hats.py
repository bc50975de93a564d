"""fetch lightcurves --hats: lsdb on a generated ZTF DR HATS catalogue equals the per-object path."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

from engine.benchmarks.fetch import synthetic_ztf, write_hats
from engine.cli import main
from engine.ingest.fetch_hats import fetch_hats
from engine.ingest.fetch_lightcurves import FetchConfig, fetch_lightcurves
from engine.ingest.fetch_queue import FetchQueue
from engine.progress import drive
from engine.store import Store

pytest.importorskip("lsdb")

N_STARS = 60
HEADER = ("oid,expid,hjd,mjd,mag,magerr,catflags,filtercode,ra,dec,chi,sharp,filefracday,"
          "field,ccdid,qid,limitmag,magzp,magzprms,clrcoeff,clrcounc,exptime,airmass,programid")


def _irsa_answer(frame, ra, dec, radius):
    """What IRSA's cone answers for the same DR objects: one CSV row per epoch."""
    d = np.degrees(np.arccos(np.clip(
        np.sin(np.radians(dec)) * np.sin(np.radians(frame["objdec"].to_numpy()))
        + np.cos(np.radians(dec)) * np.cos(np.radians(frame["objdec"].to_numpy()))
        * np.cos(np.radians(frame["objra"].to_numpy() - ra)), -1, 1)))
    lines = [HEADER]
    for k in np.flatnonzero(d <= radius):
        r = frame.iloc[k]
        band = {1: "zg", 2: "zr", 3: "zi"}[int(r["filterid"])]
        for t, m, e, f in zip(*(np.asarray(r[c]).tolist() for c in
                               ("hmjd", "mag", "magerr", "catflags"))):
            lines.append(f"{r['objectid']},1,{t + 2400000.5!r},{t!r},{m!r},{e!r},{f},{band},"
                         f"{float(r['objra'])!r},{float(r['objdec'])!r},1,0,1,{r['fieldid']},"
                         "1,1,20.5,26.2,"
                         "0.03,0,0,30,1.1,1")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hats")
    frame, rows = synthetic_ztf(N_STARS, epochs=15, seed=3)
    return frame, rows, write_hats(frame, tmp / "ztf_hats")


def test_lsdb_path_equals_per_object_path(tmp_path, generated):
    frame, rows, hats = generated
    radius = FetchConfig().radius

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            _, ra, dec, rad = parse_qs(urlparse(self.path).query)["POS"][0].split()
            body = _irsa_answer(frame, float(ra), float(dec), float(rad)).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        web, bulk = tmp_path / "web.h5", tmp_path / "bulk.h5"
        for store in (web, bulk):
            with FetchQueue(store) as q:
                q.add(rows)
        url = f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/ZTF/nph_light_curves"
        drive(fetch_lightcurves(web, FetchConfig(url=url, rate=0, workers=4, batch=25)),
              show=False)
    finally:
        server.shutdown()
        server.server_close()
    assert main(["fetch", "lightcurves", str(bulk), "--hats", hats, "--dask-local", "1",
                 "--batch", "25", "--quiet"]) == 0
    with Store(web) as a, Store(bulk) as b:
        oa, ob = a.read_objects(), b.read_objects()
        assert a.n_objects == b.n_objects == N_STARS
        merged = sum(len(s.split()) > 2 for s in ob["ztf_oids"])
        assert merged > 0                      # some stars had a second g object
        for col in ("id", "ra", "dec", "period", "n_g", "n_r", "ztf_oids", "status"):
            assert list(oa[col]) == list(ob[col]), col
        for i in range(N_STARS):
            la, lb = a.lightcurve(i), b.lightcurve(i)
            assert np.allclose(la.time, lb.time, rtol=0, atol=1e-7)   # HJD - 2400000.5
            assert np.array_equal(la.mag, lb.mag) and np.array_equal(la.band, lb.band)
            assert np.array_equal(la.magerr, lb.magerr)
    # in chunks of the queue (bounded memory) the result is the same
    chunked = tmp_path / "chunked.h5"
    with FetchQueue(chunked) as q:
        q.add(rows)
    drive(fetch_hats(chunked, hats, dask_local=1, chunk=25), show=False)
    with Store(bulk) as b, Store(chunked) as c:
        assert list(b.read_objects(["id"])["id"]) == list(c.read_objects(["id"])["id"])
        for i in range(N_STARS):
            assert np.array_equal(b.lightcurve(i).time, c.lightcurve(i).time)
    # the catalogue's flagged epochs are not in the store
    n_good = sum(int((np.asarray(f) == 0).sum()) for f in frame["catflags"])
    with Store(bulk) as b:
        assert b.lightcurves(0, N_STARS) and sum(len(lc) for lc in
                                                 b.lightcurves(0, N_STARS)) <= n_good


def test_unreadable_hats_is_one_line(tmp_path, capsys):
    store = tmp_path / "s.h5"
    with FetchQueue(store) as q:
        q.add([{"id": "a", "ra": 1.0, "dec": 2.0}])
    assert main(["fetch", "lightcurves", str(store), "--hats", str(tmp_path / "nothing"),
                 "--dask-local", "1", "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nothing" in err
