"""``fetch lightcurves --hats PATH``: ZTF DR light curves from a HATS catalogue with lsdb.

IRSA publishes the ZTF data releases' light curves as HATS-partitioned Parquet in
the DR files' layout: one row per ZTF DR object (``objectid``, ``filterid`` 1 g /
2 r / 3 i, ``fieldid``, ``rcid``, ``objra``, ``objdec``, ``nepochs``) with list
columns ``hmjd`` (heliocentric MJD), ``mag``, ``magerr``, ``catflags``. The queued
CPVS rows are cross-matched against it with ``lsdb`` (every DR object within the
radius, as the per-object cone does), on the dask cluster of
:class:`engine.executors.DaskExecutor`; each star's oids are combined, bad
catflags dropped, and the objects appended through the same path as
:mod:`engine.ingest.fetch_lightcurves` (same columns, same queue).
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any, Mapping, Sequence

import numpy as np

from ..config import IngestConfig
from ..errors import IngestError
from ..progress import Progress, StageGen
from ..store import Store
from .bands import fid_codes
from ..workcache import locked_stage
from .fetch_lightcurves import STAGE, FetchConfig, FetchFailed, _store_batch
from .fetch_queue import FetchQueue
from .formats import RawObject

logger = logging.getLogger(__name__)

#: The columns of the ZTF DR light-curve HATS catalogue read here.
HATS_COLUMNS = ["objectid", "filterid", "objra", "objdec", "hmjd", "mag", "magerr",
                "catflags"]


def crossmatch(rows: Sequence[Mapping[str, Any]], hats_path: str, radius_deg: float,
               max_neighbours: int = 20):
    """The DR objects within ``radius_deg`` of each row, as a pandas DataFrame (lsdb)."""
    import lsdb
    import pandas as pd

    try:
        ztf = lsdb.open_catalog(hats_path, columns=HATS_COLUMNS) \
            if hasattr(lsdb, "open_catalog") else lsdb.read_hats(hats_path, columns=HATS_COLUMNS)
    except Exception as exc:  # hats/lsdb raise several types for an unreadable catalogue
        raise IngestError(f"{hats_path}: not a readable HATS catalogue ({exc})") from exc
    missing = set(HATS_COLUMNS) - set(ztf.columns)
    if missing:
        raise IngestError(f"{hats_path}: the catalogue has no column(s) "
                          f"{', '.join(sorted(missing))}")
    left = pd.DataFrame({"pvsvet_id": [str(r["id"]) for r in rows],
                         "pvsvet_ra": [float(r["ra"]) for r in rows],
                         "pvsvet_dec": [float(r["dec"]) for r in rows]})
    cpvs = lsdb.from_dataframe(left, ra_column="pvsvet_ra", dec_column="pvsvet_dec",
                               catalog_name="cpvs")
    match = cpvs.crossmatch(ztf, radius_arcsec=radius_deg * 3600, n_neighbors=max_neighbours,
                            suffixes=("", ""), suffix_method="overlapping_columns")
    return match.compute()


def group_matches(frame, rows: Sequence[Mapping[str, Any]], catflags_mask: int) -> list:
    """Per queued row: (RawObject, oids) combining its DR objects, or FetchFailed."""
    by_id: dict[str, list[int]] = {}
    ids = frame["pvsvet_id"].to_numpy()
    for k, oid in enumerate(ids):
        by_id.setdefault(str(oid), []).append(k)
    cols = {c: frame[c].to_numpy() for c in HATS_COLUMNS}
    out = []
    for row in rows:
        hit = by_id.get(str(row["id"]))
        if not hit:
            out.append(FetchFailed("no ZTF DR object in the HATS catalogue within the radius"))
            continue
        out.append(_combine(row, hit, cols, catflags_mask))
    return out


def _combine(row, hit: list[int], cols: dict, catflags_mask: int):
    lens = [len(cols["hmjd"][k]) for k in hit]
    cat = lambda name, dtype: np.concatenate([np.asarray(cols[name][k], dtype) for k in hit])
    band, unknown = fid_codes(np.repeat([int(cols["filterid"][k]) for k in hit], lens))
    flags = cat("catflags", "i8")
    keep = (flags & catflags_mask) == 0
    notes = [f"{int((~keep).sum())} points with catflags & {catflags_mask:#x} dropped"] \
        if (~keep).any() else []
    oids = sorted({str(int(cols["objectid"][k])) for k in hit})
    if len(oids) > 1:
        notes.append(f"{len(oids)} ZTF DR ids combined")
    raw = RawObject("HATS", str(row["id"]), float(row["ra"]), float(row["dec"]),
                    cat("hmjd", "f8")[keep], cat("mag", "f8")[keep], cat("magerr", "f8")[keep],
                    band[keep], unknown, notes=notes)
    return raw, oids


@locked_stage("fetch --hats")
def fetch_hats(store_path: str | os.PathLike, hats_path: str, cfg: FetchConfig | None = None,
               retry_failed: bool = False, ingest_cfg: IngestConfig | None = None,
               scheduler: str = "", dask_local: int = 2, chunk: int = 50_000) -> StageGen:
    """Read the queued objects' light curves from a HATS catalogue (a generator of Progress).

    ``chunk``: queued rows cross-matched at a time (bounds the driver's memory).
    """
    cfg = cfg or FetchConfig()
    with FetchQueue(store_path) as q:
        if q.count() == 0:
            raise IngestError(f"{store_path}: nothing queued; run 'fetch catalog' first")
    return _run(store_path, hats_path, cfg, retry_failed, ingest_cfg or IngestConfig(),
                scheduler, dask_local, max(1, chunk))


def _run(store_path, hats_path, cfg, retry_failed, ingest_cfg, scheduler, dask_local,
         chunk: int):
    from ..executors import DaskExecutor

    t0, fetched = time.perf_counter(), 0
    with Store.open_or_create(store_path) as st:
        stored = set(st.object_index())
    with FetchQueue(store_path) as q:
        todo = q.todo(retry_failed)
        q.mark_done([r["id"] for r in todo if r["id"] in stored])
        todo = [r for r in todo if r["id"] not in stored]
        yield Progress(STAGE, 0, len(todo), "cross-matching with lsdb", "object")
        t_match = 0.0
        if todo:
            # lsdb computes on the active dask client: the project's cluster
            with DaskExecutor(scheduler, dask_local):
                # chunks of the queue bound the driver's memory (~10^8 points for the
                # whole CPVS) and make a kill lose at most one chunk
                for c0 in range(0, len(todo), chunk):
                    rows = todo[c0:c0 + chunk]
                    t1 = time.perf_counter()
                    results = group_matches(crossmatch(rows, hats_path, cfg.radius), rows,
                                            cfg.catflags_mask)
                    t_match += time.perf_counter() - t1
                    # the reads are done: append in large batches (fewer store transactions)
                    batch = max(cfg.batch, 5000)
                    for start in range(0, len(rows), batch):
                        fetched += _store_batch(store_path, q, rows[start:start + batch],
                                                results[start:start + batch], ingest_cfg)
                        yield Progress(STAGE, c0 + min(start + batch, len(rows)), len(todo),
                                       f"{fetched} stored", "object")
        summary = q.summary()
    summary.update(fetched=fetched, seconds=round(time.perf_counter() - t0, 2),
                   crossmatch_seconds=round(t_match, 2), source=str(hats_path))
    with Store(store_path, "a") as st:
        st.record_run(STAGE, "ok", hats=str(hats_path),
                      **{k: v for k, v in summary.items() if k != "failures"})
    return summary
