"""Cross-match on recorded VizieR answers, served over HTTPS to astroquery's real client.

A local HTTPS server on 127.0.0.1 plays VizieR: it answers astroquery's POST to
``/viz-bin/votable`` with the recorded VOTable of the requested catalogue and position
(``tests/data/context``), so ``Vizier.query_region`` runs its real request and parsing
code. It can drop connections after k requests to simulate a network failing mid-run.
"""
from __future__ import annotations

import dataclasses
import json
import re
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import numpy as np
import pytest

from engine.config import ContextConfig
from engine.context import ContextStatus, hr_background, load_context, run_context
from engine.context.crossmatch import CATALOGS, NotCached, VizierCache, VizierClient
from engine.progress import run_quiet
from engine.store import LightCurve, Store

from ..tls_server import serve_tls

DATA = Path(__file__).resolve().parents[1] / "data" / "context"
STARS = json.loads((DATA / "stars.json").read_text())


class FakeVizier(BaseHTTPRequestHandler):
    """Answers like VizieR's ``/viz-bin/votable`` from the recorded files."""

    def log_message(self, *args):   # keep test output clean
        pass

    def do_POST(self):
        srv = self.server
        with srv.lock:
            srv.n += 1
            n = srv.n
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        if srv.fail_after is not None and n > srv.fail_after:
            self.close_connection = True
            self.connection.close()        # the network drops: no response at all
            return
        params = dict(line.split("=", 1) for line in body.splitlines() if "=" in line)
        srv.requests.append(params)
        payload = self._answer(params).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/xml;charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _answer(self, params) -> str:
        m = re.match(r"^([\d.]+)([+-][\d.]+)$", params.get("-c", ""))
        source = params.get("-source", "")
        if m:
            ra, dec = float(m.group(1)), float(m.group(2))
            for star in STARS:
                if abs(star["ra"] - ra) < 1e-3 and abs(star["dec"] - dec) < 1e-3:
                    path = DATA / f"{star['name']}__{source.replace('/', '_')}.vot.xml"
                    if path.exists():
                        return path.read_text()
        if "-c" not in params and source == "I/355/gaiadr3":     # field stars (constraints)
            return (DATA / "star_a__I_355_gaiadr3.vot.xml").read_text()
        return (DATA / "empty.vot.xml").read_text()


@pytest.fixture(scope="module")
def vizier_server(tmp_path_factory):
    srv = serve_tls(FakeVizier, tmp_path_factory.mktemp("tls"))
    srv.lock, srv.n, srv.fail_after, srv.requests = threading.Lock(), 0, None, []
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def server(vizier_server, monkeypatch):
    """The server, reset, with its certificate trusted by requests (astroquery's session)."""
    vizier_server.n, vizier_server.fail_after = 0, None
    vizier_server.requests.clear()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(vizier_server.cert))
    return vizier_server


def _client(tmp_path, server, **kw) -> VizierClient:
    opts = dict(server=server.address, timeout_s=5, retries=1, rate_per_s=0, backoff_s=0.01)
    opts.update(kw)
    return VizierClient(VizierCache(tmp_path / "cache"), **opts)


def test_cone_parses_recorded_votable_and_caches_it(tmp_path, server):
    star = STARS[0]
    gaia = CATALOGS[0]
    client = _client(tmp_path, server)
    table, meta = client.cone(gaia, star["ra"], star["dec"], 2.0)
    assert not meta["cached"] and server.n == 1
    assert server.requests[0]["-source"] == "I/355/gaiadr3"
    assert "Gmag" in table.colnames and len(table) == 2
    assert str(table["Gmag"].unit) == "mag"
    again, meta2 = _client(tmp_path, server, offline=True).cone(gaia, star["ra"], star["dec"], 2.0)
    assert meta2["cached"] and server.n == 1            # second read: the cache, no request
    assert meta2["fetched"] == meta["fetched"]
    np.testing.assert_allclose(np.asarray(again["Gmag"]), np.asarray(table["Gmag"]))


def test_offline_miss_raises_not_cached(tmp_path, server):
    with pytest.raises(NotCached, match="not in the cache"):
        _client(tmp_path, server, offline=True).cone(CATALOGS[0], 10.0, 20.0, 2.0)
    assert server.n == 0


def _store(tmp_path, stars) -> Path:
    path = tmp_path / "s.h5"
    lc = LightCurve(np.arange(3.0), np.ones(3), np.ones(3) * 0.1, np.zeros(3, "u1"))
    with Store.create(path) as st:
        st.append_objects({"id": [s["name"] for s in stars], "ra": [s["ra"] for s in stars],
                           "dec": [s["dec"] for s in stars], "class": ["Mira"] * len(stars)},
                          [lc] * len(stars))
    return path


def test_stage_on_recorded_answers(tmp_path, server):
    path = _store(tmp_path, STARS)
    cfg = ContextConfig(vizier_server=server.address, timeout_s=5, retries=0, rate_per_s=0,
                        extinction_fallback="none", hr_background=True)
    summary = run_quiet(run_context(path, cfg))
    bg = hr_background(path)                     # online: Gaia field stars, parallax M_G
    assert bg is not None and len(bg["M_G"]) == 2
    assert bg["M_G"][1] == pytest.approx(11.2856 + 5 * np.log10(0.5 / 100), abs=1e-3)
    assert any(r.get("Plx") == ">5" for r in server.requests)
    assert summary["objects"] == 3 and summary["query_failed"] == 0
    a = load_context(path, 0)
    xm = a["crossmatch"]
    assert xm["I/355/gaiadr3"]["state"] == "ok"
    assert xm["I/355/gaiadr3"]["sep_arcsec"] < 0.1          # the nearest, not the first row
    assert xm["I/352/gedr3dis"]["id"] == xm["I/355/gaiadr3"]["id"]
    assert a["distance_pc"] == pytest.approx(STARS[0]["distance_pc"])
    assert a["ebv_source"] == "none" and not a["sed"]["dereddened"]
    assert a["status"] & ContextStatus.NOT_DEREDDENED
    assert a["fit"]["lum_lsun"] == pytest.approx(STARS[0]["lum_lsun"], rel=0.1)
    c = load_context(path, 2)
    assert xm and c["crossmatch"]["II/349/ps1"]["state"] == "no match"
    assert np.isnan(c["sed"]["flux_jy"][:5]).all() and c["fit"] is not None   # 2MASS+WISE


def test_network_drops_mid_run_then_rerun_fills_gaps(tmp_path, server):
    path = _store(tmp_path, STARS)
    cfg = ContextConfig(vizier_server=server.address, timeout_s=5, retries=1, backoff_s=0.01,
                        rate_per_s=0, extinction_fallback="none", hr_background=False,
                        max_consecutive_failures=1)
    server.fail_after = 7                     # star_a's five queries and two of star_b's
    first = run_quiet(run_context(path, cfg))
    assert first["objects"] == 3 and first["query_failed"] >= 1
    b = load_context(path, 1)
    assert b["status"] & ContextStatus.QUERY_FAILED and "I/" in b["message"] + "II/"
    assert load_context(path, 0)["fit"] is not None           # finished work was kept
    c = load_context(path, 2)                                  # went offline after the failure
    assert c["status"] & ContextStatus.NOT_CACHED
    server.fail_after, server.n = None, 0
    second = run_quiet(run_context(path, dataclasses.replace(cfg)))
    assert second["query_failed"] == 0 and second["not_cached"] == 0
    assert server.n == 3 + 5                  # only the gaps: star_b 3 catalogues, star_c 5
    for row in range(3):
        rec = load_context(path, row)
        assert not rec["status"] & (ContextStatus.QUERY_FAILED | ContextStatus.NOT_CACHED)
        assert rec["fit"] is not None


@pytest.mark.network
def test_live_vizier_gaia_cone(tmp_path):
    """Live query (run with -m network): Betelgeuse in Gaia DR3."""
    client = VizierClient(VizierCache(tmp_path), timeout_s=30, retries=2)
    table, meta = client.cone(CATALOGS[3], 88.792939, 7.407064, 5.0)   # 2MASS
    assert table is not None and len(table) >= 1 and not meta["cached"]
