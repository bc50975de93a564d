"""fetch catalog: astroquery's Vizier against a local HTTPS server with recorded VOTables."""
from __future__ import annotations

import io
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import pytest

from engine.cli import main
from engine.errors import IngestError
from engine.ingest.fetch_catalog import Region, fetch_catalog
from engine.ingest.fetch_queue import FetchQueue

from ..tls_server import serve_tls

DATA = Path(__file__).resolve().parents[1] / "data"
TABLE2 = DATA / "ingest" / "chen_table2_mini.txt"


def _votable(n_rows: int) -> bytes:
    """A VizieR-shaped answer for J/ApJS/249/18/table2 (VizieR's RAJ2000/DEJ2000 names)."""
    from astropy.io.votable import from_table
    from astropy.table import Table

    rows = {"ID": [f"ZTFJ0000{i:02d}.00+200000.0" for i in range(n_rows)],
            "SourceID": np.arange(n_rows, dtype="i8") + 500,
            "RAJ2000": np.linspace(10, 11, n_rows), "DEJ2000": np.full(n_rows, 20.0),
            "Per": np.linspace(200, 400, n_rows), "R21": np.full(n_rows, 0.31),
            "phi21": np.full(n_rows, 4.1), "gmag": np.full(n_rows, 17.0),
            "rmag": np.full(n_rows, 15.5), "Num_g": np.full(n_rows, 80, "i4"),
            "Num_r": np.full(n_rows, 150, "i4"), "Amp_g": np.linspace(1, 2, n_rows),
            "Amp_r": np.linspace(0.8, 1.6, n_rows), "log_FAP_g": np.full(n_rows, -30.0),
            "log_FAP_r": np.full(n_rows, -40.0), "Type": ["Mira"] * n_rows}
    vot = from_table(Table(rows))
    vot.resources[0].tables[0].name = "J/ApJS/249/18/table2"
    buf = io.BytesIO()
    vot.to_xml(buf)
    return buf.getvalue()


def _empty_votable() -> bytes:
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n<VOTABLE version="1.4" '
            b'xmlns="http://www.ivoa.net/xml/VOTable/v1.3"><RESOURCE ID="yCat_22490018">'
            b'<INFO name="QUERY_STATUS" value="OK"/></RESOURCE></VOTABLE>\n')


class VizierHandler(BaseHTTPRequestHandler):
    mode = "ok"
    body: dict = {}

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        type(self).body = parse_qs(self.rfile.read(n).decode())
        mode = type(self).mode
        if mode == "slow":
            time.sleep(1.5)
        if mode == "error":
            return self._send(500, b"<html><body>VizieR internal error</body></html>",
                              "text/html")
        data = {"ok": _votable(3), "slow": _votable(3), "empty": _empty_votable(),
                "truncated": _votable(3)}[mode]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-votable+xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data if mode != "truncated" else data[: len(data) // 2])

    def _send(self, code, data, ctype):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def vizier(tmp_path, monkeypatch):
    """astroquery always speaks https: a local TLS server its requests session trusts."""
    pytest.importorskip("cryptography")
    server = serve_tls(VizierHandler, tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.cert))
    VizierHandler.mode = "ok"
    yield server.address
    server.shutdown()
    server.server_close()


def test_vizier_query_maps_through_table2(vizier):
    cat, feats = fetch_catalog(classes=["Mira", "SR"], region=Region(10.5, 20, 2.0),
                               max_mag=16, limit=50, server=vizier, timeout=5)
    # astroquery posts a VizieR script, one constraint a line
    script = [k + "=" + v[0] for k, v in VizierHandler.body.items()][0].splitlines()
    assert script[0] == "-source=J/ApJS/249/18/table2"
    assert "-out.max=50" in script and "rmag=<16" in script and "-c.rd=2.0" in script
    assert "Type==,Mira,SR" in script
    assert list(cat.id) == ["500", "501", "502"]
    assert cat.name[0] == "ZTFJ000000.00+200000.0"
    assert cat.ra[2] == pytest.approx(11.0) and cat.period[1] == pytest.approx(300.0)
    assert list(cat.cls) == ["Mira"] * 3
    assert feats["cpvs_Amp_g"][1] == pytest.approx(1.5)
    assert feats["cpvs_Num_r"][0] == 150 and feats["cpvs_log_FAP_r"][0] == -40


@pytest.mark.parametrize("mode, words", [("error", "query failed"), ("empty", "no rows"),
                                         ("truncated", "query failed"),
                                         ("slow", "query failed")])
def test_vizier_bad_answers_are_one_clear_error(vizier, mode, words):
    VizierHandler.mode = mode
    with pytest.raises(IngestError, match=words):
        fetch_catalog(classes=["Mira"], server=vizier, timeout=0.5)


def test_cli_local_table2_queues_rows_with_features(tmp_path, capsys):
    store = tmp_path / "s.h5"
    assert main(["fetch", "catalog", str(store), "--table", str(TABLE2), "--classes", "RR",
                 "Mira", "--region", "15.5", "0", "6", "--json"]) == 0
    with FetchQueue(store) as q:
        rows = q.todo()
    assert [r["id"] for r in rows] == ["101", "103"]
    assert rows[1]["period"] == pytest.approx(312.5) and rows[1]["class"] == "Mira"
    assert rows[0]["cpvs_R21"] == pytest.approx(0.41) and rows[0]["cpvs_Num_r"] == 240
    # the same rows again add nothing
    assert main(["fetch", "catalog", str(store), "--table", str(TABLE2), "--json"]) == 0
    assert '"added": 2' in capsys.readouterr().out.split("}")[-2]


def test_cli_missing_table_is_one_line(tmp_path, capsys):
    assert main(["fetch", "catalog", str(tmp_path / "s.h5"), "--table",
                 str(tmp_path / "nope.txt")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nope.txt" in err
