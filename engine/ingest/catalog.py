"""Catalogue readers: the Chen et al. 2020 Table2 text file and any astropy table.

A catalogue gives each object its period (days), class, coordinates and id. Light
curves find their row by ``key`` (by default the ``id`` column): the id stored in
the light-curve file, or else the file name's stem.

Column mapping (``--columns id=Num,period=Per,class=Type``): keys are ``id``,
``key``, ``name``, ``period``, ``logperiod`` (log10 days), ``class``, ``ra`` and
``dec``; unmapped keys are looked up under common names (:data:`ALIASES`).
RA/Dec may be degrees or sexagesimal strings (``08:29:47.59``, ``+33:54:22.8``).
``--class-map ab=RR,c=RRc`` renames classes (unlisted ones are kept as they are).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import IngestError

logger = logging.getLogger(__name__)

#: Chen et al. 2020 Table2.txt (Zenodo 3886372): 34 header lines, whitespace-separated.
CHEN_TABLE2_COLUMNS = (
    "ID SourceID RAdeg DEdeg Per R21 phi21 T_0 gmag rmag Per_g Per_r Num_g Num_r R21_g R21_r "
    "phi21_g phi21_r R2_g R2_r Amp_g Amp_r log_FAP_g log_FAP_r Type Delta_min_g Delta_min_r"
).split()
CHEN_TABLE2_HEADER_LINES = 34
#: The Chen light-curve files carry SourceID, so it is the id; ID (ZTFJ...) is the name.
CHEN_TABLE2_MAPPING = {"id": "SourceID", "name": "ID", "ra": "RAdeg", "dec": "DEdeg",
                       "period": "Per", "class": "Type"}
MAPPING_KEYS = ("id", "key", "name", "period", "logperiod", "class", "ra", "dec")
ALIASES = {
    "id": ("id", "sourceid", "num", "oid", "ztfid", "objectid", "object_id", "source_id"),
    "name": ("name",),
    "period": ("period", "per", "p", "period_d"),
    "logperiod": ("logp", "log_period", "logperiod"),
    "class": ("class", "type", "lctype", "var_type"),
    "ra": ("ra", "radeg", "ra_deg", "meanra", "raj2000"),
    "dec": ("dec", "dedeg", "dec_deg", "decdeg", "meandec", "dej2000"),
}


@dataclass
class InputCatalog:
    """Catalogue rows, one per object, in file order (duplicate keys dropped).

    Parameters
    ----------
    path : str
    key, id, name, cls : ndarray of str
    ra, dec : ndarray of float, deg (NaN where unknown)
    period : ndarray of float, days (NaN where unknown)
    duplicates : list of str
        Keys that appeared more than once (the first row is kept).
    """

    path: str
    key: np.ndarray
    id: np.ndarray
    name: np.ndarray
    cls: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    period: np.ndarray
    duplicates: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.index:
            self.index = {str(k): i for i, k in enumerate(self.key)}

    def __len__(self) -> int:
        return len(self.key)

    def row(self, key: str) -> int | None:
        return self.index.get(key)


def parse_mapping(text: str | None, what: str = "--columns") -> dict[str, str]:
    """``"a=b,c=d"`` -> ``{"a": "b", "c": "d"}``; a clear message for malformed text."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        k, sep, v = part.partition("=")
        if not sep or not k.strip() or not v.strip():
            raise IngestError(f"{what}: '{part}' is not NAME=VALUE")
        out[k.strip()] = v.strip()
    return out


def read_catalog(path: str | os.PathLike, columns: Mapping[str, str] | None = None,
                 class_map: Mapping[str, str] | None = None, fmt: str = "auto") -> InputCatalog:
    """Read a catalogue (``fmt``: ``auto``, ``chen-table2`` or ``table``)."""
    path = Path(path)
    if path.is_dir():
        raise IngestError(f"{path}: is a directory, not a catalogue file")
    if not path.is_file():
        raise IngestError(f"{path}: catalogue file not found")
    unknown = set(columns or {}) - set(MAPPING_KEYS)
    if unknown:
        raise IngestError(f"--columns: unknown key(s) {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(MAPPING_KEYS)})")
    if fmt == "auto":
        fmt = "chen-table2" if _looks_like_chen_table2(path) else "table"
    if fmt == "chen-table2":
        table, defaults = _read_chen_table2(path), CHEN_TABLE2_MAPPING
    elif fmt == "table":
        table, defaults = _read_astropy(path), {}
    else:
        raise IngestError(f"unknown catalogue format '{fmt}' (known: auto, chen-table2, table)")
    mapping = _resolve(table.colnames, {**defaults, **dict(columns or {})}, path)
    return _build(path, table, mapping, dict(class_map or {}))


def _looks_like_chen_table2(path: Path) -> bool:
    if path.suffix.lower() not in (".txt", ".dat", ""):
        return False
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for i, line in enumerate(fh):
                if i == CHEN_TABLE2_HEADER_LINES:
                    return len(line.split()) == len(CHEN_TABLE2_COLUMNS)
    except OSError as exc:
        raise IngestError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return False


def _read_chen_table2(path: Path):
    from astropy.io import ascii  # heavy: only when a catalogue is read

    from .textcsv import read_text

    # skip physical lines ourselves: astropy's data_start does not count blank lines
    lines = read_text(path).splitlines()[CHEN_TABLE2_HEADER_LINES:]
    try:
        return ascii.read(lines, format="no_header", names=CHEN_TABLE2_COLUMNS, guess=False,
                          fast_reader=True)
    except Exception as exc:  # astropy raises several types for malformed tables
        raise IngestError(f"{path}: not a Chen Table2 file ({len(CHEN_TABLE2_COLUMNS)} "
                          f"whitespace-separated columns after {CHEN_TABLE2_HEADER_LINES} "
                          f"header lines): {exc}") from exc


def _read_astropy(path: Path):
    from astropy.table import Table  # heavy: only when a catalogue is read

    if path.suffix.lower() in (".parquet", ".pq"):
        return _read_parquet(path)
    fmt = {".csv": "ascii.csv", ".ecsv": "ascii.ecsv", ".xml": "votable", ".vot": "votable",
           ".votable": "votable", ".fits": "fits", ".tsv": "ascii.tab"}.get(path.suffix.lower())
    if fmt is None or fmt.startswith("ascii"):
        # read the text ourselves: UTF-8 with a BOM (Excel's "CSV UTF-8") and gzip are
        # handled there, and other encodings are refused naming the byte
        from .textcsv import read_text

        source: Any = read_text(path)
    else:
        source = path
    try:
        return Table.read(source, format=fmt or "ascii")
    except Exception as exc:  # astropy raises many types for unreadable tables
        raise IngestError(f"{path}: cannot read the catalogue ({type(exc).__name__}: "
                          f"{exc})") from exc


def _read_parquet(path: Path):
    """Parquet through pyarrow directly (astropy's reader needs pandas, not a dependency)."""
    import pyarrow.parquet as pq
    from astropy.table import Table

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises many types for unreadable files
        raise IngestError(f"{path}: cannot read the catalogue ({exc})") from exc
    return Table({n: table.column(n).to_numpy(zero_copy_only=False) for n in table.column_names})


def _resolve(colnames: list[str], mapping: dict[str, str], path: Path) -> dict[str, str]:
    """Mapping key -> existing column; explicit names must exist, aliases may not."""
    lower = {c.lower(): c for c in colnames}
    out = {}
    for key, col in mapping.items():
        if col in colnames:
            out[key] = col
        elif col.lower() in lower:
            out[key] = lower[col.lower()]
        else:
            raise IngestError(f"{path}: no column '{col}' (mapped to {key}); "
                              f"columns are {', '.join(colnames)}")
    for key, options in ALIASES.items():
        if key not in out:
            hit = next((lower[o] for o in options if o in lower), None)
            if hit is not None:
                out[key] = hit
    if "id" not in out:
        raise IngestError(f"{path}: no id column; name it with --columns id=COLUMN "
                          f"(columns are {', '.join(colnames)})")
    return out


def _build(path: Path, table, mapping: dict[str, str], class_map: dict[str, str]) -> InputCatalog:
    n = len(table)
    ids = _strings(table[mapping["id"]])
    key = _strings(table[mapping["key"]]) if "key" in mapping else ids
    if "period" in mapping:
        period = _floats(table[mapping["period"]])
    elif "logperiod" in mapping:
        period = 10.0 ** _floats(table[mapping["logperiod"]])
    else:
        period = np.full(n, np.nan)
    cls = _strings(table[mapping["class"]]) if "class" in mapping else np.full(n, "", "U1")
    if class_map:
        cls = np.array([class_map.get(c, c) for c in cls])
    ra, dec = _coords(table, mapping, path)
    name = _strings(table[mapping["name"]]) if "name" in mapping else np.full(n, "", "U1")
    _, first = np.unique(key, return_index=True)
    first.sort()
    dup = _duplicates(key) if len(first) < n else []
    if dup:
        logger.warning("%s: %d duplicate ids, first rows kept (%s)", path, n - len(first),
                       ", ".join(dup[:5]))
    return InputCatalog(str(path), key[first], ids[first], name[first], cls[first], ra[first],
                        dec[first], period[first], dup)


def _duplicates(key: np.ndarray) -> list[str]:
    uniq, counts = np.unique(key, return_counts=True)
    return [str(u) for u in uniq[counts > 1]]


def _mask(col) -> np.ndarray | None:
    mask = getattr(col, "mask", None)
    return None if mask is None else np.asarray(mask, bool)


def _strings(col) -> np.ndarray:
    """A column as str; masked cells become ''."""
    data = np.char.strip(np.asarray(col).astype(str))
    mask = _mask(col)
    if mask is not None and mask.any():
        data = np.where(mask, "", data)
    return data


def _floats(col) -> np.ndarray:
    """A column as float64; masked or non-numeric cells become NaN."""
    from .textcsv import to_float

    data = np.asarray(col)
    out = data.astype("f8") if data.dtype.kind in "fiub" else to_float(list(_strings(col)))[0]
    mask = _mask(col)
    if mask is not None and mask.any():
        out[mask] = np.nan
    return out


def _coords(table, mapping: dict[str, str], path: Path) -> tuple[np.ndarray, np.ndarray]:
    n = len(table)
    if "ra" not in mapping or "dec" not in mapping:
        return np.full(n, np.nan), np.full(n, np.nan)
    ra, dec = table[mapping["ra"]], table[mapping["dec"]]
    if np.asarray(ra).dtype.kind in "fiu":
        return _floats(ra), _floats(dec)
    from astropy.coordinates import Angle  # sexagesimal strings
    import astropy.units as u

    try:
        return (Angle(list(_strings(ra)), unit=u.hourangle).deg,
                Angle(list(_strings(dec)), unit=u.deg).deg)
    except Exception as exc:  # astropy raises several types for bad angles
        raise IngestError(f"{path}: cannot read RA/Dec from columns {mapping['ra']}/"
                          f"{mapping['dec']} ({exc})") from exc
