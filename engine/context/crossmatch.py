"""Cross-match with VizieR: one cone search per object and catalogue, cached on disk.

Catalogues (section 3.4): Gaia DR3 (I/355/gaiadr3: G, BP, RP), Bailer-Jones et al. 2021
geometric distances (I/352/gedr3dis, matched on the Gaia source id), Pan-STARRS1 DR1
(II/349/ps1: grizy), 2MASS (II/246/out: J H Ks) and AllWISE (II/328/allwise: W1-W4).

Each query goes through ``astroquery.vizier.Vizier.query_region`` (imported lazily); the
parsed table is written to ``<cache>/vizier/<catalogue>/<ra>_<dec>_<radius>.vot`` as a
VOTable with a JSON sidecar (``fetched`` time, server, position, radius, row count), so a
second run, or an offline one, reads the cache. Requests are spaced to a polite rate and
retried with exponential back-off; a query that still fails raises :class:`QueryFailed`,
which the stage records for that object and catalogue before moving on.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PvsvetError
from ..store import utc_now
from .sed import BAND_NAMES

logger = logging.getLogger(__name__)


class QueryFailed(PvsvetError):
    """A VizieR query failed after all retries (network, server or parse error)."""


class NotCached(PvsvetError):
    """Offline and the cache has no answer for this query."""


@dataclass(frozen=True)
class VizierCatalog:
    """A VizieR catalogue and the columns the context stage takes from it."""

    key: str
    vizier: str
    id_col: str
    ra_col: str
    dec_col: str
    mags: dict[str, tuple[str, str]] = field(default_factory=dict)   # band -> (mag, err)
    extra: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        cols = [self.id_col, self.ra_col, self.dec_col, *self.extra]
        for m, e in self.mags.values():
            cols += [m, e]
        return cols


CATALOGS: tuple[VizierCatalog, ...] = (
    VizierCatalog("gaia", "I/355/gaiadr3", "Source", "RA_ICRS", "DE_ICRS",
            {"G": ("Gmag", "e_Gmag"), "BP": ("BPmag", "e_BPmag"), "RP": ("RPmag", "e_RPmag")},
            ("Plx", "e_Plx")),
    VizierCatalog("bailerjones", "I/352/gedr3dis", "Source", "RA_ICRS", "DE_ICRS",
            extra=("rgeo", "b_rgeo", "B_rgeo")),
    VizierCatalog("ps1", "II/349/ps1", "objID", "RAJ2000", "DEJ2000",
            {b: (f"{b}mag", f"e_{b}mag") for b in "grizy"}),
    VizierCatalog("2mass", "II/246/out", "2MASS", "RAJ2000", "DEJ2000",
            {"J": ("Jmag", "e_Jmag"), "H": ("Hmag", "e_Hmag"), "Ks": ("Kmag", "e_Kmag")}),
    VizierCatalog("allwise", "II/328/allwise", "AllWISE", "RAJ2000", "DEJ2000",
            {f"W{i}": (f"W{i}mag", f"e_W{i}mag") for i in range(1, 5)}),
)
CATALOG_KEYS = tuple(c.key for c in CATALOGS)
#: Magnitude columns of ``/context/mag``: Gaia G, BP, RP then the 12 SED bands.
PHOT_BANDS: tuple[str, ...] = ("G", "BP", "RP") + BAND_NAMES


class VizierCache:
    """Cached VizieR answers under ``<root>/vizier``."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root) / "vizier"

    def _base(self, catalog: str, ra: float, dec: float, radius: float) -> Path:
        name = f"{ra:.6f}_{dec:+.6f}_{radius:g}"
        return self.root / catalog.replace("/", "_") / name

    def get(self, catalog: str, ra: float, dec: float, radius: float):
        """``(table or None, meta)``; raises :class:`NotCached` when absent."""
        base = self._base(catalog, ra, dec, radius)
        meta_path = base.with_suffix(".json")
        if not meta_path.exists():
            raise NotCached(f"{catalog} at ({ra:.5f}, {dec:+.5f}): not in the cache")
        meta = json.loads(meta_path.read_text())
        if not meta.get("n_rows"):
            return None, meta
        from astropy.table import Table

        return Table.read(base.with_suffix(".vot"), format="votable", use_names_over_ids=True), meta

    def put(self, catalog: str, ra: float, dec: float, radius: float, table, meta: dict) -> None:
        base = self._base(catalog, ra, dec, radius)
        base.parent.mkdir(parents=True, exist_ok=True)
        if table is not None and len(table):
            tmp = base.with_name(base.name + ".tmp.vot")
            table.write(tmp, format="votable", overwrite=True)
            os.replace(tmp, base.with_suffix(".vot"))
        tmp = base.with_name(base.name + ".tmp.json")
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, base.with_suffix(".json"))   # the sidecar last: it marks completion


class VizierClient:
    """Rate-limited, retrying cone searches with a disk cache.

    Parameters
    ----------
    cache : VizierCache
    server : str
        VizieR mirror (host[:port]); empty: astroquery's configured server.
    timeout_s : float, s
    retries : int
        Further attempts after a failure, with back-off ``backoff_s * 2**k``.
    rate_per_s : float
        At most this many requests per second.
    offline : bool
        Only the cache; a miss raises :class:`NotCached`.
    max_query_s : float, s
        Bound on the time this client spends querying (0: none). Request time-outs,
        back-offs and rate waits are cut to what is left; once it is spent the client
        answers from the cache only (a miss is :class:`NotCached`, filled by a rerun).
    """

    def __init__(self, cache: VizierCache, server: str = "", timeout_s: float = 30.0,
                 retries: int = 3, rate_per_s: float = 2.0, backoff_s: float = 1.0,
                 offline: bool = False, max_query_s: float = 0.0):
        self.cache = cache
        self.server = server
        self.timeout_s = timeout_s
        self.retries = max(0, int(retries))
        self.min_interval = 1.0 / rate_per_s if rate_per_s > 0 else 0.0
        self.backoff_s = backoff_s
        self.offline = offline
        self.n_requests = 0
        self._last = 0.0
        self.deadline = time.monotonic() + max_query_s if max_query_s > 0 else None
        self.out_of_time = False

    def _left(self) -> float:
        """Seconds of the query budget left (inf without a budget)."""
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def _check_budget(self) -> None:
        if not self.offline and self._left() <= 0:
            logger.warning("context: the query time budget (max_query_s) is spent: the "
                           "rest is read from the cache only; run context again to fill "
                           "the gaps")
            self.offline = self.out_of_time = True

    def _vizier(self, catalog: VizierCatalog, row_limit: int = 20):
        from astroquery.vizier import Vizier, conf

        timeout = max(0.1, min(self.timeout_s, self._left()))   # never past the budget
        return Vizier(columns=catalog.columns, catalog=catalog.vizier, row_limit=row_limit,
                      timeout=timeout, vizier_server=self.server or conf.server)

    def _wait_turn(self) -> None:
        delay = min(self._last + self.min_interval - time.monotonic(), self._left())
        if delay > 0:
            time.sleep(delay)
        self._last = time.monotonic()

    def cone(self, catalog: VizierCatalog, ra: float, dec: float, radius_arcsec: float):
        """Rows of ``catalog`` within ``radius_arcsec`` of (ra, dec) deg.

        Returns ``(table or None, meta)``; ``meta["cached"]`` says where it came from.
        """
        try:
            table, meta = self.cache.get(catalog.vizier, ra, dec, radius_arcsec)
            return table, {**meta, "cached": True}
        except NotCached as exc:
            self._check_budget()
            if self.offline:
                if self.out_of_time:
                    raise NotCached(f"{exc} (the query time budget was spent)") from None
                raise
        table = self._fetch(catalog, ra, dec, radius_arcsec)
        meta = {"fetched": utc_now(), "server": self.server or "default", "catalog": catalog.vizier,
                "ra": ra, "dec": dec, "radius_arcsec": radius_arcsec,
                "n_rows": 0 if table is None else len(table)}
        self.cache.put(catalog.vizier, ra, dec, radius_arcsec, table, meta)
        return table, {**meta, "cached": False}

    def _fetch(self, catalog: VizierCatalog, ra: float, dec: float, radius_arcsec: float):
        import astropy.units as u
        from astropy.coordinates import SkyCoord

        coord = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs")
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(max(0.0, min(self.backoff_s * 2 ** (attempt - 1), self._left())))
                if self._left() <= 0:
                    break                  # the budget ran out while retrying: failed
            self._wait_turn()
            self.n_requests += 1
            try:
                result = self._vizier(catalog).query_region(
                    coord, radius=radius_arcsec * u.arcsec, catalog=catalog.vizier, cache=False)
            except Exception as exc:   # network, HTTP and parse errors all mean "try again"
                last = exc
                logger.info("%s attempt %d failed: %s", catalog.vizier, attempt + 1, exc)
                continue
            return _pick_table(result, catalog)
        raise QueryFailed(f"{catalog.vizier}: {type(last).__name__}: {_short(last)}")

    def field_stars(self, filters: dict[str, str], row_limit: int):
        """Gaia DR3 rows matching ``filters`` (HR background); cached like cone searches."""
        cat = CATALOGS[0]
        key = ",".join(f"{k}{v}" for k, v in sorted(filters.items()))
        try:
            return self.cache.get(cat.vizier + "_field", 0.0, 0.0, row_limit)[0]
        except NotCached:
            self._check_budget()
            if self.offline:
                raise
        self._wait_turn()
        self.n_requests += 1
        try:
            result = self._vizier(cat, row_limit).query_constraints(
                catalog=cat.vizier, cache=False, **filters)
        except Exception as exc:
            raise QueryFailed(f"{cat.vizier} field stars: {_short(exc)}") from exc
        table = _pick_table(result, cat)
        meta = {"fetched": utc_now(), "catalog": cat.vizier, "filters": key,
                "n_rows": 0 if table is None else len(table)}
        self.cache.put(cat.vizier + "_field", 0.0, 0.0, row_limit, table, meta)
        return table


def _short(exc: Exception | None, n: int = 160) -> str:
    return str(exc).replace("\n", " ")[:n]


def _pick_table(result: Any, catalog: VizierCatalog):
    """The catalogue's table from astroquery's TableList (None when empty)."""
    if result is None or isinstance(result, (str, bytes)):
        raise QueryFailed(f"{catalog.vizier}: the server's answer is not a VOTable")
    if len(result) == 0:
        return None
    keys = list(result.keys())
    return result[catalog.vizier] if catalog.vizier in keys else result[0]


def nearest(table, catalog: VizierCatalog, ra: float, dec: float, source_id: str = ""):
    """The nearest row and its separation (arcsec); a row with ``source_id`` wins.

    Returns ``(row or None, sep_arcsec)``.
    """
    if table is None or len(table) == 0:
        return None, np.nan
    ra_t = np.asarray(table[catalog.ra_col], float)
    dec_t = np.asarray(table[catalog.dec_col], float)
    sep = _separation_arcsec(ra, dec, ra_t, dec_t)
    if source_id:
        ids = np.asarray(table[catalog.id_col]).astype(str)
        hit = np.flatnonzero(ids == str(source_id))
        if len(hit):
            return table[int(hit[0])], float(sep[hit[0]])
    k = int(np.nanargmin(sep)) if np.isfinite(sep).any() else 0
    return table[k], float(sep[k])


def _separation_arcsec(ra0, dec0, ra, dec) -> np.ndarray:
    """Great-circle distance, arcsec (astropy's Vincenty formula: exact at every
    distance, which the haversine is not near 180 degrees)."""
    from astropy import units as u
    from astropy.coordinates import angular_separation

    sep = angular_separation(np.asarray(ra0, float) * u.deg, np.asarray(dec0, float) * u.deg,
                             np.asarray(ra, float) * u.deg, np.asarray(dec, float) * u.deg)
    return np.asarray(sep.to_value(u.arcsec), dtype=float)


def row_value(row, name: str) -> float:
    """A float from a table row; NaN for masked or missing values."""
    if row is None or name not in row.colnames:
        return np.nan
    val = row[name]
    if np.ma.is_masked(val):
        return np.nan
    try:
        return float(val)
    except (TypeError, ValueError):
        return np.nan
