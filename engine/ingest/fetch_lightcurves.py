"""``fetch lightcurves``: ZTF DR light curves from IRSA's light-curve service.

IRSA's documented HTTP API (``/cgi-bin/ZTF/nph_light_curves``) is queried with a
cone around each catalogue position (``POS=CIRCLE ra dec radius``), both bands
(``BANDNAME=g,r``) and ``BAD_CATFLAGS_MASK``; the response (CSV) is read with
astropy's table reader. A cone returns every ZTF DR object id (``oid``) near the
star, one or more per band and field: Chen et al. merged them into one source,
so their points are combined into one light curve and the oids are recorded in
``/objects/ztf_oids``. Rows with ``catflags & mask != 0`` are dropped here too
(the server's filter is not trusted alone).

Politeness: at most ``workers`` requests in flight (threads), at most ``rate``
requests per second over all threads, retries with exponential backoff on
time-outs, broken or truncated transfers and HTTP 429/5xx.

Objects are fetched in batches in catalogue order; each batch is appended to the
store through :meth:`engine.store.Store.append_objects` (the ingest path:
:func:`engine.ingest.quality.clean` and the ingest stage's columns), then marked
in the queue (:mod:`engine.ingest.fetch_queue`). A cancel or kill loses at most
the batch in flight; a rerun skips ids already in the store.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping, Sequence

import numpy as np

from ..config import IngestConfig
from ..errors import IngestError
from ..progress import Progress, StageGen
from ..store import Store
from .bands import band_codes
from ..workcache import locked_stage
from .catalog import InputCatalog
from .formats import RawObject, _to_mjd
from .quality import clean
from .fetch_queue import FetchQueue

logger = logging.getLogger(__name__)

STAGE = "fetch"
IRSA_URL = "https://irsa.ipac.caltech.edu/cgi-bin/ZTF/nph_light_curves"
BASE_COLUMNS = ("id", "name", "ra", "dec", "period", "class")


@dataclasses.dataclass
class FetchConfig:
    """How politely and how much to fetch.

    Parameters
    ----------
    url : the IRSA light-curve service
    release : ZTF data release (``DR23``...); recorded, and sent as IRSA's
        collection when not empty (``COLLECTION=ztf_dr23``)
    radius : float, deg; cone radius around each position (1.5 arcsec)
    workers : requests in flight
    rate : float, requests per second over all workers (0: unlimited)
    retries : further tries after a failed request
    backoff : float, seconds; wait before retry k is backoff * 2**k
    timeout : float, seconds per request
    batch : objects per store append
    catflags_mask : rows with catflags & mask != 0 are dropped
    max_seconds : float, seconds; bound on one run (0: none): no batch starts after
        it, request time-outs are cut to what is left; the rest stays queued and a
        plain rerun resumes there
    """

    url: str = IRSA_URL
    release: str = ""
    radius: float = 1.5 / 3600
    workers: int = 4
    rate: float = 5.0
    retries: int = 3
    backoff: float = 1.0
    timeout: float = 60.0
    batch: int = 100
    catflags_mask: int = 0xFFFF
    max_seconds: float = 0.0


class _RateLimit:
    """At most ``rate`` calls per second over all threads."""

    def __init__(self, rate: float):
        self.gap = 1.0 / rate if rate > 0 else 0.0
        self.next = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next)
            self.next = start + self.gap
        if start > now:
            time.sleep(start - now)


class FetchFailed(IngestError):
    """One object could not be fetched (the message is the reason kept in the queue).

    ``unreachable``: no answer at all (connection refused, DNS): the service, not the
    object, failed.
    """

    def __init__(self, message: str, unreachable: bool = False):
        super().__init__(message)
        self.unreachable = unreachable


def _params(ra: float, dec: float, cfg: FetchConfig) -> dict[str, str]:
    params = {"POS": f"CIRCLE {ra:.7f} {dec:.7f} {cfg.radius:.7f}", "BANDNAME": "g,r",
              "FORMAT": "csv", "BAD_CATFLAGS_MASK": str(cfg.catflags_mask)}
    if cfg.release:
        params["COLLECTION"] = f"ztf_{cfg.release.lower()}"
    return params


def _get(session, params: Mapping[str, str], cfg: FetchConfig, limit: _RateLimit) -> str:
    """One request with retries; the response text, or FetchFailed with the reason."""
    import requests  # heavy: only when fetching

    reason, unreachable = "", False
    for attempt in range(cfg.retries + 1):
        if attempt:
            time.sleep(cfg.backoff * 2 ** (attempt - 1))
        limit.wait()
        try:
            resp = session.get(cfg.url, params=params, timeout=cfg.timeout)
            if resp.status_code == 429 or resp.status_code >= 500:
                reason = f"HTTP {resp.status_code}"
                continue
            if resp.status_code >= 400:
                raise FetchFailed(f"HTTP {resp.status_code} {resp.reason}")
            return resp.text
        except requests.Timeout:
            reason, unreachable = f"time-out after {cfg.timeout:g} s", False
        except requests.exceptions.ChunkedEncodingError as exc:
            reason, unreachable = f"transfer broken ({type(exc).__name__})", False
        except requests.ConnectionError as exc:
            reason, unreachable = f"transfer broken ({type(exc).__name__})", True
    raise FetchFailed(f"{reason} ({cfg.retries + 1} tries)", unreachable)


def parse_response(text: str, oid: str, ra: float, dec: float,
                   catflags_mask: int) -> tuple[RawObject, list[str]]:
    """An IRSA CSV light-curve table -> one RawObject of all its oids, and the oids."""
    from astropy.io import ascii  # heavy: only when fetching

    if text.lstrip().startswith("<"):
        raise FetchFailed("the service answered with a page, not a table: "
                          + " ".join(text.split())[:120])
    try:
        table = ascii.read(text, format="csv", guess=False)
    except Exception as exc:  # astropy raises many types for a malformed table
        raise FetchFailed(f"unreadable table ({type(exc).__name__}: {exc})") from exc
    missing = {"oid", "mag", "magerr", "catflags", "filtercode"} - set(table.colnames)
    if len(table) and missing:
        raise FetchFailed(f"the table has no column(s) {', '.join(sorted(missing))}")
    if len(table) == 0:
        raise FetchFailed("no ZTF light curve in the cone")
    # heliocentric times, as Chen et al. and the DR files (hmjd) use; MJD only as a fallback
    tcol = next((c for c in ("hmjd", "hjd", "mjd") if c in table.colnames), None)
    if tcol is None:
        raise FetchFailed("the table has no time column (hmjd, hjd or mjd)")
    flags = np.asarray(table["catflags"], "i8")
    keep = (flags & catflags_mask) == 0
    band, unknown = band_codes(np.asarray(table["filtercode"]).astype(str))
    notes = [f"{int((~keep).sum())} points with catflags & {catflags_mask:#x} dropped"] \
        if (~keep).any() else []
    oids = sorted({str(o) for o in np.asarray(table["oid"])})
    if len(oids) > 1:
        notes.append(f"{len(oids)} ZTF DR ids combined")
    t = _to_mjd(np.asarray(table[tcol], "f8"), notes)
    raw = RawObject("IRSA", oid, ra, dec, t[keep], np.asarray(table["mag"], "f8")[keep],
                    np.asarray(table["magerr"], "f8")[keep], band[keep], unknown,
                    notes=notes)
    return raw, oids


def fetch_one(session, row: Mapping[str, Any], cfg: FetchConfig,
              limit: _RateLimit) -> tuple[RawObject, list[str]]:
    """Download and read the light curve of one catalogue row."""
    ra, dec = float(row["ra"]), float(row["dec"])
    if not (np.isfinite(ra) and np.isfinite(dec)):
        raise FetchFailed("no position in the catalogue")
    text = _get(session, _params(ra, dec, cfg), cfg, limit)
    return parse_response(text, str(row["id"]), ra, dec, cfg.catflags_mask)


def fetch_lightcurves(store_path: str | os.PathLike, cfg: FetchConfig | None = None,
                      retry_failed: bool = False,
                      ingest_cfg: IngestConfig | None = None) -> StageGen:
    """Fetch the queued objects' light curves into the store (a generator of Progress).

    Returns the queue summary (:meth:`FetchQueue.summary`) plus ``fetched`` and
    ``seconds``. Closing the generator stops after the batch in flight is stored.
    """
    cfg = cfg or FetchConfig()
    ingest_cfg = ingest_cfg or IngestConfig()
    with FetchQueue(store_path) as q:
        if q.count() == 0:
            raise IngestError(f"{store_path}: nothing queued; run 'fetch catalog' first")
    return _run(store_path, cfg, retry_failed, ingest_cfg)


@locked_stage("fetch lightcurves")
def _run(store_path, cfg: FetchConfig, retry_failed: bool, ingest_cfg: IngestConfig) -> StageGen:
    import requests  # heavy: only when fetching

    t0, fetched = time.perf_counter(), 0
    with Store.open_or_create(store_path) as st:
        stored = set(st.object_index())
    with FetchQueue(store_path) as q:
        todo = q.todo(retry_failed)
        q.mark_done([r["id"] for r in todo if r["id"] in stored])   # appended before a kill
        todo = [r for r in todo if r["id"] not in stored]
        limit = _RateLimit(cfg.rate)
        deadline = t0 + cfg.max_seconds if cfg.max_seconds > 0 else None
        out_of_time = False
        yield Progress(STAGE, 0, len(todo), "fetching", "object")
        with requests.Session() as session, ThreadPoolExecutor(max(1, cfg.workers)) as pool:
            session.headers["User-Agent"] = "pvsvet (ZTF periodic variables)"
            for start in range(0, len(todo), cfg.batch):
                if deadline is not None and time.perf_counter() >= deadline:
                    out_of_time = True
                    logger.warning("fetch: max_seconds (%g s) reached: %d objects stay "
                                   "queued; run the command again to resume",
                                   cfg.max_seconds, len(todo) - start)
                    break
                # no request may outlast the budget (by more than half a second)
                req_cfg = cfg if deadline is None else dataclasses.replace(
                    cfg, timeout=min(cfg.timeout, max(0.5, deadline - time.perf_counter())))
                rows = todo[start:start + cfg.batch]
                results = list(pool.map(lambda r: _try(session, r, req_cfg, limit), rows))
                if all(getattr(r, "unreachable", False) for r in results):
                    # offline: keep the batch pending so a plain rerun resumes here
                    raise IngestError(f"{cfg.url}: unreachable ({results[0]}); {fetched} "
                                      "objects stored this run, the rest stay queued: run "
                                      "the command again to resume")
                fetched += _store_batch(store_path, q, rows, results, ingest_cfg)
                yield Progress(STAGE, start + len(rows), len(todo), f"{fetched} stored",
                               "object")
        summary = q.summary()
    summary.update(fetched=fetched, seconds=round(time.perf_counter() - t0, 2),
                   out_of_time=out_of_time)
    with Store(store_path, "a") as st:
        st.record_run(STAGE, "ok", config=dataclasses.asdict(cfg),
                      **{k: v for k, v in summary.items() if k != "failures"})
    return summary


def _try(session, row, cfg, limit):
    try:
        return fetch_one(session, row, cfg, limit)
    except FetchFailed as exc:
        return exc


def _store_batch(store_path, q: FetchQueue, rows: Sequence[Mapping[str, Any]], results,
                 ingest_cfg: IngestConfig) -> int:
    """Append the batch's fetched objects, then record every outcome in the queue."""
    from .stage import _columns   # the ingest stage's /objects columns, not a copy

    good = [(r, res) for r, res in zip(rows, results) if not isinstance(res, Exception)]
    if good:
        cat = _catalog(r for r, _ in good)
        cols: dict[str, list] = {}
        lcs = []
        for i, (row, (raw, oids)) in enumerate(good):
            cleaned = clean(raw, ingest_cfg)
            values = _columns(str(row["id"]), raw, cat, i, cleaned)
            values["ztf_oids"] = " ".join(oids)
            values.update({k: _num(v) for k, v in row.items() if k.startswith("cpvs_")})
            for k, v in values.items():
                cols.setdefault(k, []).append(v)
            lcs.append(cleaned.lc)
        with Store(store_path, "a") as st:
            st.append_objects(cols, lcs)
    outcomes = []
    for row, res in zip(rows, results):
        if isinstance(res, Exception):
            logger.info("%s: %s", row["id"], res)
            outcomes.append((str(row["id"]), "failed", str(res), ""))
        else:
            outcomes.append((str(row["id"]), "done", "", " ".join(res[1])))
    q.mark_many(outcomes)
    return len(good)


def _catalog(rows) -> InputCatalog:
    rows = list(rows)
    get = lambda k, kind: np.array([_num(r.get(k)) if kind == "f8" else str(r.get(k) or "")
                                    for r in rows], kind if kind == "f8" else str)
    ids = get("id", "U")
    return InputCatalog("CPVS", ids, ids, get("name", "U"), get("class", "U"), get("ra", "f8"),
                        get("dec", "f8"), get("period", "f8"))


def _num(v) -> float:
    return np.nan if v is None else float(v)
