"""Low-level HDF5 helpers of the store: string columns, damage messages, checksums,
the free-space check and reads of row selections. Layout: docs/internals.md."""
from __future__ import annotations

import hashlib
import errno
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import h5py
import numpy as np

from ..errors import DamagedError
from ..schema import INGESTED, REWRITTEN_BY

if TYPE_CHECKING:
    from .core import Store

_FILL = {"f8": np.nan, "f4": np.nan, "i4": 0, "u4": 0, "u1": 0, "S": b""}
_LC_CHUNK = 1 << 16
_OBJ_CHUNK = 1 << 14
#: file format of new stores: HDF5 1.8 (checksummed metadata, no "open for write" flag
#: that a killed writer would leave set, as the 1.10 superblock does)
LIBVER = ("v108", "v108")
#: free space kept beyond what a write needs (HDF5 metadata, the runs record), bytes
SPACE_MARGIN = 1 << 20
#: what h5py raises on a damaged object (a failed checksum, a garbled header)
_DAMAGE = (OSError, KeyError, RuntimeError)


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
    # --force: a stage whose record says it is up to date skips (engine.provenance)
    fix = f"rerun {stage} --force" if stage else "restore the store from a copy"
    if top in INGESTED:
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

