"""The HDF5 store: the single source of truth between engine and GUI.

This package is the only code that imports h5py. Where each thing lives (group and
dataset paths, status bits, score spaces) is :mod:`engine.schema`; what each group holds
is described once, in ``docs/internals.md``.

- :mod:`.core`: :class:`Store` (open, create, close, ``/meta``, the free-space check);
- :mod:`.objects`: ``/objects`` and ``/lightcurves`` (appends, bulk reads);
- :mod:`.groups`: stage groups (atomic writes with :meth:`Store.writing_group`) and ``/runs``;
- :mod:`.h5`: string columns, checksums, damage messages, row selections;
- :mod:`.integrity`: :func:`integrity_report`, behind ``pvsvet-engine verify``.

Damage is detected, not read as data: stores use the HDF5 1.8 file format (checksummed
metadata), every fixed-size dataset has the Fletcher-32 filter, ``/meta`` carries a
SHA-256 digest of its attributes, and free space is checked before each write
(docs/RELIABILITY.md).
"""
from ..schema import (BAND_CODE, BANDS, NO_CURVE, NOT_FOR_TRAINING, NOT_INTERPOLATED,
                      OBJECT_COLUMNS, REWRITTEN_BY, SCHEMA_VERSION, LightCurve, Status)
from .core import Store, open_store
from .h5 import (LIBVER, SPACE_MARGIN, damaged, dataset_bytes, decode_str, encode_str, filtered,
                 meta_digest, utc_now)
from .integrity import integrity_report

__all__ = ["BANDS", "BAND_CODE", "LIBVER", "NOT_FOR_TRAINING", "NOT_INTERPOLATED", "NO_CURVE",
           "OBJECT_COLUMNS", "REWRITTEN_BY", "SCHEMA_VERSION", "SPACE_MARGIN", "LightCurve",
           "Status", "Store", "damaged", "dataset_bytes", "decode_str", "encode_str",
           "filtered", "integrity_report", "meta_digest", "open_store", "utc_now"]
