"""SAMP (astropy.samp): send tables to TOPCAT or Aladin, take their row selections back.

No Qt here. :class:`SampLink` is one SAMP client of pvsvet. It sends a target list as
``table.load.votable`` (a VOTable written to a private temporary folder and named by a
``file://`` URL, how SAMP hands tables between programs of one machine) and listens for

- ``table.select.rowList``: rows of a table pvsvet sent, mapped back to catalogue rows;
- ``coord.pointAt.sky``: a sky position, mapped to the nearest object within
  :data:`POINT_ARCSEC`.

Both arrive on astropy's XML-RPC thread; the callbacks given to :class:`SampLink` are
called there, so the GUI turns them into a queued Qt signal before it touches a widget.

Every socket is bound to the loopback address: the client's own XML-RPC server, and the
hub when pvsvet starts one (astropy would otherwise listen on the host name whenever the
machine is online, reachable by anyone on the network).
"""
from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from itertools import count
from pathlib import Path
from typing import Callable

import numpy as np

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
#: A sky position from another tool selects the nearest object within this (arcsec): a
#: click in Aladin lands within a few arcsec of the star it meant.
POINT_ARCSEC = 5.0
ROW_LIST = "table.select.rowList"
POINT_AT = "coord.pointAt.sky"
LOAD_VOTABLE = "table.load.votable"


class SampError(RuntimeError):
    """No hub, or the hub refused a message (the message says which and why)."""


def nearest_row(ra: np.ndarray, dec: np.ndarray, ra0: float, dec0: float,
                max_arcsec: float = POINT_ARCSEC) -> int | None:
    """The row nearest to (ra0, dec0) in degrees, or None if none is within
    ``max_arcsec`` (haversine distance; NaN positions never match)."""
    ra, dec = np.radians(np.asarray(ra, float)), np.radians(np.asarray(dec, float))
    a0, d0 = np.radians(ra0), np.radians(dec0)
    h = (np.sin((dec - d0) / 2) ** 2
         + np.cos(dec) * np.cos(d0) * np.sin((ra - a0) / 2) ** 2)
    sep = 2 * np.degrees(np.arcsin(np.sqrt(np.clip(h, 0, 1)))) * 3600
    if not len(sep) or not np.isfinite(sep).any():
        return None
    best = int(np.nanargmin(sep))
    return best if sep[best] <= max_arcsec else None


class SampLink:
    """pvsvet's SAMP client.

    Parameters
    ----------
    on_rows : called with (catalogue rows, sender name) when another tool selects rows
        of a table pvsvet sent
    on_point : called with (ra, dec) in degrees when another tool points at the sky
    """

    def __init__(self, on_rows: Callable[[np.ndarray, str], None] | None = None,
                 on_point: Callable[[float, float], None] | None = None):
        self.on_rows, self.on_point = on_rows, on_point
        self.client = None
        self.hub = None                     # the hub pvsvet started, if it did
        self._sent: dict[str, np.ndarray] = {}   # table-id -> catalogue rows, in table order
        self._urls: dict[str, str] = {}          # url -> table-id (some tools send only the url)
        self._ids = count(1)
        self._lock = threading.Lock()
        self._folder: Path | None = None

    # -- connecting -------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.is_connected

    def connect(self, start_hub: bool = True) -> str:
        """Join the running hub or, with ``start_hub`` and none running, start one on the
        loopback address; return a line saying which."""
        from astropy.samp import SAMPHubError, SAMPHubServer, SAMPIntegratedClient

        if self.connected:
            return "already connected"
        started = ""
        client = SAMPIntegratedClient("pvsvet", description="pvsvet: anomalous periodic "
                                      "variable stars", addr=LOOPBACK)
        try:
            client.connect()
        except SAMPHubError:
            if not start_hub:
                raise SampError("no SAMP hub is running (start TOPCAT or Aladin, or let "
                                "pvsvet start one)") from None
            self.hub = SAMPHubServer(addr=LOOPBACK, web_profile=False, label="pvsvet")
            self.hub.start()
            started = "started a SAMP hub on 127.0.0.1 and "
            client.connect()
        self.client = client
        client.bind_receive_message(ROW_LIST, self._received_rows)
        client.bind_receive_message(POINT_AT, self._received_point)
        return started + "connected to SAMP"

    def close(self) -> None:
        """Leave the hub (and stop it if pvsvet started it); remove the sent tables."""
        if self.client is not None:
            try:
                if self.client.is_connected:
                    self.client.disconnect()
            except Exception as exc:  # a hub that went away first: nothing left to leave
                logger.info("SAMP disconnect: %s", exc)
            self.client = None
        if self.hub is not None:
            self.hub.stop()
            self.hub = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def listeners(self) -> list[tuple[str, int]]:
        """``(address, port)`` of every socket this link listens on (tested: loopback only)."""
        out = []
        if self.client is not None and self.client.client is not None:
            out.append(self.client.client.client.socket.getsockname()[:2])
        if self.hub is not None:
            out.append(self.hub._server.socket.getsockname()[:2])
        return out

    # -- sending ------------------------------------------------------------------------
    def recipients(self, mtype: str = LOAD_VOTABLE) -> dict[str, str]:
        """client id -> name of the clients that accept ``mtype``."""
        self._need()
        out = {}
        for cid in self.client.get_subscribed_clients(mtype):
            meta = self.client.get_metadata(cid)
            out[cid] = str(meta.get("samp.name", cid))
        return out

    def send_table(self, table, rows: np.ndarray, name: str,
                   recipient: str | None = None) -> str:
        """Send an astropy ``table`` (row i = catalogue row ``rows[i]``) to ``recipient``
        (a client id) or to every client that loads VOTables; return its table-id."""
        self._need()
        tid = f"pvsvet-{next(self._ids)}"
        path = self._tmp_folder() / f"{tid}.xml"
        table.write(path, format="votable", overwrite=True)
        url = path.as_uri()
        with self._lock:
            self._sent[tid] = np.asarray(rows, dtype=np.int64).copy()
            self._urls[url] = tid
        message = {"samp.mtype": LOAD_VOTABLE,
                   "samp.params": {"url": url, "table-id": tid, "name": name}}
        if recipient:
            self.client.notify(recipient, message)
        else:
            self.client.notify_all(message)
        logger.info("SAMP: sent %s (%d rows) to %s", name, len(rows), recipient or "all")
        return tid

    def send_rows(self, tid: str, rows: np.ndarray) -> int:
        """Tell the others which rows of the sent table ``tid`` are selected (the
        catalogue ``rows`` that are in it); return how many."""
        self._need()
        with self._lock:
            sent = self._sent.get(tid)
        if sent is None:
            raise SampError(f"{tid}: not a table pvsvet sent")
        idx = np.flatnonzero(np.isin(sent, rows))
        url = next((u for u, t in self._urls.items() if t == tid), "")
        self.client.notify_all({"samp.mtype": ROW_LIST, "samp.params": {
            "table-id": tid, "url": url, "row-list": [str(int(i)) for i in idx]}})
        return len(idx)

    # -- receiving ------------------------------------------------------------------------
    def rows_of(self, params: dict) -> np.ndarray | None:
        """Catalogue rows of a ``table.select.rowList``; None for a table pvsvet did not
        send (another tool's own table)."""
        with self._lock:
            tid = params.get("table-id") or self._urls.get(params.get("url", ""))
            sent = self._sent.get(tid)
        if sent is None:
            return None
        idx = np.array([int(i) for i in params.get("row-list", [])], dtype=np.int64)
        idx = idx[(idx >= 0) & (idx < len(sent))]
        return sent[idx]

    def _received_rows(self, private_key, sender_id, msg_id, mtype, params, extra) -> None:
        rows = self.rows_of(params)
        self._ack(msg_id, rows is not None)
        if rows is not None and self.on_rows is not None:
            self.on_rows(rows, self._name(sender_id))

    def _received_point(self, private_key, sender_id, msg_id, mtype, params, extra) -> None:
        try:
            ra, dec = float(params["ra"]), float(params["dec"])
        except (KeyError, TypeError, ValueError):
            self._ack(msg_id, False)
            return
        self._ack(msg_id, True)
        if self.on_point is not None:
            self.on_point(ra, dec)

    def _ack(self, msg_id, ok: bool) -> None:
        if msg_id is None or self.client is None:   # a notification: nothing to answer
            return
        status = {"samp.status": "samp.ok", "samp.result": {}} if ok else {
            "samp.status": "samp.error", "samp.error": {"samp.errortxt": "not a pvsvet table"}}
        self.client.reply(msg_id, status)

    def _name(self, client_id: str) -> str:
        try:
            return str(self.client.get_metadata(client_id).get("samp.name", client_id))
        except Exception:  # the sender left already; its id is all there is
            return str(client_id)

    def _need(self) -> None:
        if not self.connected:
            raise SampError("not connected to a SAMP hub")

    def _tmp_folder(self) -> Path:
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="pvsvet-samp-"))   # mode 0700
        return self._folder
