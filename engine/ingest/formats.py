"""Light-curve readers: one small plug-in per file format.

Every reader takes a path and returns a list of :class:`RawObject` (a file may hold
one object or many) with times in MJD and band codes of :data:`engine.store.BANDS`.
Readers drop only what their format defines as bad (flagged rows); NaN values,
sorting, duplicates and the quality cut are handled for all formats alike in
:mod:`engine.ingest.quality`.

Formats (``--format``):

``chen``
    Chen et al. 2020 CPVS per-object CSV: ``SourceID,RAdeg,DEdeg,HJD,mag,e_mag,flag,band``
    with a UTF-8 BOM. ``HJD`` is HJD - 2400000.5 (MJD-like) and is stored as is.
    ``flag``: Chen's per-point flag; 0 is a good point. We treat any other value as
    a point Chen's pipeline rejected, like ZTF ``catflags``, and drop it (counted in
    ``status_msg``). Rows are grouped by ``SourceID`` (the id); RA/Dec is the median
    over the rows (Chen merged several DR2 sources, so they scatter by < 1").
``ztf-dr``
    ZTF public data release / IRSA light curves: ``time`` (or ``mjd``/``hmjd``), ``mag``,
    ``magerr``, ``catflags``, ``band`` (or ``filtercode``: zg/zr/zi), optional ``oid``,
    ``ra``, ``dec``. Rows with ``catflags & catflags_mask != 0`` are dropped; the default
    mask keeps only ``catflags == 0``, the ZTF DR documentation's recommendation for
    clean photometry (bit 15, 32768, marks moon/bad-calibration epochs and is one
    of the bits dropped).
``csv``
    Plain ``time,mag,magerr,band`` (MJD; JD is converted), optional id/ra/dec
    columns. Band labels g, r, R, zg, zr, ZTF_g, ... map to g/r; u, i, z, y keep
    their code; anything else is kept as ``other`` and reported.
``alerce``
    ALeRCE/ZTF alert detections (parquet or CSV; many objects per file): ``oid``,
    ``mjd``, ``fid`` (1 g, 2 r), ``magpsf_corr``/``sigmapsf_corr`` (apparent
    magnitudes). Rows repeated on (oid, mjd, fid) are removed (first kept). Objects
    with no corrected magnitudes fall back to ``magpsf``/``sigmapsf`` (difference-image
    magnitudes), noted in ``status_msg``.
"""
from __future__ import annotations

import glob
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import IngestError
from ..store import Status
from .bands import OTHER, band_codes, fid_codes
from .textcsv import CsvColumns, first_line, read_csv, to_float

logger = logging.getLogger(__name__)

#: File name endings looked at when a directory is given.
LC_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq", ".txt")
FORMATS = ("chen", "ztf-dr", "csv", "alerce")
_MJD_OFFSET = 2400000.5


@dataclass
class RawObject:
    """Photometry of one object as read from a file, before cleaning.

    Parameters
    ----------
    source : str
        The file it came from.
    id : str or None
        Object id given in the file; None: the file name's stem is used.
    ra, dec : float, deg (NaN if the file has none)
    time : ndarray, MJD (days)
    mag, magerr : ndarray, mag
    band : ndarray of uint8, store band codes
    unknown_bands : list of str
        Labels that were kept as ``other``.
    flags : int
        :class:`~engine.store.Status` bits already known (e.g. ``BAD_VALUES``).
    notes : list of str
        Messages for ``status_msg``.
    """

    source: str
    id: str | None
    ra: float
    dec: float
    time: np.ndarray
    mag: np.ndarray
    magerr: np.ndarray
    band: np.ndarray
    unknown_bands: list[str] = field(default_factory=list)
    flags: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CsvSpec:
    """Column names (first match wins, case-insensitive) of a CSV light-curve format."""

    time: tuple[str, ...]
    mag: tuple[str, ...]
    magerr: tuple[str, ...]
    band: tuple[str, ...]
    id: tuple[str, ...] = ()
    ra: tuple[str, ...] = ("ra", "radeg")
    dec: tuple[str, ...] = ("dec", "dedeg", "decdeg")
    flag: tuple[str, ...] = ()
    flag_name: str = "flag"


SPECS = {
    "chen": CsvSpec(time=("hjd",), mag=("mag",), magerr=("e_mag",), band=("band",),
                    id=("sourceid",), flag=("flag",), flag_name="Chen flag"),
    "ztf-dr": CsvSpec(time=("time", "hmjd", "mjd"), mag=("mag",), magerr=("magerr",),
                      band=("band", "filtercode"), id=("oid",), flag=("catflags",),
                      flag_name="catflags"),
    "csv": CsvSpec(time=("time", "mjd", "hjd", "jd", "t"), mag=("mag", "magnitude"),
                   magerr=("magerr", "mag_err", "e_mag", "sigma", "err"),
                   band=("band", "filter", "passband", "filtercode"),
                   id=("id", "objectid", "object_id", "sourceid", "oid")),
}


# -- finding files -------------------------------------------------------------
def expand_paths(paths: list[str]) -> tuple[list[Path], list[str]]:
    """Files named by ``paths`` (files, directories, globs) and messages for bad ones."""
    files, problems = [], []
    for p in paths:
        if any(ch in str(p) for ch in "*?["):
            hits = sorted(Path(h) for h in glob.glob(str(p), recursive=True))
            hits = [h for h in hits if h.is_file()]
            if not hits:
                problems.append(f"{p}: the pattern matches no file")
            files += hits
        elif Path(p).is_dir():
            hits = sorted(h for h in Path(p).iterdir()
                          if h.is_file() and h.name.lower().endswith(LC_SUFFIXES)
                          and not h.name.startswith("."))
            if not hits:
                problems.append(f"{p}: the directory holds no light-curve files "
                                f"({', '.join(LC_SUFFIXES)})")
            files += hits
        elif Path(p).is_file():
            files.append(Path(p))
        else:
            problems.append(f"{p}: no such file or directory")
    return files, problems


# -- sniffing -------------------------------------------------------------------
def sniff(path: str | os.PathLike) -> str:
    """The format of a light-curve file from its magic bytes or header line."""
    path = Path(path)
    if _is_parquet(path):
        return "alerce"
    header = first_line(path)
    names = {h.strip().lower() for h in header.split(",")}
    if {"sourceid", "hjd", "e_mag"} <= names:
        return "chen"
    if "catflags" in names:
        return "ztf-dr"
    if "fid" in names and ({"magpsf", "magpsf_corr"} & names):
        return "alerce"
    spec = SPECS["csv"]
    if names & set(spec.time) and names & set(spec.mag):
        return "csv"        # the csv reader names any column still missing
    raise IngestError(f"{path}: unknown light-curve format (header: {header[:120]!r}); "
                      "expected Chen CPVS, ZTF DR, time,mag,magerr,band CSV or ALeRCE "
                      "detections; pick one with --format")


def _is_parquet(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PAR1"
    except OSError as exc:
        raise IngestError(f"{path}: cannot read ({exc.strerror or exc})") from exc


# -- CSV formats ------------------------------------------------------------------
def _pick(table: CsvColumns, options: tuple[str, ...], what: str, fmt: str,
          required: bool = True) -> str | None:
    lower = {h.lower(): h for h in table.header}
    for opt in options:
        if opt in lower:
            return lower[opt]
    if required:
        raise IngestError(f"{table.path}: no {what} column (looked for "
                          f"{', '.join(options)}) for format '{fmt}'; "
                          f"header is {','.join(table.header)}")
    return None


def read_csv_format(path: str | os.PathLike, fmt: str, catflags_mask: int = 0xFFFF,
                    ) -> list[RawObject]:
    """Read a CSV light-curve file of format ``fmt`` (``chen``, ``ztf-dr``, ``csv``)."""
    spec = SPECS[fmt]
    table = read_csv(path)
    cols = {k: _pick(table, getattr(spec, k), k, fmt) for k in ("time", "mag", "magerr", "band")}
    opt = {k: _pick(table, getattr(spec, k), k, fmt, required=False)
           for k in ("id", "ra", "dec", "flag")}
    notes, flags = [], 0
    if table.bad_lines:
        flags |= Status.BAD_VALUES
        notes.append(f"{len(table.bad_lines)} malformed rows dropped (line "
                     f"{', '.join(map(str, table.bad_lines[:5]))})")
    data = {}
    for key in ("time", "mag", "magerr"):
        data[key], n_bad = table.floats(cols[key])
        if n_bad:
            notes.append(f"{n_bad} non-numeric {cols[key]} values")
    data["labels"] = table.strings(cols["band"])
    data["band"], _ = band_codes(data["labels"])
    keep = np.ones(len(table), bool)
    if opt["flag"]:
        flag, _ = table.floats(opt["flag"])
        bad = np.nan_to_num(flag, nan=1).astype("i8")
        bad = (bad & catflags_mask) != 0 if fmt == "ztf-dr" else bad != 0
        if bad.any():
            notes.append(f"{int(bad.sum())} points with {spec.flag_name} != 0 dropped")
        keep &= ~bad
    data["ra"] = table.floats(opt["ra"])[0] if opt["ra"] else None
    data["dec"] = table.floats(opt["dec"])[0] if opt["dec"] else None
    ids = table.strings(opt["id"]) if opt["id"] else None
    return _split_objects(str(path), data, ids, keep, flags, notes)


def _split_objects(source: str, data: dict, ids: np.ndarray | None, keep: np.ndarray,
                   flags: int, notes: list[str]) -> list[RawObject]:
    """One RawObject per distinct id (or one for the whole file without ids)."""
    time = _to_mjd(data["time"], notes)
    out = []
    for oid, rows in group_rows(ids, keep):
        band = data["band"][rows]
        unknown = sorted({str(x) for x in data["labels"][rows][band == OTHER]})
        out.append(RawObject(source, oid, _median(data["ra"], rows), _median(data["dec"], rows),
                             time[rows], data["mag"][rows], data["magerr"][rows], band,
                             unknown, flags, list(notes)))
    return out


def group_rows(ids: np.ndarray | None, keep: np.ndarray) -> list[tuple[str | None, np.ndarray]]:
    """(id, row indices) per distinct id in order of first appearance, rows where ``keep``.

    Sorting once makes this O(n log n) for files with 10^4 objects.
    """
    if ids is None:
        return [(None, np.flatnonzero(keep))]
    uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse, minlength=len(uniq)))[:-1]
    per_id = np.split(order, bounds)
    return [(str(uniq[k]), per_id[k][keep[per_id[k]]]) for k in np.argsort(first)]


def _median(values: np.ndarray | None, rows: np.ndarray) -> float:
    if values is None or not len(rows):
        return np.nan
    vals = values[rows]
    if vals[0] == vals[-1] and vals.min() == vals.max():
        return float(vals[0])           # the usual case, one position per file; cheap
    vals = vals[np.isfinite(vals)]
    return float(np.median(vals)) if len(vals) else np.nan


def _to_mjd(time: np.ndarray, notes: list[str]) -> np.ndarray:
    """Full Julian dates (> 2.4e6) are converted to MJD; MJD-like times are kept."""
    finite = np.isfinite(time)
    if finite.any() and time[finite].min() > 2.4e6:
        notes.append("times were Julian dates; converted to MJD")
        return time - _MJD_OFFSET
    return time


# -- ALeRCE detections ---------------------------------------------------------------
_ALERCE_COLS = ("oid", "mjd", "fid", "magpsf", "sigmapsf", "magpsf_corr", "sigmapsf_corr",
                "ra", "dec")


def _alerce_columns(path: Path) -> dict[str, np.ndarray]:
    if _is_parquet(path):
        import pyarrow.parquet as pq  # heavy: only when a parquet file is read

        try:
            pf = pq.ParquetFile(path)
            names = [c for c in _ALERCE_COLS if c in pf.schema_arrow.names]
            table = pf.read(columns=names)
        except Exception as exc:  # pyarrow raises many types for corrupt files
            raise IngestError(f"{path}: cannot read parquet ({exc})") from exc
        return {n: table.column(n).to_numpy(zero_copy_only=False) for n in names}
    table = read_csv(path)
    lower = {h.lower(): h for h in table.header}
    out = {}
    for n in _ALERCE_COLS:
        if n in lower:
            vals = table.cols[lower[n]]
            out[n] = table.strings(lower[n]) if n == "oid" else to_float(vals)[0]
    return out


def read_alerce(path: str | os.PathLike) -> list[RawObject]:
    """Read ALeRCE/ZTF alert detections: many objects per file."""
    path = Path(path)
    cols = _alerce_columns(path)
    missing = [c for c in ("oid", "mjd", "fid", "magpsf", "sigmapsf") if c not in cols]
    if missing:
        raise IngestError(f"{path}: not ALeRCE detections, missing column(s) "
                          f"{', '.join(missing)}")
    n = len(cols["oid"])
    oid = np.asarray(cols["oid"]).astype(str)
    num = {k: np.asarray(cols[k], "f8") if k in cols else np.full(n, np.nan)
           for k in _ALERCE_COLS[1:]}
    fid = np.nan_to_num(num["fid"], nan=-1).astype(int)
    _, first = np.unique(np.rec.fromarrays([oid, num["mjd"], fid]), return_index=True)
    keep = np.zeros(n, bool)
    keep[first] = True
    if n - len(first):
        logger.info("%s: %d detections repeated on (oid, mjd, fid) removed", path, n - len(first))
    num["band"], _ = fid_codes(fid)
    out = []
    for u, rows in group_rows(oid, keep):
        unknown = sorted({f"fid={f}" for f in fid[rows][num["band"][rows] == OTHER]})
        out.append(_alerce_object(str(path), u, num, rows, unknown))
    return out


def _alerce_object(source: str, oid: str, num: dict[str, np.ndarray], rows: np.ndarray,
                   unknown: list[str]) -> RawObject:
    notes = []
    mag, err = num["magpsf_corr"][rows], num["sigmapsf_corr"][rows]
    usable = np.isfinite(mag) & np.isfinite(err)
    if not usable.any():
        notes.append("no corrected magnitudes: difference-image magpsf used")
        mag, err = num["magpsf"][rows], num["sigmapsf"][rows]
        usable = np.ones(len(rows), bool)
    elif not usable.all():
        notes.append(f"{int((~usable).sum())} uncorrected detections dropped")
    return RawObject(source, oid, _median(num["ra"], rows), _median(num["dec"], rows),
                     num["mjd"][rows][usable], mag[usable], err[usable],
                     num["band"][rows][usable], unknown, 0, notes)


# -- dispatch ---------------------------------------------------------------------------
def reader_for(fmt: str, catflags_mask: int = 0xFFFF) -> Callable[[Path], list[RawObject]]:
    """The reader function of a format name (``auto`` sniffs every file)."""
    if fmt == "alerce":
        return read_alerce
    if fmt in SPECS:
        return lambda p: read_csv_format(p, fmt, catflags_mask)
    if fmt == "auto":
        return lambda p: reader_for(sniff(p), catflags_mask)(p)
    raise IngestError(f"unknown light-curve format '{fmt}' (known: auto, {', '.join(FORMATS)})")
