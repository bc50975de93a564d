"""Opening, creating and closing a store; its ``/meta`` and the free-space check.
Layout: docs/internals.md."""
from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

import h5py
import numpy as np

from .. import __version__
from ..errors import DamagedError, StoreError
from ..schema import (LC_COLUMNS, LIGHTCURVES, META, OBJECT_COLUMNS, OBJECTS,
                      RUNS, SCHEMA_VERSION)
from .groups import StageGroups
from .h5 import (_DAMAGE, _LC_CHUNK, _OBJ_CHUNK, LIBVER, SPACE_MARGIN, _is_lock_error, _mb,
                 _reason, damaged, meta_digest, utc_now)
from .objects import ObjectRows

logger = logging.getLogger("engine.store")


class Store(ObjectRows, StageGroups):
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
            meta = self._h5.get(META)
            attrs = dict(meta.attrs) if meta is not None else {}
        except _DAMAGE as exc:
            raise damaged(self.path, META, exc) from exc
        if "schema_version" not in attrs:
            raise StoreError(f"{self.path}: not a pvsvet store (no /meta schema_version)")
        try:
            version = int(attrs["schema_version"])
        except (TypeError, ValueError) as exc:
            raise damaged(self.path, META, "schema_version is not a number") from exc
        # a newer schema may digest differently: say "newer" before checking the digest
        if version == SCHEMA_VERSION and "digest" in attrs \
                and str(attrs["digest"]) != meta_digest(attrs):
            raise damaged(self.path, META, "its checksum does not match")
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
            meta = h5.create_group(META)
            meta.attrs["schema_version"] = SCHEMA_VERSION
            meta.attrs["pvsvet_version"] = __version__
            meta.attrs["created"] = utc_now()
            meta.attrs["config"] = json.dumps(dict(config or {}))
            meta.attrs["digest"] = meta_digest(meta.attrs)
            objs = h5.create_group(OBJECTS)
            objs.attrs["n"] = 0
            for name, kind in OBJECT_COLUMNS.items():
                dtype = "S1" if kind == "S" else kind
                objs.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype,
                                    chunks=(_OBJ_CHUNK,), fletcher32=True)
            lcs = h5.create_group(LIGHTCURVES)
            for name, dtype in zip(LC_COLUMNS, ("f8", "f4", "f4", "u1")):
                lcs.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype,
                                   chunks=(_LC_CHUNK,), fletcher32=True)
            lcs.create_dataset("offsets", data=np.zeros(1, "i8"), maxshape=(None,),
                               chunks=(_OBJ_CHUNK,), fletcher32=True)
            runs = h5.create_group(RUNS)
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
        with self.reading(META):
            out = dict(self._h5[META].attrs)
        try:
            out["config"] = json.loads(out.get("config", "{}") or "{}")
        except (ValueError, TypeError) as exc:
            raise damaged(self.path, META, "its config is not valid JSON") from exc
        out.pop("digest", None)
        return out

    def set_config(self, config: Mapping[str, Any]) -> None:
        self._require_write()
        text = json.dumps(dict(config))
        self.ensure_space(len(text), "/meta")
        attrs = self._h5[META].attrs
        attrs["config"] = text
        if "digest" in attrs:
            attrs["digest"] = meta_digest(attrs)


def open_store(path: str | os.PathLike, mode: str = "r") -> Store:
    return Store(path, mode)
