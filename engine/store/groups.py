"""Stage groups and run records of a store: atomic group writes, reads of datasets and
attributes, and ``/runs`` (part of :class:`engine.store.Store`). Layout: docs/internals.md."""
from __future__ import annotations

import contextlib
import errno
import json
import logging
from typing import Any, Iterator, Mapping

import h5py
import numpy as np

from .. import __version__
from ..errors import StoreError
from ..schema import RUN_RECORDS, RUNS
from .h5 import _CheckedGroup, _attr, _reason, _take, damaged, encode_str, utc_now

logger = logging.getLogger("engine.store")


class StageGroups:
    """Stage-group reads and atomic writes, and the run records (a :class:`Store` mixin)."""

    @property
    def group_writes(self) -> int:
        """How many group replaces were ever committed to this store (the counter that
        :meth:`writing_group` raises with each commit; readers watch it for changes)."""
        with self.reading("/"):
            return int(self._h5.attrs.get("group_writes", 0))

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
        ds = self._h5[RUN_RECORDS]
        ds.resize((ds.shape[0] + 1,))
        ds[-1] = text
        self._h5.flush()

    def runs(self, stage: str | None = None) -> list[dict[str, Any]]:
        with self.reading(RUNS):
            raw = self._h5[RUN_RECORDS][()]
        recs = []
        for r in raw:
            try:
                rec = json.loads(r)
            except (ValueError, TypeError) as exc:
                raise damaged(self.path, RUNS, "a run record is not valid JSON") from exc
            if not isinstance(rec, dict) or "stage" not in rec:
                raise damaged(self.path, RUNS, "a run record has no stage")
            recs.append(rec)
        return [r for r in recs if stage is None or r["stage"] == stage]

    def last_run(self, stage: str, status: str = "ok") -> dict[str, Any] | None:
        recs = [r for r in self.runs(stage) if r["status"] == status]
        return recs[-1] if recs else None

