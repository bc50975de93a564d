"""The ingest stage: catalogue + light-curve files -> objects appended to a store.

Objects are appended in batches of ``IngestConfig.batch_size`` (each append is
atomic in the store). A cancel (``close()``) or crash loses only the batch in
progress; a rerun skips the ids already stored, so it resumes where it stopped.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .. import provenance as prov
from ..config import IngestConfig, config_hash, to_dict
from ..errors import IngestError
from ..names import iau_name
from ..progress import Progress, StageGen, Throttle
from ..store import Status, Store
from ..workcache import locked_stage
from .catalog import InputCatalog, read_catalog
from .formats import RawObject, expand_paths, reader_for
from .quality import Cleaned, check_period, clean
from .report import IngestReport

logger = logging.getLogger(__name__)

STAGE = "ingest"


@dataclasses.dataclass
class _Batch:
    """Objects waiting for the next append."""

    columns: dict[str, list] = dataclasses.field(
        default_factory=lambda: {k: [] for k in ("id", "name", "ra", "dec", "period", "class",
                                                 "mean_g", "mean_r", "n_g", "n_r", "status",
                                                 "status_msg")})
    lcs: list = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.lcs)

    def add(self, values: Mapping[str, Any], cleaned: Cleaned) -> None:
        for k, v in values.items():
            self.columns[k].append(v)
        self.lcs.append(cleaned.lc)


def ingest(store_path: str | os.PathLike, catalog: str | os.PathLike | None = None,
           lightcurves: Sequence[str] = (), fmt: str = "auto",
           columns: Mapping[str, str] | None = None, class_map: Mapping[str, str] | None = None,
           catalog_format: str = "auto", cfg: IngestConfig | None = None,
           unmatched: str = "keep", report_path: str | None = None) -> StageGen:
    """Read light curves (and a catalogue) and append them to the store.

    Parameters
    ----------
    store_path : path of the store (created when missing)
    catalog : path of a catalogue, or None when the files carry id/ra/dec
    lightcurves : files, directories or glob patterns
    fmt : ``auto``, ``chen``, ``ztf-dr``, ``csv`` or ``alerce``
    columns : catalogue column mapping (see :mod:`engine.ingest.catalog`)
    class_map : catalogue class -> stored class
    catalog_format : ``auto``, ``chen-table2`` or ``table``
    cfg : quality cut and batching
    unmatched : ``keep`` (store objects without a catalogue row, flagged
        ``BAD_PERIOD``) or ``skip``
    report_path : also write every message to this tab-separated file

    Returns
    -------
    StageGen
        Yields :class:`Progress` (in files) and returns the summary dict
        (:meth:`IngestReport.summary`). Bad arguments (unknown format, missing
        catalogue) raise :class:`IngestError` at the call, before any work.
    """
    # bad arguments fail here, before the caller starts driving the generator
    cfg = cfg or IngestConfig()
    if unmatched not in ("keep", "skip"):
        raise IngestError(f"unmatched must be 'keep' or 'skip', not {unmatched!r}")
    if catalog is not None and not Path(catalog).is_file():
        raise IngestError(f"{catalog}: catalogue file not found")
    read = reader_for(fmt, cfg.catflags_mask)
    return _run(store_path, catalog, lightcurves, read, columns, class_map, catalog_format,
                cfg, unmatched, report_path)


@locked_stage("ingest")
def _run(store_path, catalog, lightcurves, read, columns, class_map, catalog_format,
         cfg: IngestConfig, unmatched: str, report_path) -> StageGen:
    t0, started = time.perf_counter(), datetime.now(timezone.utc).isoformat(timespec="seconds")
    yield Progress(STAGE, 0, 0, "reading the catalogue" if catalog else "listing files", "file")
    cat = read_catalog(catalog, columns, class_map, catalog_format) if catalog else None
    files, problems = expand_paths(list(lightcurves))
    rep = IngestReport(files=len(files), catalog_rows=len(cat) if cat else 0)
    for p in problems:
        rep.file_failed(p.split(": ")[0], p.split(": ", 1)[-1])
    if not files:
        raise IngestError("no light-curve files to read: " + ("; ".join(problems) or "none given"))
    with Store.open_or_create(store_path) as st:
        seen = set(st.object_index())
    matched = np.zeros(len(cat) if cat else 0, bool)
    batch, tick = _Batch(), Throttle(0.5)
    yield Progress(STAGE, 0, len(files), "reading", "file")
    for i, path in enumerate(files):
        try:
            objects = read(path)
        except IngestError as exc:
            rep.file_failed(str(path), str(exc).removeprefix(f"{path}: "))
            objects = []
        except (ValueError, TypeError, IndexError, KeyError, OSError) as exc:
            # a malformed file no reader check foresaw must not end the run
            logger.debug("%s: unexpected reader failure", path, exc_info=True)
            rep.file_failed(str(path), f"cannot parse ({type(exc).__name__}: {exc})")
            objects = []
        for raw in objects:
            _one(raw, path, len(objects) == 1, cat, matched, seen, batch, rep, cfg, unmatched)
        if len(batch) >= cfg.batch_size:
            _flush(store_path, batch)
            batch = _Batch()
            yield Progress(STAGE, i + 1, len(files), f"{rep.stored} objects", "file")
        elif tick():
            yield Progress(STAGE, i + 1, len(files), f"{rep.stored} objects", "file")
    if len(batch):
        _flush(store_path, batch)
    _unmatched_rows(cat, matched, rep)
    summary = rep.summary(time.perf_counter() - t0)
    _record(store_path, cfg, catalog, files, summary, started)
    if report_path:
        rep.write(report_path)
    yield Progress(STAGE, len(files), len(files), f"{rep.stored} objects stored", "file")
    return summary


def _one(raw: RawObject, path: Path, single: bool, cat: InputCatalog | None, matched: np.ndarray,
         seen: set, batch: _Batch, rep: IngestReport, cfg: IngestConfig, unmatched: str) -> None:
    """Match, check and queue one object read from ``path`` (``single``: its only object)."""
    rep.objects_read += 1
    key = raw.id if raw.id else _stem(path)
    row = cat.row(key) if cat is not None else None
    if row is None and cat is not None and raw.id and single:
        row = cat.row(_stem(path))       # the id in the file is not the catalogue's
    who = f"{key} ({path.name})"
    if cat is not None and row is None:
        rep.objects_without_row += 1
        if unmatched == "skip":
            rep.skip("no catalogue row", who, f"not in {Path(cat.path).name}")
            return
        rep.problem("no catalogue row (stored, flagged BAD_PERIOD)", who,
                    f"not in {Path(cat.path).name}", logging.INFO)
    oid = str(cat.id[row]) if row is not None else key
    if oid in seen:
        rep.skip("duplicate id", who, f"id {oid} is already in the store or earlier in "
                 "this input; not stored twice")
        return
    seen.add(oid)
    if row is not None:
        matched[row] = True
    cleaned = clean(raw, cfg)
    values = _columns(oid, raw, cat, row, cleaned)
    rep.flag(oid if oid == key else f"{oid} ({path.name})", values["status"],
             values["status_msg"])
    batch.add(values, cleaned)


def _columns(oid: str, raw: RawObject, cat: InputCatalog | None, row: int | None,
             c: Cleaned) -> dict[str, Any]:
    """The /objects columns of one object: catalogue values first, then the file's."""
    status, notes = c.status, list(c.notes)
    ra, dec, name, period, cls = raw.ra, raw.dec, "", np.nan, ""
    if row is not None:
        if np.isfinite(cat.ra[row]) and np.isfinite(cat.dec[row]):
            ra, dec = float(cat.ra[row]), float(cat.dec[row])
        name, period, cls = str(cat.name[row]), float(cat.period[row]), str(cat.cls[row])
    elif cat is not None:
        notes.insert(0, f"no row in catalogue {Path(cat.path).name}")
    why = check_period(period)
    if why:
        status |= Status.BAD_PERIOD
        notes.insert(0, why)
    return {"id": oid, "name": name or iau_name(ra, dec) or oid, "ra": ra, "dec": dec,
            "period": period, "class": cls, "mean_g": c.mean_g, "mean_r": c.mean_r,
            "n_g": c.n_g, "n_r": c.n_r, "status": int(status), "status_msg": "; ".join(notes)}


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".csv.gz", ".csv", ".parquet", ".pq", ".txt"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _flush(store_path: str | os.PathLike, batch: _Batch) -> None:
    with Store(store_path, "a") as st:
        st.append_objects(batch.columns, batch.lcs)
    logger.debug("%s: %d objects appended", store_path, len(batch))


def _unmatched_rows(cat: InputCatalog | None, matched: np.ndarray, rep: IngestReport) -> None:
    if cat is None:
        return
    missing = np.flatnonzero(~matched)
    rep.rows_without_lightcurve = len(missing)
    rep.unmatched_ids = cat.id[missing]
    if len(missing):
        logger.warning("%s: %d catalogue rows have no light curve and were not stored "
                       "(first: %s)", cat.path, len(missing),
                       ", ".join(str(cat.id[i]) for i in missing[:5]))
    for key in cat.duplicates:
        rep.problem("duplicate catalogue id", key, f"more than one row in "
                    f"{Path(cat.path).name}; the first is used")


def _record(store_path, cfg: IngestConfig, catalog, files: list[Path], summary: dict,
            started: str) -> None:
    # which files were read, for the reader (the catalogue's own content is what later
    # stages depend on: engine.provenance.fingerprint)
    sources = config_hash(cfg, catalog or "", len(files), *(str(f) for f in files[:1000]))
    with Store(store_path, "a") as st:
        prov.record(st, STAGE, cfg, sources=sources, started=started, config=to_dict(cfg),
                    **{k: v for k, v in summary.items() if k != "problems"})
