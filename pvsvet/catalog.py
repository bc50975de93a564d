"""The ranked catalogue as numpy arrays: what the table shows, sorts and filters.

No Qt here. A :class:`Catalog` keeps one array per column (strings stay fixed-width
bytes and are decoded per cell), and a :class:`CatalogView` keeps the current order
and filter as index arrays, so sorting and filtering 730k rows is a handful of
vectorised numpy calls instead of a Python loop over rows.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from engine.store import Status

logger = logging.getLogger(__name__)

#: (key, header, tooltip) of the table columns, in order.
COLUMNS = (
    ("rank", "rank", "rank in the Cartesian latent space (1 = most anomalous)"),
    ("score_cartesian", "score (cart.)", "isolation-forest score, Cartesian space, max 1"),
    ("score_spherical", "score (sph.)", "isolation-forest score, spherical space, max 1"),
    ("score_diagnostic", "score (diag.)", "isolation-forest score, diagnostic space, max 1: "
     "a period that does not fold the data, g and r out of step, points off the fold "
     "(fades, outbursts), an unfamiliar shape; from score --space diagnostic"),
    ("score_vetting", "score (vet.)", "vetting-space score, max 1: the most significant of "
     "five vetting questions (does the period fold the data, do g and r vary in step, did "
     "it fade or brighten once, is its dip flat-bottomed, is its colour usual for its "
     "period and shape); from score --space vetting"),
    ("why", "why", "the vetting question that flagged the object most (vetting space)"),
    ("score_active", "score (labels)", "label-aware score, max 1: active anomaly detection "
     "(AAD) on your labels, from Run ▸ Score with labels; sort by it to vet in that order"),
    ("id", "id", "survey id"),
    ("name", "name", "IAU-style name"),
    ("class", "class", "catalogue class (Chen et al. 2020)"),
    ("period", "period [d]", "catalogue period, days"),
    ("gr", "g−r [mag]", "mean g minus mean r, mag"),
    ("label", "label", "current label from the label journal"),
    ("flags", "fit", "warnings from ingest and interpolation (hover for the reason): an "
     "unphysical GP fit is ranked like the others but is a common false anomaly"),
)
COLUMN_KEYS = tuple(c[0] for c in COLUMNS)
NO_LABEL = -1
#: Short texts of the status flags the table shows (most serious first).
FLAG_TEXT = ((Status.GP_FAILED, "GP failed"), (Status.GP_UNPHYSICAL, "⚠ unphysical GP"),
             (Status.REJECTED_CUT, "below cut"), (Status.FEW_POINTS, "few points"),
             (Status.MISSING_BAND, "one band"), (Status.BAD_PERIOD, "bad period"))


def _nan(n: int) -> np.ndarray:
    return np.full(n, np.nan, dtype="f4")


@dataclass
class Catalog:
    """Per-object arrays of one store (row i = object i).

    Parameters
    ----------
    ids, names, classes : ndarray of bytes (fixed width, UTF-8)
    period : ndarray, days
    gr : ndarray, mag (mean g minus mean r)
    score_cartesian, score_spherical : ndarray, max 1, NaN where not scored
    rank : ndarray of int, 1 = most anomalous (Cartesian), 0 where not scored
    score_active : ndarray, max 1, the label-aware (AAD) score; NaN where absent
    score_diagnostic : ndarray, max 1, the diagnostic-space score; NaN where absent
    score_vetting : ndarray, max 1, the vetting-space score; NaN where absent
    vet_question : ndarray of int8, index into ``question_names`` of the vetting question
        behind ``score_vetting``, -1 where absent
    """

    ids: np.ndarray
    names: np.ndarray
    classes: np.ndarray
    period: np.ndarray
    gr: np.ndarray
    score_cartesian: np.ndarray
    score_spherical: np.ndarray
    rank: np.ndarray
    flags: np.ndarray = None               # uint32 engine.store.Status bits (ingest | GP)
    flag_msgs: np.ndarray = None           # bytes, the GP stage's reason per object
    label_code: np.ndarray = None          # int16, index into label_names, -1 none
    label_names: list[str] = field(default_factory=list)
    score_active: np.ndarray = None
    score_diagnostic: np.ndarray = None
    score_vetting: np.ndarray = None
    vet_question: np.ndarray = None
    question_names: list[str] = field(default_factory=list)
    _id_order: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.flags is None:
            self.flags = np.zeros(len(self.ids), dtype="u4")
        if self.label_code is None:
            self.label_code = np.full(len(self.ids), NO_LABEL, dtype="i2")
        if self.score_active is None:
            self.score_active = _nan(len(self.ids))
        if self.score_diagnostic is None:
            self.score_diagnostic = _nan(len(self.ids))
        if self.score_vetting is None:
            self.score_vetting = _nan(len(self.ids))
        if self.vet_question is None:
            self.vet_question = np.full(len(self.ids), -1, dtype="i1")

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> "Catalog":
        e = np.zeros(0, "S1")
        return cls(e, e, e, _nan(0), _nan(0), _nan(0), _nan(0), np.zeros(0, "i4"))

    # -- cells -------------------------------------------------------------
    def text(self, key: str, row: int) -> str:
        """Display text of one cell."""
        if key in ("id", "name", "class"):
            arr = {"id": self.ids, "name": self.names, "class": self.classes}[key]
            return arr[row].decode("utf-8", "replace")
        if key == "label":
            code = int(self.label_code[row])
            return self.label_names[code] if code >= 0 else ""
        if key == "flags":
            bits = int(self.flags[row])
            return next((text for flag, text in FLAG_TEXT if bits & flag), "")
        if key == "why":
            q = int(self.vet_question[row])
            return self.question_names[q] if 0 <= q < len(self.question_names) else ""
        if key == "rank":
            r = int(self.rank[row])
            return str(r) if r > 0 else "–"
        val = float(self.value(key)[row])
        if not np.isfinite(val):
            return "–"
        return f"{val:.4g}" if key == "period" else f"{val:.3f}"

    def value(self, key: str) -> np.ndarray:
        """The array behind a column (the sort key)."""
        return {"rank": self.rank, "score_cartesian": self.score_cartesian,
                "score_spherical": self.score_spherical, "score_active": self.score_active,
                "score_diagnostic": self.score_diagnostic, "score_vetting": self.score_vetting,
                "why": self.vet_question, "id": self.ids, "name": self.names,
                "class": self.classes, "period": self.period, "gr": self.gr,
                "label": self.label_code, "flags": self.flags}[key]

    def flag_reason(self, row: int) -> str:
        """Why the object is flagged ('' if it is not)."""
        if self.flag_msgs is None or not int(self.flags[row]):
            return ""
        return self.flag_msgs[row].decode("utf-8", "replace")

    def object_id(self, row: int) -> str:
        return self.ids[row].decode("utf-8", "replace")

    # -- lookups -------------------------------------------------------------
    def rows_of_ids(self, ids: list[str]) -> np.ndarray:
        """Rows of survey ids (-1 where unknown), via a sorted index built once."""
        if not ids or not len(self.ids):
            return np.full(len(ids), -1, dtype=np.int64)
        if self._id_order is None:
            self._id_order = np.argsort(self.ids, kind="stable")
        sorted_ids = self.ids[self._id_order]
        keys = np.array([i.encode() for i in ids])
        pos = np.minimum(np.searchsorted(sorted_ids, keys), len(sorted_ids) - 1)
        hit = sorted_ids[pos] == keys
        return np.where(hit, self._id_order[pos], -1).astype(np.int64)

    def row_of_id(self, object_id: str) -> int | None:
        row = int(self.rows_of_ids([object_id])[0])
        return row if row >= 0 else None

    def set_labels(self, current: dict[str, str], names: list[str]) -> None:
        """Fill ``label_code`` from the journal's current labels (id -> label)."""
        extra = sorted({lab for lab in current.values() if lab and lab not in names})
        self.label_names = list(names) + extra
        code = {n: i for i, n in enumerate(self.label_names)}
        self.label_code[:] = NO_LABEL
        if current:
            ids = list(current)
            rows = self.rows_of_ids(ids)
            for oid, row in zip(ids, rows):
                if row >= 0 and current[oid]:
                    self.label_code[row] = code[current[oid]]

    def set_label(self, row: int, label: str | None) -> None:
        if not label:
            self.label_code[row] = NO_LABEL
            return
        if label not in self.label_names:
            self.label_names.append(label)
        self.label_code[row] = self.label_names.index(label)

    def class_names(self) -> list[str]:
        return [c.decode("utf-8", "replace") for c in np.unique(self.classes) if c]


def _sort_key(arr: np.ndarray, descending: bool) -> np.ndarray:
    """Stable argsort with NaN (and unscored ranks 0) always last."""
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        vals = np.where(bad, 0, arr)
        order = np.lexsort(((-vals if descending else vals), bad))
        return order
    if arr.dtype.kind in "iu":
        vals = arr.astype("i8")
        return np.argsort(-vals if descending else vals, kind="stable")
    order = np.argsort(arr, kind="stable")
    return order[::-1] if descending else order


@dataclass
class Filter:
    """What rows are visible. Empty fields do not filter."""

    classes: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    unlabelled_only: bool = False
    score_min: float | None = None
    score_max: float | None = None
    score_key: str = "score_cartesian"
    search: str = ""


class CatalogView:
    """Order and filter of a :class:`Catalog` as index arrays.

    ``rows[i]`` is the catalogue row shown at table position ``i``.
    """

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.filter = Filter()
        self.sort_key = "rank"
        self.descending = False
        self._order = self._default_order()
        self.rows = self._order
        self._pos: np.ndarray | None = None

    def _default_order(self) -> np.ndarray:
        cat = self.catalog
        if len(cat) and np.isfinite(cat.score_cartesian).any():
            return _sort_key(cat.score_cartesian, descending=True)
        return np.arange(len(cat))

    def sort(self, key: str, descending: bool = False) -> None:
        self.sort_key, self.descending = key, descending
        if key == "rank":
            # rank ascending == score descending; unscored (rank 0) last
            ranks = self.catalog.rank.astype("f8")
            ranks[ranks <= 0] = np.nan
            self._order = _sort_key(ranks, descending)
        else:
            self._order = _sort_key(self.catalog.value(key), descending)
        self._apply()

    def set_filter(self, flt: Filter) -> None:
        self.filter = flt
        self._apply()

    def refresh(self) -> None:
        """Re-apply order and filter (after labels or data changed)."""
        self.sort(self.sort_key, self.descending)

    def mask(self) -> np.ndarray:
        """Boolean mask over catalogue rows of the current filter."""
        cat, f = self.catalog, self.filter
        m = np.ones(len(cat), bool)
        if f.classes:
            m &= np.isin(cat.classes, [c.encode() for c in f.classes])
        if f.labels:
            codes = [cat.label_names.index(x) for x in f.labels if x in cat.label_names]
            m &= np.isin(cat.label_code, codes)
        if f.unlabelled_only:
            m &= cat.label_code == NO_LABEL
        score = cat.value(f.score_key)
        if f.score_min is not None:
            m &= np.nan_to_num(score, nan=-np.inf) >= f.score_min
        if f.score_max is not None:
            m &= np.nan_to_num(score, nan=np.inf) <= f.score_max
        if f.search.strip():
            m &= self._search_mask(f.search.strip())
        return m

    def _search_mask(self, text: str) -> np.ndarray:
        cat = self.catalog
        needle = text.encode()
        exact = (cat.ids == needle) | (cat.names == needle)
        if exact.any():
            return exact
        # substring, case-insensitive; bytes are ASCII for survey ids and IAU names
        low = needle.lower()
        hit = np.char.find(np.char.lower(cat.ids), low) >= 0
        return hit | (np.char.find(np.char.lower(cat.names), low) >= 0)

    def _apply(self) -> None:
        m = self.mask()
        self.rows = self._order[m[self._order]] if not m.all() else self._order
        self._pos = None

    def position(self, row: int) -> int | None:
        """Table position of a catalogue row, or None if filtered out."""
        if self._pos is None:
            self._pos = np.full(len(self.catalog), -1, dtype=np.int64)
            self._pos[self.rows] = np.arange(len(self.rows))
        pos = int(self._pos[row]) if 0 <= row < len(self._pos) else -1
        return pos if pos >= 0 else None

    def __len__(self) -> int:
        return len(self.rows)
