"""The object table and the raw light curves of a store (``/objects``, ``/lightcurves``):
part of :class:`engine.store.Store`. Layout: docs/internals.md."""
from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

import h5py
import numpy as np

from ..errors import StoreError
from ..schema import LC_COLUMNS, LIGHTCURVES, OBJECT_COLUMNS, OBJECTS, LightCurve
from .h5 import _FILL, _OBJ_CHUNK, _fill_for, _is_text, _take, decode_str, encode_str


class ObjectRows:
    """Reads and appends of objects and their photometry (a :class:`Store` mixin)."""

    @property
    def n_objects(self) -> int:
        with self.reading(OBJECTS):
            return int(self._h5[OBJECTS].attrs["n"])

    def __len__(self) -> int:
        return self.n_objects

    @property
    def object_columns(self) -> list[str]:
        return list(self._h5[OBJECTS].keys())

    def read_objects(self, columns: Sequence[str] | None = None, rows: Any = None,
                     decode: bool = True) -> dict[str, np.ndarray]:
        """Columns of ``/objects`` as arrays (strings decoded to unicode by default)."""
        n = self.n_objects
        objs = self._h5[OBJECTS]
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
        objs = self._h5[OBJECTS]
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

        lcs = self._h5[LIGHTCURVES]
        offsets = lcs["offsets"]
        start = int(offsets[n0])
        lens = np.array([len(lc) for lc in lightcurves], dtype="i8")
        total = int(lens.sum())
        for name in LC_COLUMNS:
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
        objs = self._h5[OBJECTS]
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
        with self.reading(LIGHTCURVES):
            lcs = self._h5[LIGHTCURVES]
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
        with self.reading(LIGHTCURVES):
            lcs = self._h5[LIGHTCURVES]
            off = lcs["offsets"][start:stop + 1].astype("i8")
            a, b = int(off[0]), int(off[-1])
            return off - a, [lcs[k][a:b] for k in LC_COLUMNS]

    def iter_lightcurves(self, chunk: int = 5000) -> Iterator[tuple[int, list[LightCurve]]]:
        for s in range(0, self.n_objects, chunk):
            yield s, self.lightcurves(s, s + chunk)
