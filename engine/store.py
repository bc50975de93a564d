"""The HDF5 store: the single source of truth between engine and GUI.

This is the only module that imports h5py. Schema (DESIGN.md section 3):

``/meta`` (attrs)
    ``schema_version``, ``pvsvet_version``, ``created``, ``config`` (JSON).
``/objects``
    One dataset per column, row ``i`` is object ``i`` everywhere; attr ``n`` is the
    number of committed rows (datasets may be longer after an interrupted append;
    rows past ``n`` are garbage and get overwritten).
``/lightcurves``
    Ragged raw photometry: ``time`` (MJD, f8), ``mag`` (f4), ``magerr`` (f4),
    ``band`` (u1, see :data:`BANDS`) concatenated, and ``offsets`` (N+1, i8).
``/interp``, ``/vae``, ``/scores/...``, ``/context``
    Stage groups, written atomically with :meth:`Store.writing_group`.
``/runs``
    ``records``: one JSON record per stage run.

Strings are stored as fixed-width UTF-8 bytes (fast to read for 10^6 rows); a
longer value widens the column.

Damage is detected, not read as data: new stores use the HDF5 1.8 file format, whose
superblock, object headers (attributes included) and indexes carry checksums; every
non-scalar fixed-size dataset the store writes has the Fletcher-32 filter (checked on
each chunk read); ``/meta`` holds a SHA-256 digest of its attributes. Any read of a
damaged object raises :class:`~engine.errors.StoreError` naming the group and the stage
that rewrites it (``engine.verify`` checks a whole store). Before a dataset is
written the free space (and the process's file-size limit) is checked, so a full disk
refuses a commit instead of leaving a half-written file.
"""
from __future__ import annotations

import contextlib
import enum
import errno
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import h5py
import numpy as np

from . import __version__
from .errors import DamagedError, StoreError

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1

#: Band codes in ``/lightcurves/band``. 0 and 1 are the two bands of the pipeline.
BANDS = ("g", "r", "i", "z", "u", "y", "other")
BAND_CODE = {b: i for i, b in enumerate(BANDS)}


class Status(enum.IntFlag):
    """Bit flags in ``/objects/status`` (ingest) and ``<stage>/status`` (stages)."""

    OK = 0
    REJECTED_CUT = 1        # fails the paper's detection cut (2.5 sigma g, 3 sigma r)
    FEW_POINTS = 2          # fewer than min_points in g or r
    MISSING_BAND = 4        # no g or no r at all
    BAD_PERIOD = 8          # zero, negative or NaN period
    BAD_VALUES = 16         # NaN/inf magnitudes or errors were dropped
    DUPLICATE_TIMES = 32    # duplicated epochs were merged
    GP_FAILED = 64          # the GP fit failed (optimiser, divergence)
    GP_UNPHYSICAL = 128     # mean leaves the data range or sigma collapses/explodes
    NO_LIGHTCURVE = 256     # catalogue row without a light-curve file
    OTHER_BANDS = 512       # points in bands outside g/r were kept out of the pipeline


#: Ingest flags that keep an object out of the interpolation (no curve is made).
NOT_INTERPOLATED = (Status.REJECTED_CUT | Status.FEW_POINTS | Status.MISSING_BAND
                    | Status.BAD_PERIOD | Status.NO_LIGHTCURVE)
#: Flags after which an object has no usable curve: it is not encoded or scored.
NO_CURVE = NOT_INTERPOLATED | Status.GP_FAILED
#: Flags that keep an object out of the VAE's train/validation/test split. Objects with
#: an unphysical interpolation are still encoded and scored (the paper's ranking kept
#: them; they are a known source of false anomalies), and the GUI shows their flag.
NOT_FOR_TRAINING = NO_CURVE | Status.GP_UNPHYSICAL

#: Column name -> numpy dtype kind of ``/objects``. "S" columns are UTF-8 strings.
OBJECT_COLUMNS: dict[str, str] = {
    "id": "S", "name": "S", "ra": "f8", "dec": "f8", "period": "f8", "class": "S",
    "mean_g": "f4", "mean_r": "f4", "n_g": "i4", "n_r": "i4",
    "status": "u4", "status_msg": "S", "truth_anomaly": "u1", "truth_kind": "S",
}
_FILL = {"f8": np.nan, "f4": np.nan, "i4": 0, "u4": 0, "u1": 0, "S": b""}
_LC_CHUNK = 1 << 16
_OBJ_CHUNK = 1 << 14
#: file format of new stores: HDF5 1.8 (checksummed metadata, no "open for write" flag
#: that a killed writer would leave set, as the 1.10 superblock does)
LIBVER = ("v108", "v108")
#: free space kept beyond what a write needs (HDF5 metadata, the runs record), bytes
SPACE_MARGIN = 1 << 20
#: top-level group -> the command that rewrites it (for "damaged; rerun ..." messages)
REWRITTEN_BY = {"objects": "ingest", "lightcurves": "ingest", "meta": "ingest",
                "runs": "ingest", "interp": "interpolate", "vae": "train",
                "vae_train": "train", "scores": "score", "foldstats": "score",
                "context": "context"}
#: what h5py raises on a damaged object (a failed checksum, a garbled header)
_DAMAGE = (OSError, KeyError, RuntimeError)


@dataclass
class LightCurve:
    """Raw photometry of one object.

    Parameters
    ----------
    time : ndarray, MJD (days)
    mag, magerr : ndarray, mag
    band : ndarray of uint8, codes of :data:`BANDS`
    """

    time: np.ndarray
    mag: np.ndarray
    magerr: np.ndarray
    band: np.ndarray

    def __len__(self) -> int:
        return len(self.time)

    def select(self, mask: np.ndarray) -> "LightCurve":
        return LightCurve(self.time[mask], self.mag[mask], self.magerr[mask], self.band[mask])

    def in_band(self, band: str | int) -> "LightCurve":
        code = BAND_CODE[band] if isinstance(band, str) else band
        return self.select(self.band == code)


def encode_str(values: Sequence[Any]) -> np.ndarray:
    arr = np.asarray([("" if v is None else str(v)).encode("utf-8") for v in values])
    return arr if arr.dtype.kind == "S" else arr.astype("S1")


def decode_str(arr: np.ndarray) -> np.ndarray:
    """Fixed-width UTF-8 bytes -> numpy unicode array."""
    if arr.dtype.kind != "S":
        return arr
    try:
        return arr.astype("U")
    except UnicodeDecodeError:
        return np.array([b.decode("utf-8", "replace") for b in arr])


def utc_now() -> str:
    """The current UTC time as ISO 8601 (seconds), as the store records times."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")



def _is_lock_error(exc: OSError) -> bool:
    """Whether HDF5 refused the file because another process holds its lock.

    HDF5's lock failure is ``unable to lock file, errno = 11`` (a BlockingIOError);
    words like "sblock" in the messages about truncated files are not locks.
    """
    if isinstance(exc, BlockingIOError) or exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
        return True
    return "unable to lock file" in str(exc).lower()


def _reason(exc: BaseException) -> str:
    """HDF5's reason from an h5py error, short: the text in its last parentheses."""
    msg = str(exc).strip()
    if msg.endswith(")") and "(" in msg:
        msg = msg[msg.index("(") + 1:-1]
    return msg[:160] or type(exc).__name__


def damaged(path: Any, name: str, exc: BaseException | str) -> DamagedError:
    """The error for a damaged object: names the store, the group and the fix."""
    top = name.strip("/").split("/")[0] or "/"
    stage = REWRITTEN_BY.get(top)
    fix = f"rerun {stage}" if stage else "restore the store from a copy"
    if top in ("objects", "lightcurves", "meta", "runs"):
        fix = "restore the store from a copy or re-ingest the data"
    why = exc if isinstance(exc, str) else _reason(exc)
    return DamagedError(f"{path} /{name.strip('/')} is damaged ({why}); {fix}")


def meta_digest(attrs: Mapping[str, Any]) -> str:
    """SHA-256 of the ``/meta`` attributes other than the digest itself."""
    h = hashlib.sha256()
    for key in sorted(k for k in attrs if k != "digest"):
        val = attrs[key]
        if isinstance(val, np.generic):
            val = val.item()
        if isinstance(val, bytes):
            val = val.decode("utf-8", "replace")
        h.update(f"{key}={type(val).__name__}:{val}\n".encode("utf-8", "replace"))
    return h.hexdigest()


def filtered(kwargs: dict) -> dict:
    """Dataset options with the Fletcher-32 checksum where HDF5 allows a filter
    (chunked, fixed-size type, not scalar)."""
    shape, data, dtype = kwargs.get("shape"), kwargs.get("data"), kwargs.get("dtype")
    if data is not None and not isinstance(data, np.ndarray):
        data = kwargs["data"] = np.asarray(data)
    if shape is None and data is not None:
        shape = data.shape
    dt = np.dtype(dtype) if dtype is not None else (data.dtype if data is not None else None)
    if shape is None or shape == () or dt is None or dt.kind == "O":
        return kwargs
    string = h5py.check_string_dtype(dt)
    if string is not None and string.length is None:     # variable-length: no filters
        return kwargs
    kwargs.setdefault("fletcher32", True)
    return kwargs


def dataset_bytes(kwargs: dict) -> int:
    """Bytes a ``create_dataset`` call will write (shape x item size)."""
    data = kwargs.get("data")
    if data is not None:
        return int(np.asarray(data).nbytes)
    shape, dtype = kwargs.get("shape"), kwargs.get("dtype")
    if shape is None:
        return 0
    shape = (shape,) if isinstance(shape, (int, np.integer)) else shape
    return int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype or "f4").itemsize


class _CheckedGroup:
    """An h5py group whose new datasets are checksummed and space-checked first."""

    def __init__(self, group: h5py.Group, store: "Store", shown: str):
        self._group, self._store, self._shown = group, store, shown

    def create_dataset(self, name: str, shape=None, dtype=None, data=None, **kwargs):
        kwargs = filtered({"shape": shape, "dtype": dtype, "data": data, **kwargs})
        self._store.ensure_space(dataset_bytes(kwargs), f"/{self._shown}/{name}")
        return self._group.create_dataset(name, **kwargs)

    def create_group(self, name: str) -> "_CheckedGroup":
        return _CheckedGroup(self._group.create_group(name), self._store, f"{self._shown}/{name}")

    def require_group(self, name: str) -> "_CheckedGroup":
        return _CheckedGroup(self._group.require_group(name), self._store,
                             f"{self._shown}/{name}")

    def __setitem__(self, name: str, value: Any) -> None:
        self.create_dataset(name, data=value)

    def __getitem__(self, name: str) -> Any:
        return self._group[name]

    def __contains__(self, name: str) -> bool:
        return name in self._group

    def __iter__(self):
        return iter(self._group)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._group, name)


class Store:
    """An open pvsvet store.

    Parameters
    ----------
    path : str or Path
        The HDF5 file.
    mode : {"r", "a"}
        ``"r"`` read-only (the GUI), ``"a"`` read/write (one writer at a time).
    wait : float, seconds
        How long to retry while another process holds the file.

    Use :meth:`create` for a new store. Opening refuses files that are not pvsvet
    stores or come from another schema version, without modifying them.
    """

    def __init__(self, path: str | os.PathLike, mode: str = "r", wait: float = 10.0):
        self.path = Path(path)
        if mode not in ("r", "a"):
            raise ValueError(f"mode must be 'r' or 'a', not {mode!r}")
        self.mode = mode
        if not self.path.exists():
            raise StoreError(f"{self.path}: no such store")
        if not h5py.is_hdf5(self.path):
            raise StoreError(f"{self.path}: not a pvsvet store (not an HDF5 file)")
        self._h5 = self._open(mode if mode == "r" else "r+", wait)
        try:
            self._check_schema()
        except StoreError:
            self._h5.close()
            raise
        if mode == "a":
            self._recover()

    # -- opening -----------------------------------------------------------
    def _open(self, h5mode: str, wait: float) -> h5py.File:
        deadline = time.monotonic() + wait
        while True:
            try:
                return h5py.File(self.path, h5mode)
            except OSError as exc:
                if not _is_lock_error(exc):
                    raise DamagedError(f"{self.path}: damaged or truncated store, cannot be "
                                     f"opened ({_reason(exc)}); restore it from a copy or "
                                     "re-ingest the data") from exc
                if time.monotonic() > deadline:
                    raise StoreError(f"{self.path}: busy, another process is writing it") from exc
                time.sleep(0.2)

    def _check_schema(self) -> None:
        try:
            meta = self._h5.get("meta")
            attrs = dict(meta.attrs) if meta is not None else {}
        except _DAMAGE as exc:
            raise damaged(self.path, "meta", exc) from exc
        if "schema_version" not in attrs:
            raise StoreError(f"{self.path}: not a pvsvet store (no /meta schema_version)")
        try:
            version = int(attrs["schema_version"])
        except (TypeError, ValueError) as exc:
            raise damaged(self.path, "meta", "schema_version is not a number") from exc
        # a newer schema may digest differently: say "newer" before checking the digest
        if version == SCHEMA_VERSION and "digest" in attrs \
                and str(attrs["digest"]) != meta_digest(attrs):
            raise damaged(self.path, "meta", "its checksum does not match")
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: written by a newer pvsvet (schema {version}); "
                             f"this pvsvet reads schema {SCHEMA_VERSION}. Upgrade pvsvet.")
        if version < SCHEMA_VERSION:
            raise StoreError(f"{self.path}: schema {version} is older than {SCHEMA_VERSION}; "
                             "re-ingest the data with this version.")

    def _recover(self) -> None:
        """Finish a group replace that a kill interrupted between its two moves.

        ``writing_group`` moves ``X`` to ``_old_X`` and then ``_tmp_X`` to ``X``; a kill
        in between leaves no ``X``. A ``_tmp_X`` with a ``write_id`` was complete: it
        becomes ``X``; otherwise the previous ``_old_X`` is put back.
        """
        try:
            parents = [self._h5] + [g for g in self._h5.values() if isinstance(g, h5py.Group)]
            for parent in parents:
                for key in [k for k in parent.keys() if k.startswith("_old_")]:
                    leaf, tmp = key[5:], "_tmp_" + key[5:]
                    if leaf in parent:
                        continue
                    done = tmp in parent and "write_id" in parent[tmp].attrs
                    parent.move(tmp if done else key, leaf)
                    logger.warning("%s: finished an interrupted replace of %s/%s (%s)",
                                   self.path, parent.name.rstrip("/"), leaf,
                                   "new content" if done else "previous content kept")
        except _DAMAGE as exc:
            logger.warning("%s: could not check for interrupted replaces (%s)", self.path,
                           _reason(exc))

    @classmethod
    def create(cls, path: str | os.PathLike, config: Mapping[str, Any] | None = None,
               overwrite: bool = False) -> "Store":
        """Make a new empty store and return it open for writing."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise StoreError(f"{path}: already exists")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".creating")
        with h5py.File(tmp, "w", libver=LIBVER) as h5:
            meta = h5.create_group("meta")
            meta.attrs["schema_version"] = SCHEMA_VERSION
            meta.attrs["pvsvet_version"] = __version__
            meta.attrs["created"] = utc_now()
            meta.attrs["config"] = json.dumps(dict(config or {}))
            meta.attrs["digest"] = meta_digest(meta.attrs)
            objs = h5.create_group("objects")
            objs.attrs["n"] = 0
            for name, kind in OBJECT_COLUMNS.items():
                dtype = "S1" if kind == "S" else kind
                objs.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype,
                                    chunks=(_OBJ_CHUNK,), fletcher32=True)
            lcs = h5.create_group("lightcurves")
            for name, dtype in (("time", "f8"), ("mag", "f4"), ("magerr", "f4"), ("band", "u1")):
                lcs.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype,
                                   chunks=(_LC_CHUNK,), fletcher32=True)
            lcs.create_dataset("offsets", data=np.zeros(1, "i8"), maxshape=(None,),
                               chunks=(_OBJ_CHUNK,), fletcher32=True)
            runs = h5.create_group("runs")
            runs.create_dataset("records", shape=(0,), maxshape=(None,),
                                dtype=h5py.string_dtype(), chunks=(256,))
        os.replace(tmp, path)
        return cls(path, "a")

    @classmethod
    def open_or_create(cls, path: str | os.PathLike) -> "Store":
        path = Path(path)
        return cls(path, "a") if path.exists() else cls.create(path)

    def close(self) -> None:
        if self._h5.id.valid:
            try:
                self._h5.close()
            except OSError as exc:      # a failed final flush (full disk): say so
                raise StoreError(f"{self.path}: could not finish writing "
                                 f"({_reason(exc)})") from exc

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def flush(self) -> None:
        self._h5.flush()

    def _require_write(self) -> None:
        if self.mode != "a":
            raise StoreError(f"{self.path}: opened read-only")

    @contextlib.contextmanager
    def reading(self, name: str) -> Iterator[None]:
        """Turn h5py's errors about a damaged object into a StoreError naming it."""
        try:
            yield
        except StoreError:
            raise
        except _DAMAGE as exc:
            raise damaged(self.path, name, exc) from exc

    def free_bytes(self) -> int:
        """Bytes this process may still add to the store: free disk space, or less
        where the process has a file-size limit (RLIMIT_FSIZE)."""
        import shutil

        free = shutil.disk_usage(self.path.resolve().parent).free
        try:
            import resource

            soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
            if soft != resource.RLIM_INFINITY:
                free = min(free, soft - self.path.stat().st_size)
        except (ImportError, OSError, ValueError):
            pass
        return int(free)

    def ensure_space(self, nbytes: int, what: str) -> None:
        """Refuse (before writing anything) a write of ``nbytes`` the disk cannot hold.

        HDF5 cannot roll back a write that fails half way for lack of space; the
        store would be left unreadable. So the space is checked first, with a margin
        for HDF5's own metadata.
        """
        need = int(nbytes * 1.05) + SPACE_MARGIN
        free = self.free_bytes()
        if free < need:
            raise StoreError(
                f"{self.path}: not enough disk space to write {what} ({_mb(need)} needed, "
                f"{_mb(max(free, 0))} free); the store is unchanged, free some space and "
                "run the command again")

    # -- meta ----------------------------------------------------------------
    @property
    def meta(self) -> dict[str, Any]:
        with self.reading("meta"):
            out = dict(self._h5["meta"].attrs)
        try:
            out["config"] = json.loads(out.get("config", "{}") or "{}")
        except (ValueError, TypeError) as exc:
            raise damaged(self.path, "meta", "its config is not valid JSON") from exc
        out.pop("digest", None)
        return out

    def set_config(self, config: Mapping[str, Any]) -> None:
        self._require_write()
        text = json.dumps(dict(config))
        self.ensure_space(len(text), "/meta")
        attrs = self._h5["meta"].attrs
        attrs["config"] = text
        if "digest" in attrs:
            attrs["digest"] = meta_digest(attrs)

    # -- objects -------------------------------------------------------------
    @property
    def n_objects(self) -> int:
        with self.reading("objects"):
            return int(self._h5["objects"].attrs["n"])

    def __len__(self) -> int:
        return self.n_objects

    @property
    def object_columns(self) -> list[str]:
        return list(self._h5["objects"].keys())

    def read_objects(self, columns: Sequence[str] | None = None, rows: Any = None,
                     decode: bool = True) -> dict[str, np.ndarray]:
        """Columns of ``/objects`` as arrays (strings decoded to unicode by default)."""
        n = self.n_objects
        objs = self._h5["objects"]
        names = list(columns) if columns is not None else list(objs.keys())
        out = {}
        for name in names:
            if name not in objs:
                raise StoreError(f"{self.path}: /objects has no column '{name}'")
            with self.reading(f"objects/{name}"):
                data = objs[name][:n] if rows is None else _take(objs[name], rows, n)
            out[name] = decode_str(data) if decode else data
        return out

    def object_index(self) -> dict[str, int]:
        """Survey id -> row."""
        ids = self.read_objects(["id"])["id"]
        return {str(v): i for i, v in enumerate(ids)}

    def append_objects(self, columns: Mapping[str, Sequence[Any]],
                       lightcurves: Sequence[LightCurve]) -> range:
        """Append objects and their light curves; return the rows they got.

        ``columns`` must hold ``id`` and may hold any column of
        :data:`OBJECT_COLUMNS` (others are added as new float/string columns).
        The row count ``/objects.attrs['n']`` is updated last, so an interrupted
        append leaves the store as it was.
        """
        self._require_write()
        m = len(lightcurves)
        if "id" not in columns:
            raise StoreError("append_objects: the 'id' column is required")
        for name, vals in columns.items():
            if len(vals) != m:
                raise StoreError(f"append_objects: column '{name}' has {len(vals)} values "
                                 f"for {m} light curves")
        objs = self._h5["objects"]
        n0 = self.n_objects
        self.ensure_space(sum(len(lc) for lc in lightcurves) * 17 + m * (8 + 256),
                          "/objects and /lightcurves")
        for name in set(objs.keys()) | set(columns.keys()):
            vals = columns.get(name)
            kind = OBJECT_COLUMNS.get(name)
            if vals is None:
                ds = objs[name]
                arr = np.full(m, _FILL.get(kind or ds.dtype.str[1:], 0) if ds.dtype.kind != "S"
                              else b"", dtype=ds.dtype)
            elif (kind or "") == "S" or (kind is None and _is_text(vals)):
                arr = encode_str(vals)
            else:
                arr = np.asarray(vals, dtype=kind or "f8")
            if name not in objs:
                dtype = arr.dtype if arr.dtype.kind != "S" else arr.dtype
                objs.create_dataset(name, shape=(n0,), maxshape=(None,), dtype=dtype,
                                    chunks=(_OBJ_CHUNK,), fillvalue=_fill_for(dtype),
                                    fletcher32=True)
            self._write_column(objs, name, n0, arr)

        lcs = self._h5["lightcurves"]
        offsets = lcs["offsets"]
        start = int(offsets[n0])
        lens = np.array([len(lc) for lc in lightcurves], dtype="i8")
        total = int(lens.sum())
        for name in ("time", "mag", "magerr", "band"):
            ds = lcs[name]
            if ds.shape[0] < start + total:
                ds.resize((start + total,))
            if total:
                ds[start:start + total] = np.concatenate(
                    [np.asarray(getattr(lc, name), dtype=ds.dtype) for lc in lightcurves])
        if offsets.shape[0] < n0 + m + 1:
            offsets.resize((n0 + m + 1,))
        offsets[n0 + 1:n0 + m + 1] = start + np.cumsum(lens)
        objs.attrs["n"] = n0 + m   # commit point
        self._h5.flush()
        return range(n0, n0 + m)

    def _write_column(self, objs: h5py.Group, name: str, n0: int, arr: np.ndarray) -> None:
        ds = objs[name]
        if arr.dtype.kind == "S" and arr.dtype.itemsize > ds.dtype.itemsize:
            old = ds[:n0]
            attrs = dict(ds.attrs)
            del objs[name]
            ds = objs.create_dataset(name, shape=(n0,), maxshape=(None,), dtype=arr.dtype,
                                     chunks=(_OBJ_CHUNK,), fletcher32=True)
            ds[:n0] = old.astype(arr.dtype)
            ds.attrs.update(attrs)
        if ds.shape[0] < n0 + len(arr):
            ds.resize((n0 + len(arr),))
        if len(arr):
            ds[n0:n0 + len(arr)] = arr.astype(ds.dtype) if arr.dtype.kind != "S" else arr

    def update_objects(self, columns: Mapping[str, Sequence[Any]], rows: Sequence[int]) -> None:
        """Overwrite values of existing columns at ``rows`` (e.g. ingest flags)."""
        self._require_write()
        objs = self._h5["objects"]
        rows = np.asarray(rows, dtype=int)
        order = np.argsort(rows)
        for name, vals in columns.items():
            ds = objs[name]
            arr = encode_str(vals) if ds.dtype.kind == "S" else np.asarray(vals, ds.dtype)
            if arr.dtype.kind == "S" and arr.dtype.itemsize > ds.dtype.itemsize:
                self._write_column(objs, name, self.n_objects, arr[:0])  # widen only
                ds = objs[name]
                full = ds[:self.n_objects].astype(arr.dtype)
            else:
                full = ds[:self.n_objects]
            full[rows[order]] = arr[order]
            if arr.dtype.kind == "S" and arr.dtype.itemsize > ds.dtype.itemsize:
                del objs[name]
                objs.create_dataset(name, data=full, maxshape=(None,), chunks=(_OBJ_CHUNK,),
                                    fletcher32=True)
            else:
                ds[:self.n_objects] = full
        self._h5.flush()

    # -- light curves --------------------------------------------------------
    def lightcurve(self, i: int) -> LightCurve:
        """Raw photometry of object ``i``."""
        n = self.n_objects
        if not 0 <= i < n:
            raise StoreError(f"{self.path}: no object at row {i} (store has {n})")
        with self.reading("lightcurves"):
            lcs = self._h5["lightcurves"]
            a, b = (int(x) for x in lcs["offsets"][i:i + 2])
            return LightCurve(lcs["time"][a:b], lcs["mag"][a:b], lcs["magerr"][a:b],
                              lcs["band"][a:b])

    def lightcurves(self, start: int, stop: int) -> list[LightCurve]:
        """Raw photometry of objects ``start:stop`` in one bulk read."""
        stop = min(stop, self.n_objects)
        if stop <= start:
            return []
        rel, cols = self._flat_photometry(start, stop)
        return [LightCurve(*(c[rel[j]:rel[j + 1]] for c in cols)) for j in range(stop - start)]

    def photometry(self, start: int, stop: int) -> tuple[np.ndarray, ...]:
        """Raw photometry of objects ``start:stop`` as flat arrays, for vectorised work:
        (object row relative to ``start``, time, mag, magerr, band)."""
        stop = max(min(stop, self.n_objects), start)
        rel, cols = self._flat_photometry(start, stop)
        return (np.repeat(np.arange(stop - start), np.diff(rel)), *cols)

    def _flat_photometry(self, start: int, stop: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """One bulk read of objects ``start:stop``: offsets relative to the first point,
        and the time, mag, magerr, band columns."""
        with self.reading("lightcurves"):
            lcs = self._h5["lightcurves"]
            off = lcs["offsets"][start:stop + 1].astype("i8")
            a, b = int(off[0]), int(off[-1])
            return off - a, [lcs[k][a:b] for k in ("time", "mag", "magerr", "band")]

    def iter_lightcurves(self, chunk: int = 5000) -> Iterator[tuple[int, list[LightCurve]]]:
        for s in range(0, self.n_objects, chunk):
            yield s, self.lightcurves(s, s + chunk)

    # -- stage groups ----------------------------------------------------------
    def has(self, name: str) -> bool:
        with self.reading(name):
            return name.strip("/") in self._h5

    def group_keys(self, name: str) -> list[str]:
        with self.reading(name):
            return list(self._h5[name].keys()) if self.has(name) else []

    def read(self, name: str, rows: Any = None) -> np.ndarray:
        """Read a dataset, e.g. ``read("interp/mean", rows=[3, 1])``."""
        if not self.has(name):
            raise StoreError(f"{self.path}: no dataset /{name.strip('/')} (stage not run yet?)")
        with self.reading(name):
            ds = self._h5[name]
            if rows is None:
                return ds[()]
            return _take(ds, rows, ds.shape[0])

    def shape(self, name: str) -> tuple[int, ...]:
        with self.reading(name):
            return self._h5[name].shape

    def attrs(self, name: str) -> dict[str, Any]:
        """Attributes of a group or dataset, JSON strings decoded."""
        if not self.has(name):
            raise StoreError(f"{self.path}: no /{name.strip('/')} (stage not run yet?)")
        with self.reading(name):
            items = list(self._h5[name].attrs.items())
        out = {}
        for k, v in items:
            if isinstance(v, bytes):
                v = v.decode()
            if isinstance(v, str) and v[:1] in "[{":
                with contextlib.suppress(ValueError):
                    v = json.loads(v)
            elif isinstance(v, np.generic):
                v = v.item()
            out[k] = v
        return out

    @contextlib.contextmanager
    def writing_group(self, name: str) -> Iterator[h5py.Group]:
        """Write a stage group atomically.

        The group is built under a temporary name and moved into place only when the
        ``with`` body finishes; an exception (or cancel) removes the partial group and
        leaves the previous content of ``name`` untouched.
        """
        self._require_write()
        name = name.strip("/")
        parent, _, leaf = name.rpartition("/")
        if parent:
            self._h5.require_group(parent)
        tmp = f"{parent}/_tmp_{leaf}" if parent else f"_tmp_{leaf}"
        old = f"{parent}/_old_{leaf}" if parent else f"_old_{leaf}"
        for stale in (tmp, old):
            if stale in self._h5:
                del self._h5[stale]
        group = self._h5.create_group(tmp)
        try:
            yield _CheckedGroup(group, self, name)
        except BaseException as exc:
            try:
                if tmp in self._h5:
                    del self._h5[tmp]
                self._h5.flush()
            except OSError as again:    # e.g. the disk is still full: the old group stays
                logger.warning("%s: could not remove the partial /%s (%s)", self.path, tmp,
                               _reason(again))
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, None):
                raise StoreError(f"{self.path}: could not write /{name} ({_reason(exc)}); "
                                 f"the previous /{name} is kept") from exc
            raise
        group.attrs["written"] = utc_now()
        # a store-wide write counter: tells two writes in one second apart, and unlike a
        # random id keeps identical runs byte-identical
        count = int(self._h5.attrs.get("group_writes", 0)) + 1
        self._h5.attrs["group_writes"] = count
        group.attrs["write_id"] = count   # also the mark of a finished temporary group
        self._h5.flush()                   # the new data on disk before any link moves
        if name in self._h5:
            self._h5.move(name, old)
        self._h5.move(tmp, name)
        if old in self._h5:
            del self._h5[old]
        self._h5.flush()

    def write_group(self, name: str, arrays: Mapping[str, Any],
                    attrs: Mapping[str, Any] | None = None) -> None:
        """Atomically replace group ``name`` with ``arrays`` (dataset name -> array)."""
        with self.writing_group(name) as g:
            for key, val in arrays.items():
                arr = np.asarray(val)
                if arr.dtype.kind == "U" or arr.dtype == object:
                    arr = encode_str(arr.ravel()).reshape(arr.shape)
                g.create_dataset(key, data=arr)
            for key, val in (attrs or {}).items():
                g.attrs[key] = _attr(val)

    def delete_group(self, name: str) -> None:
        self._require_write()
        if self.has(name):
            del self._h5[name.strip("/")]
            self._h5.flush()

    # -- runs ------------------------------------------------------------------
    def record_run(self, stage: str, status: str, *, config_hash: str = "",
                   input_hash: str = "", started: str | None = None,
                   **extra: Any) -> None:
        """Append one provenance record to ``/runs``."""
        self._require_write()
        rec = {"stage": stage, "status": status, "config_hash": config_hash,
               "input_hash": input_hash, "code_version": __version__,
               "started": started or utc_now(), "finished": utc_now(), **extra}
        text = json.dumps(rec, default=str)
        self.ensure_space(len(text), "/runs")
        ds = self._h5["runs/records"]
        ds.resize((ds.shape[0] + 1,))
        ds[-1] = text
        self._h5.flush()

    def runs(self, stage: str | None = None) -> list[dict[str, Any]]:
        with self.reading("runs"):
            raw = self._h5["runs/records"][()]
        recs = []
        for r in raw:
            try:
                rec = json.loads(r)
            except (ValueError, TypeError) as exc:
                raise damaged(self.path, "runs", "a run record is not valid JSON") from exc
            if not isinstance(rec, dict) or "stage" not in rec:
                raise damaged(self.path, "runs", "a run record has no stage")
            recs.append(rec)
        return [r for r in recs if stage is None or r["stage"] == stage]

    def last_run(self, stage: str, status: str = "ok") -> dict[str, Any] | None:
        recs = [r for r in self.runs(stage) if r["status"] == status]
        return recs[-1] if recs else None


def _mb(nbytes: int) -> str:
    return f"{nbytes / 1e6:.1f} MB"


def _is_text(vals: Sequence[Any]) -> bool:
    arr = np.asarray(vals)
    return arr.dtype.kind in "USO"


def _fill_for(dtype: np.dtype) -> Any:
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return np.nan
    if dtype.kind == "S":
        return b""
    return 0


def _attr(val: Any) -> Any:
    if isinstance(val, (dict, list, tuple)):
        return json.dumps(val, default=_json_default)
    if val is None:
        return ""
    return val


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _take(ds: h5py.Dataset, rows: Any, n: int) -> np.ndarray:
    """Read rows (slice, int or index array in any order) from a dataset."""
    if isinstance(rows, slice):
        return ds[:n][rows] if ds.shape[0] != n else ds[rows]
    idx = np.asarray(rows)
    if idx.dtype == bool:
        idx = np.flatnonzero(idx)
    if idx.ndim == 0:
        return ds[int(idx)]
    if len(idx) == 0:
        return np.empty((0,) + ds.shape[1:], ds.dtype)
    uniq, inverse = np.unique(idx, return_inverse=True)
    if len(uniq) > 64 and (uniq[-1] - uniq[0]) < 8 * len(uniq):
        block = ds[int(uniq[0]):int(uniq[-1]) + 1]
        return block[idx - uniq[0]]
    return ds[uniq][inverse]


def open_store(path: str | os.PathLike, mode: str = "r") -> Store:
    return Store(path, mode)


# -- integrity -------------------------------------------------------------------------
_VERIFY_BLOCK = 32 << 20      # bytes read at a time when verifying a dataset


def integrity_report(path: str | os.PathLike) -> dict[str, Any]:
    """Check every group of a store; never raises for damage, only reports it.

    Returns ``{"store", "format", "metadata_checksums", "groups": {name: {"state",
    "detail", "datasets", "checksummed"}}}`` where ``state`` is ``"intact"``,
    ``"damaged"`` or ``"not checksummed"`` (readable, but written by a pvsvet without
    checksums, so damage to its values would go unnoticed). Every dataset is read
    whole, so Fletcher-32 checks every chunk.
    """
    path = Path(path)
    out: dict[str, Any] = {"store": str(path), "groups": {}}
    if not path.exists():
        raise StoreError(f"{path}: no such store")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        if _is_lock_error(exc):
            raise StoreError(f"{path}: busy, another process is writing it") from exc
        out["format"] = "unreadable"
        out["groups"]["/"] = {"state": "damaged", "detail": _reason(exc), "datasets": 0,
                              "checksummed": False}
        return out
    with h5:
        try:
            sb = h5.id.get_create_plist().get_version()[0]
        except _DAMAGE:
            sb = 0
        out["format"] = f"HDF5 superblock v{sb}"
        out["metadata_checksums"] = sb >= 2
        out["groups"]["meta"] = _check_meta(h5)
        try:
            names = [n for n in h5.keys() if n != "meta"]
        except _DAMAGE as exc:
            out["groups"]["/"] = {"state": "damaged", "detail": _reason(exc), "datasets": 0,
                                  "checksummed": False}
            return out
        for name in names:
            for unit in _units(h5, name):
                out["groups"][unit] = _check_group(h5, unit)
    return out


def _units(h5: h5py.File, name: str) -> list[str]:
    """The groups verify reports: top-level ones, and each score space on its own."""
    if name != "scores":
        return [name]
    try:
        return [f"scores/{k}" for k in h5["scores"].keys()] or ["scores"]
    except _DAMAGE:
        return ["scores"]


def _check_meta(h5: h5py.File) -> dict[str, Any]:
    rep = {"state": "intact", "detail": "", "datasets": 0, "checksummed": True}
    try:
        attrs = dict(h5["meta"].attrs)
        json.loads(attrs.get("config", "{}") or "{}")
    except (*_DAMAGE, ValueError, TypeError) as exc:
        return {**rep, "state": "damaged", "detail": _reason(exc)}
    if "digest" not in attrs:
        return {**rep, "state": "not checksummed", "checksummed": False,
                "detail": "written before /meta had a digest"}
    if str(attrs["digest"]) != meta_digest(attrs):
        return {**rep, "state": "damaged", "detail": "its checksum does not match"}
    return rep


def _check_group(h5: h5py.File, name: str) -> dict[str, Any]:
    found: list[tuple[str, h5py.Dataset]] = []
    try:
        obj = h5[name]
        if isinstance(obj, h5py.Dataset):
            found.append((name, obj))
        else:
            obj.visititems(lambda k, v: found.append((f"{name}/{k}", v))
                           if isinstance(v, h5py.Dataset) else None)
    except _DAMAGE as exc:
        return {"state": "damaged", "detail": _reason(exc), "datasets": len(found),
                "checksummed": False}
    unchecked = []
    for dsname, ds in found:
        try:
            _read_all(ds)
            if not ds.fletcher32 and ds.shape != () and ds.dtype.kind != "O":
                unchecked.append(dsname)
        except _DAMAGE as exc:
            return {"state": "damaged", "detail": f"/{dsname}: {_reason(exc)}",
                    "datasets": len(found), "checksummed": not unchecked}
    rep = {"state": "intact", "detail": "", "datasets": len(found), "checksummed": True}
    if unchecked:
        rep.update(state="not checksummed", checksummed=False,
                   detail=f"{len(unchecked)} of {len(found)} datasets without checksums")
    return rep


def _read_all(ds: h5py.Dataset) -> None:
    if ds.shape == () or not ds.shape or ds.shape[0] == 0:
        ds[()]
        return
    row = max(1, ds.dtype.itemsize * int(np.prod(ds.shape[1:], dtype=np.int64)))
    step = max(1, _VERIFY_BLOCK // row)
    for a in range(0, ds.shape[0], step):
        ds[a:a + step]
