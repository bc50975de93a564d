"""``pvsvet-engine verify``'s check of a whole store: every group read, every chunk's
checksum tested, damage reported rather than raised."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import StoreError
from ..schema import META, SCORES
from .h5 import _DAMAGE, _is_lock_error, _reason, meta_digest

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
        out["groups"][META] = _check_meta(h5)
        try:
            names = [n for n in h5.keys() if n != META]
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
    if name != SCORES:
        return [name]
    try:
        return [f"{SCORES}/{k}" for k in h5[SCORES].keys()] or [SCORES]
    except _DAMAGE:
        return [SCORES]


def _check_meta(h5: h5py.File) -> dict[str, Any]:
    rep = {"state": "intact", "detail": "", "datasets": 0, "checksummed": True}
    try:
        attrs = dict(h5[META].attrs)
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
