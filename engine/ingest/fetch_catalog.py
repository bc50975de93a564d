"""``fetch catalog``: the ZTF CPVS (Chen et al. 2020) from VizieR or its Table2 file.

The catalogue goes through the existing Table2 mapping of
:mod:`engine.ingest.catalog` (id = SourceID, name = ID, ...); its own features
(R21, phi21, amplitudes, numbers of detections, log FAP per band, ...) are kept as
``cpvs_*`` columns. The rows land in the fetch queue (:mod:`engine.ingest.fetch_queue`);
``fetch lightcurves`` appends each object to ``/objects`` with its photometry, so
no object sits in the store without a light curve.

VizieR (J/ApJS/249/18, table2) is queried with ``astroquery.vizier.Vizier``:
column filters for the classes and the magnitude limit, a cone for the region,
``row_limit`` for ``--limit``.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import IngestError
from .catalog import CHEN_TABLE2_COLUMNS, CHEN_TABLE2_MAPPING, InputCatalog

logger = logging.getLogger(__name__)

VIZIER_CATALOG = "J/ApJS/249/18/table2"
#: Table2 columns kept as /objects features (``cpvs_<name>``).
FEATURES = ("R21", "phi21", "T_0", "gmag", "rmag", "Per_g", "Per_r", "Num_g", "Num_r",
            "R21_g", "R21_r", "phi21_g", "phi21_r", "R2_g", "R2_r", "Amp_g", "Amp_r",
            "log_FAP_g", "log_FAP_r", "Delta_min_g", "Delta_min_r")
#: VizieR spellings that differ from the Table2 file's (normalised: lower case,
#: no punctuation). VizieR renames positions to RAJ2000/DEJ2000 and may write
#: ``Per-g``/``Ng``; anything else is matched by its normalised file name.
_VIZIER_ALIASES = {"raj2000": "RAdeg", "dej2000": "DEdeg", "t0": "T_0", "ng": "Num_g",
                   "nr": "Num_r", "logfapg": "log_FAP_g", "logfapr": "log_FAP_r",
                   "deltaming": "Delta_min_g", "deltaminr": "Delta_min_r"}
#: The VizieR columns the server-side filters use.
VIZIER_CLASS_COLUMN = "Type"
VIZIER_MAG_COLUMN = "rmag"


@dataclass
class Region:
    """A cone on the sky: centre (deg, ICRS) and radius (deg)."""

    ra: float
    dec: float
    radius: float


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def to_table2_names(table) -> None:
    """Rename a VizieR table's columns (in place) to the Table2 file's names."""
    wanted = {_norm(c): c for c in CHEN_TABLE2_COLUMNS}
    wanted.update(_VIZIER_ALIASES)
    for col in list(table.colnames):
        target = wanted.get(_norm(col))
        if target and target != col and target not in table.colnames:
            table.rename_column(col, target)


def query_vizier(classes: Sequence[str] = (), region: Region | None = None,
                 max_mag: float | None = None, limit: int | None = None,
                 server: str | None = None, timeout: float = 60.0):
    """The CPVS rows that pass the filters, as an astropy Table (Table2 names).

    Parameters
    ----------
    classes : Chen types (``Mira``, ``SR``, ``RR``...); empty: all
    region : a cone, or None for the whole sky
    max_mag : float, mag; r-band mean magnitude limit
    limit : most rows; None: no limit
    server : VizieR host (``vizier.cds.unistra.fr``); None: astroquery's default
    timeout : float, seconds
    """
    from astroquery.vizier import Vizier  # heavy: only when fetching

    filters = {}
    if classes:
        filters[VIZIER_CLASS_COLUMN] = "=," + ",".join(classes)
    if max_mag is not None:
        filters[VIZIER_MAG_COLUMN] = f"<{max_mag:g}"
    kwargs = {"vizier_server": server} if server else {}
    viz = Vizier(columns=["**"], column_filters=filters, row_limit=-1 if limit is None
                 else int(limit), timeout=timeout, **kwargs)
    try:
        if region is not None:
            import astropy.units as u
            from astropy.coordinates import SkyCoord

            centre = SkyCoord(region.ra * u.deg, region.dec * u.deg, frame="icrs")
            result = viz.query_region(centre, radius=region.radius * u.deg,
                                      catalog=VIZIER_CATALOG, cache=False)
        else:
            result = viz.query_constraints(catalog=VIZIER_CATALOG, cache=False)
    except Exception as exc:  # requests, astroquery and votable raise many types
        raise IngestError(f"VizieR {VIZIER_CATALOG}: query failed "
                          f"({type(exc).__name__}: {exc})") from exc
    if len(result) == 0:
        raise IngestError(f"VizieR {VIZIER_CATALOG}: no rows match the filters")
    table = result[0]
    to_table2_names(table)
    return table


def catalog_from_table(table, source: str) -> InputCatalog:
    """A :class:`InputCatalog` through the Table2 mapping of :mod:`engine.ingest.catalog`."""
    from .catalog import _build, _resolve  # the one Table2 mapping, not a copy

    mapping = _resolve(table.colnames, dict(CHEN_TABLE2_MAPPING), Path(source))
    return _build(Path(source), table, mapping, {})


def features_of(table, cat: InputCatalog) -> dict[str, np.ndarray]:
    """``cpvs_<feature>`` -> float values in the order of ``cat`` (NaN when absent)."""
    from .catalog import _floats, _strings

    ids = _strings(table[CHEN_TABLE2_MAPPING["id"]])
    row = {k: i for i, k in reversed(list(enumerate(ids)))}   # first row of each id
    take = np.array([row[str(k)] for k in cat.id], int)
    out = {}
    for name in FEATURES:
        if name in table.colnames:
            out[f"cpvs_{name}"] = _floats(table[name])[take]
    return out


def read_table2(path: str | os.PathLike):
    """The published Table2 file (or a VizieR VOTable/CSV export) as a Table."""
    from .catalog import _looks_like_chen_table2, _read_astropy, _read_chen_table2

    path = Path(path)
    if not path.is_file():
        raise IngestError(f"{path}: catalogue file not found")
    table = _read_chen_table2(path) if _looks_like_chen_table2(path) else _read_astropy(path)
    to_table2_names(table)
    return table


def select(table, classes: Sequence[str] = (), region: Region | None = None,
           max_mag: float | None = None, limit: int | None = None):
    """The same filters as :func:`query_vizier`, applied to a local table."""
    keep = np.ones(len(table), bool)
    if classes:
        keep &= np.isin(np.char.strip(np.asarray(table["Type"]).astype(str)), list(classes))
    if max_mag is not None:
        keep &= np.asarray(table["rmag"], float) < max_mag
    if region is not None:
        keep &= _in_cone(np.asarray(table["RAdeg"], float), np.asarray(table["DEdeg"], float),
                         region)
    out = table[keep]
    return out[:limit] if limit is not None else out


def _in_cone(ra: np.ndarray, dec: np.ndarray, region: Region) -> np.ndarray:
    """Angular distance <= radius (haversine, deg)."""
    r1, d1, r2, d2 = map(np.radians, (ra, dec, region.ra, region.dec))
    h = np.sin((d1 - d2) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((r1 - r2) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))) <= region.radius


def fetch_catalog(table_path: str | os.PathLike | None = None, classes: Sequence[str] = (),
                  region: Region | None = None, max_mag: float | None = None,
                  limit: int | None = None, server: str | None = None,
                  timeout: float = 60.0) -> tuple[InputCatalog, dict[str, np.ndarray]]:
    """The selected CPVS rows as a InputCatalog and their features.

    ``table_path``: a local Table2 file instead of VizieR (same filters applied here).
    """
    if table_path is not None:
        table = select(read_table2(table_path), classes, region, max_mag, limit)
        source = str(table_path)
    else:
        table = query_vizier(classes, region, max_mag, limit, server, timeout)
        # the server filtered already; checking here too keeps the result exact whatever
        # VizieR's string matching does with the class list
        table = select(table, classes, None, max_mag, None)
        source = f"VizieR {VIZIER_CATALOG}"
    if len(table) == 0:
        raise IngestError(f"{source}: no rows match the filters")
    cat = catalog_from_table(table, source)
    return cat, features_of(table, cat)


__all__ = ["Region", "fetch_catalog", "query_vizier", "read_table2", "select",
           "FEATURES", "VIZIER_CATALOG"]
