"""Failing services for the context stage, on a VizieR played by a local HTTPS server
(127.0.0.1, started here; astroquery's real client): HTTP errors, malformed and empty
answers, time-outs, a service that is gone, and the bound on a run's total query time.
The stage always finishes, records and counts each object's failures, and a rerun
fills exactly the gaps. (A network dropping mid-run: test_context_crossmatch.py;
objects without a position: test_context_positions.py; fetch: test_fetch_lightcurves.py.)"""
from __future__ import annotations

import dataclasses
import threading
import time
import pytest

from engine.config import ContextConfig
from engine.context import ContextStatus, load_context, run_context
from engine.ingest.fetch_lightcurves import fetch_lightcurves
from engine.ingest.fetch_queue import FetchQueue
from engine.progress import run_quiet

from ..engine.test_context_crossmatch import STARS, FakeVizier, _store
from ..engine.test_fetch_lightcurves import SLOW, IrsaHandler, irsa  # noqa: F401 (fixture)
from ..engine.test_fetch_lightcurves import _cfg as irsa_cfg
from ..tls_server import serve_tls

TWOMASS = "II/246/out"


class FailingVizier(FakeVizier):
    """The recorded answers, except for the catalogues in ``server.modes``."""

    def do_POST(self):
        srv = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        params = dict(line.split("=", 1) for line in body.splitlines() if "=" in line)
        with srv.lock:
            srv.n += 1
            srv.requests.append(params)
        mode = srv.modes.get(params.get("-source", ""), srv.modes.get("*"))
        if mode == "slow":
            time.sleep(srv.slow_s)
        elif mode == "http500":
            return self._send(500, b"Internal Server Error", "text/plain")
        elif mode == "malformed":
            return self._send(200, b"<?xml version='1.0'?><VOTABLE><RESOURCE><TABLE>"
                                   b"<FIELD name='Source'", "text/xml")
        elif mode == "empty_body":
            return self._send(200, b"", "text/xml")
        elif mode == "html":
            return self._send(200, b"<html><body>Service unavailable</body></html>",
                              "text/html")
        self._send(200, self._answer(params).encode(), "text/xml;charset=UTF-8")

    def _send(self, code: int, payload: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture(scope="module")
def failing_server(tmp_path_factory):
    srv = serve_tls(FailingVizier, tmp_path_factory.mktemp("tls"))
    srv.lock = threading.Lock()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def server(failing_server, monkeypatch):
    failing_server.n, failing_server.requests, failing_server.modes = 0, [], {}
    failing_server.slow_s = 0.0
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(failing_server.cert))
    return failing_server


def _cfg(address: str, **kw) -> ContextConfig:
    opts = dict(vizier_server=address, timeout_s=5, retries=0, backoff_s=0.01, rate_per_s=1000,
                extinction_fallback="none", hr_background=False, max_consecutive_failures=10)
    return ContextConfig(**{**opts, **kw})


def _failed_catalogues(path, row: int) -> list[str]:
    return sorted(k for k, v in load_context(path, row)["crossmatch"].items()
                  if v["state"] == "failed")


@pytest.mark.parametrize("mode", ["http500", "malformed", "empty_body", "html", "timeout"])
def test_a_failing_catalogue_is_recorded_per_object_and_a_rerun_fills_it(mode, tmp_path,
                                                                           server):
    path = _store(tmp_path, STARS)
    server.modes = {TWOMASS: "slow" if mode == "timeout" else mode}
    server.slow_s = 3.0
    first = run_quiet(run_context(path, _cfg(server.address, timeout_s=0.5)))
    assert first["objects"] == 3 and first["query_failed"] == 3
    for row in range(3):
        rec = load_context(path, row)
        assert rec["status"] & ContextStatus.QUERY_FAILED
        assert _failed_catalogues(path, row) == [TWOMASS] and TWOMASS in rec["message"]
    assert load_context(path, 0)["fit"] is not None          # the other catalogues' bands
    server.modes, server.n = {}, 0
    second = run_quiet(run_context(path, _cfg(server.address)))
    assert second["query_failed"] == 0 and second["not_cached"] == 0
    assert server.n == 3                                     # only the three 2MASS gaps
    assert all(not _failed_catalogues(path, row) for row in range(3))


def test_a_service_that_is_gone_ends_the_run_cleanly(tmp_path, server):
    """Nothing listens (connection refused): after max_consecutive_failures objects the
    stage stops asking and reads the cache only; every object is recorded and counted."""
    path = _store(tmp_path, STARS)
    summary = run_quiet(run_context(path, _cfg("127.0.0.1:9", max_consecutive_failures=2)))
    assert summary["objects"] == 3
    assert summary["query_failed"] == 2 and summary["not_cached"] == 1
    assert summary["requests"] == 2 * 5                      # then no further requests
    assert load_context(path, 2)["status"] & ContextStatus.NOT_CACHED
    again = run_quiet(run_context(path, _cfg(server.address)))
    assert again["query_failed"] == again["not_cached"] == 0 and server.n == 3 * 5


def test_total_query_time_is_bounded_by_max_query_s(tmp_path, server):
    """Every answer takes 1 s; a budget of 1.5 s allows two requests (the second cut by
    the budget), the rest is flagged not cached without a request, and a rerun without
    the budget fills the gaps."""
    path = _store(tmp_path, STARS)
    server.modes, server.slow_s = {"*": "slow"}, 1.0
    summary = run_quiet(run_context(path, _cfg(server.address, max_query_s=1.5)))
    assert summary["out_of_time"] and summary["objects"] == 3
    assert server.n <= 2                                     # 15 queries unbounded
    assert summary["not_cached"] >= 2
    rec = load_context(path, 2)
    assert rec["status"] & ContextStatus.NOT_CACHED and "time budget" in rec["message"]
    server.modes, server.n = {}, 0
    again = run_quiet(run_context(path, _cfg(server.address)))
    assert not again["out_of_time"] and again["query_failed"] == again["not_cached"] == 0
    assert 15 - summary["requests"] <= server.n < 15        # what the first run left


# -- fetch lightcurves (IRSA played by a local HTTP server: test_fetch_lightcurves.py) ---
def _queue(store, rows):
    with FetchQueue(store) as q:
        q.add([{"id": i, "name": "", "ra": ra, "dec": dec, "period": 0.5, "class": "RR"}
               for i, ra, dec in rows])


def test_fetch_never_queries_objects_without_a_position(tmp_path, irsa):  # noqa: F811
    store = tmp_path / "s.h5"
    _queue(store, [("good", 20.0, 20.0), ("no_ra", float("nan"), 20.0),
                   ("no_dec", 21.0, float("nan"))])
    summary = run_quiet(fetch_lightcurves(store, irsa_cfg(irsa)))
    assert summary["done"] == 1 and summary["failed"] == 2
    assert {f["id"]: f["reason"] for f in summary["failures"]} == {
        "no_ra": "no position in the catalogue", "no_dec": "no position in the catalogue"}
    assert set(IrsaHandler.hits) == {20.0}                   # the others were never asked


def test_fetch_total_time_is_bounded_by_max_seconds(tmp_path, irsa):  # noqa: F811
    """Each answer takes 1 s; with max_seconds = 1.5 no batch starts after the first
    (two objects); the rest stays queued and a plain rerun fetches exactly those."""
    store = tmp_path / "s.h5"
    _queue(store, [(f"S{i}", SLOW, 20.0) for i in range(8)])
    cfg = irsa_cfg(irsa, workers=1, batch=2, timeout=5.0)
    first = run_quiet(fetch_lightcurves(store, dataclasses.replace(cfg, max_seconds=1.5)))
    assert first["out_of_time"] and first["fetched"] == 2 and first["pending"] == 6
    assert IrsaHandler.hits[SLOW] == 2
    second = run_quiet(fetch_lightcurves(store, cfg))
    assert not second["out_of_time"] and second["fetched"] == 6 and second["pending"] == 0
    assert IrsaHandler.hits[SLOW] == 8                       # nothing fetched twice
