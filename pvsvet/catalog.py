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

from engine.anomaly.stats import rank_order, ranks
from engine.labels import RANK_PREFERENCE   # the space that ranks when none is chosen
from engine.schema import SCORE_SPACES as SPACES
from engine.store import Status

logger = logging.getLogger(__name__)

#: The score spaces the GUI shows: engine.schema.SCORE_SPACES (a new space is one entry
#: there), as space -> (short name for headers, what the score is). Column order: the
#: ranking preference first, then the rest in the engine's order.
SCORE_SPACES = {sp: (SPACES[sp].short, SPACES[sp].about)
                for sp in dict.fromkeys(RANK_PREFERENCE + tuple(SPACES))}
SCORE_KEYS = tuple(f"score_{sp}" for sp in SCORE_SPACES)


def score_key(space: str) -> str:
    return f"score_{space}"


#: Optional per-object columns of /objects (key -> header, tooltip, format); hidden until
#: chosen in the column chooser, and only offered when the store has them.
OPTIONAL = {
    "ra": ("RA [°]", "right ascension, degrees", "{:.5f}"),
    "dec": ("Dec [°]", "declination, degrees", "{:+.5f}"),
    "mean_g": ("g [mag]", "mean magnitude, first band", "{:.2f}"),
    "mean_r": ("r [mag]", "mean magnitude, second band", "{:.2f}"),
    "n_g": ("n g", "photometric points, first band", "{:.0f}"),
    "n_r": ("n r", "photometric points, second band", "{:.0f}"),
    "truth_kind": ("truth", "the demo's injected anomaly kind (simulated stores only)", ""),
    "truth_anomaly": ("injected", "1 = an anomaly the simulation injected (simulated stores "
                      "only)", "{:.0f}"),
}

#: (key, header, tooltip) of the table columns, in order: who the object is first (so it
#: never scrolls off behind the score columns), then why and how it scored.
COLUMNS = (
    ("rank", "rank", "rank in the ranking space chosen above the table (1 = most anomalous)"),
    ("id", "id", "survey id"),
    ("name", "name", "IAU name"),
    ("class", "class", "catalogue class"),
    ("label", "label", "current label from the label journal"),
    ("why", "why (−log₁₀ p)", "the vetting question most significant for the object and its "
     "−log10 p (p = fraction of comparable stars at least as extreme); hover a cell for the "
     "question"),
) + tuple((score_key(sp), f"score ({short})", tip) for sp, (short, tip) in SCORE_SPACES.items()
          ) + (
    ("period", "period [d]", "catalogue period, days"),
    ("gr", "g−r [mag]", "mean g minus mean r, mag"),
    ("flags", "fit", "warnings from ingest and interpolation (hover for the reason): an "
     "unphysical GP fit is ranked like the others but is a common false anomaly"),
    ("added", "added", "objects added after the model and forests were fitted: 'new' = "
     "scored by the latest `pvsvet-engine run --new-only`, 'run k' = by the k-th one, "
     "'not scored' = appended since (run --new-only scores them); blank = the population "
     "the model and forests were fitted on"),
) + tuple((k, h, t) for k, (h, t, _) in OPTIONAL.items())
COLUMN_KEYS = tuple(c[0] for c in COLUMNS)
NO_LABEL = -1
#: The flag of a curve whose constant-magnitude fit is within its errors
NOT_VARIABLE = "not significantly variable"
#: Short texts of the status flags the table shows (most serious first).
FLAG_TEXT = ((Status.GP_FAILED, "GP failed"), (Status.GP_UNPHYSICAL, "⚠ unphysical GP"),
             (Status.REJECTED_CUT, "below cut"), (Status.FEW_POINTS, "few points"),
             (Status.MISSING_BAND, "one band"), (Status.BAD_PERIOD, "bad period"))


#: What each status flag means, in words for a note under the light curve.
FLAG_WORDS = {
    Status.GP_FAILED: "the GP fit failed", Status.GP_UNPHYSICAL: "unphysical GP fit",
    Status.REJECTED_CUT: "below the detection cut", Status.FEW_POINTS: "few points",
    Status.MISSING_BAND: "one band only", Status.BAD_PERIOD: "bad period",
    Status.BAD_VALUES: "NaN/inf points dropped", Status.DUPLICATE_TIMES: "duplicate epochs merged",
    Status.NO_LIGHTCURVE: "no light curve",
    Status.OTHER_BANDS: "points in bands other than g and r left out",
}
#: Flags that make the GP curves suspect (the rest are notes about the input).
GP_WARNINGS = Status.GP_FAILED | Status.GP_UNPHYSICAL


def gp_note(status: int, message: str = "") -> str:
    """A note on an object's interpolation status in words ('' when there is none):
    "GP flagged: 512" said nothing (512 is OTHER_BANDS, a note, not a GP problem)."""
    words = [w for flag, w in FLAG_WORDS.items() if status & flag]
    if not words:
        return ""
    if status & GP_WARNINGS:
        return "⚠ " + "; ".join(words) + (f": {message}" if message else "")
    return "note: " + "; ".join(words)


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
    scores : space -> ndarray, max 1, NaN where not scored (spaces of :data:`SCORE_SPACES`)
    ranks : space -> ndarray of int, 1 = most anomalous, 0 where not scored
    rank_space : the space the ``rank`` column and the score filter use
    extra : optional /objects columns (:data:`OPTIONAL`) present in the store
    vet_surprise : (N, Q) −log10 p of each vetting question, NaN where not scored
    question_names, question_text : the vetting questions (short names, full questions)
    """

    ids: np.ndarray
    names: np.ndarray
    classes: np.ndarray
    period: np.ndarray
    gr: np.ndarray
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    ranks: dict[str, np.ndarray] = field(default_factory=dict)
    rank_space: str = ""
    runs: dict[str, str] = field(default_factory=dict)   # space -> when it was scored (UTC)
    flags: np.ndarray = None               # uint32 engine.store.Status bits (ingest | GP)
    flag_msgs: np.ndarray = None           # bytes, the GP stage's reason per object
    not_variable: np.ndarray = None        # bool, consistent with noise (ranked last)
    variability_sigma: np.ndarray = None   # constant-model significance (NaN unknown)
    label_code: np.ndarray = None          # int16, index into label_names, -1 none
    label_names: list[str] = field(default_factory=list)
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    vet_surprise: np.ndarray | None = None
    question_names: list[str] = field(default_factory=list)
    question_text: dict[str, str] = field(default_factory=dict)
    #: int32 per row: 0 the fitted population, k added by the k-th ``run --new-only``,
    #: -1 appended after the last scoring (not scored yet)
    added: np.ndarray = None
    _id_order: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        n = len(self.ids)
        if self.flags is None:
            self.flags = np.zeros(n, dtype="u4")
        if self.label_code is None:
            self.label_code = np.full(n, NO_LABEL, dtype="i2")
        if self.not_variable is None:
            self.not_variable = np.zeros(n, bool)
        if self.added is None:
            self.added = np.zeros(n, dtype="i4")
        for space, score in self.scores.items():
            if space not in self.ranks:
                self.ranks[space] = ranks(score, self.not_variable).astype("i4")
        if self.rank_space not in self.scores:
            self.rank_space = self.default_space()

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> "Catalog":
        e = np.zeros(0, "S1")
        return cls(e, e, e, _nan(0), _nan(0))

    # -- spaces ------------------------------------------------------------
    def spaces(self) -> list[str]:
        """The scored spaces of this store, in :data:`SCORE_SPACES` order."""
        return [sp for sp in SCORE_SPACES if sp in self.scores]

    def default_space(self) -> str:
        """The best space present (:data:`RANK_PREFERENCE`), '' when nothing is scored."""
        return next((sp for sp in RANK_PREFERENCE + tuple(SCORE_SPACES) if sp in self.scores),
                    "")

    def score(self, space: str | None = None) -> np.ndarray:
        """Scores of one space (default: the ranking space); NaN where absent."""
        space = space or self.rank_space
        return self.scores[space] if space in self.scores else _nan(len(self))

    @property
    def rank(self) -> np.ndarray:
        """Rank in the ranking space (1 = most anomalous, 0 unscored)."""
        if self.rank_space in self.ranks:
            return self.ranks[self.rank_space]
        return np.zeros(len(self), "i4")

    # -- cells -------------------------------------------------------------
    def text(self, key: str, row: int) -> str:
        """Display text of one cell."""
        if key in ("id", "name", "class", "truth_kind"):
            arr = self._strings(key)
            return "" if arr is None else arr[row].decode("utf-8", "replace")
        if key == "label":
            code = int(self.label_code[row])
            return self.label_names[code] if code >= 0 else ""
        if key == "flags":
            bits = int(self.flags[row])
            text = next((text for flag, text in FLAG_TEXT if bits & flag), "")
            if self.not_variable[row]:
                return f"{text}; {NOT_VARIABLE}" if text else NOT_VARIABLE
            return text
        if key == "why":
            q, s = self.top_question(row)
            return f"{q} {s:.1f}" if q else ""
        if key == "rank":
            r = int(self.rank[row])
            return str(r) if r > 0 else "–"
        if key == "added":
            return self.added_text(int(self.added[row]))
        val = float(self.value(key)[row])
        if not np.isfinite(val):
            return "–"
        if key in OPTIONAL:
            return OPTIONAL[key][2].format(val)
        return f"{val:.4g}" if key == "period" else f"{val:.3f}"

    def _strings(self, key: str) -> np.ndarray | None:
        return {"id": self.ids, "name": self.names, "class": self.classes}.get(
            key, self.extra.get(key))

    def value(self, key: str) -> np.ndarray:
        """The array behind a column (the sort key)."""
        if key.startswith("score_"):
            return self.score(key[len("score_"):])
        if key == "why":
            return self.why_value()
        if key in OPTIONAL:
            arr = self.extra.get(key)
            return arr if arr is not None else _nan(len(self))
        return {"rank": self.rank, "id": self.ids, "name": self.names,
                "class": self.classes, "period": self.period, "gr": self.gr,
                "label": self.label_code, "flags": self.flags, "added": self.added}[key]

    # -- rows added after the fit (engine/incremental.py) ------------------------
    def added_text(self, k: int) -> str:
        if k < 0:
            return "not scored"
        if k == 0:
            return ""
        return "new" if k == int(self.added.max()) else f"run {k}"

    def has_added(self) -> bool:
        """Whether any row came after the fit (the added column and filter mean something)."""
        return bool(len(self.added) and (self.added != 0).any())

    def is_new(self) -> np.ndarray:
        """Rows of the latest ``run --new-only`` and rows appended since (not scored)."""
        latest = int(self.added.max()) if len(self.added) else 0
        return (self.added < 0) | ((self.added == latest) & (latest > 0))

    def top_question(self, row: int) -> tuple[str, float]:
        """The most significant vetting question of ``row`` and its −log10 p ('' if none)."""
        if self.vet_surprise is None:
            return "", float("nan")
        s = self.vet_surprise[row]
        if not np.isfinite(s).any():
            return "", float("nan")
        q = int(np.nanargmax(s))
        name = self.question_names[q] if q < len(self.question_names) else f"q{q}"
        return name, float(s[q])

    def why_value(self) -> np.ndarray:
        """−log10 p of each object's top vetting question (the why column's sort key)."""
        if self.vet_surprise is None:
            return _nan(len(self))
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(self.vet_surprise).any(axis=1)
            out = _nan(len(self))
            out[ok] = np.nanmax(self.vet_surprise[ok], axis=1)
        return out

    def why_tooltip(self, row: int) -> str:
        """The question behind the why cell, its p value and the other answers."""
        q, s = self.top_question(row)
        if not q:
            return ""
        lines = [f"{self.question_text.get(q, q)}  −log₁₀ p = {s:.2f} (p = {10 ** -s:.2g})",
                 "p: the fraction of comparable stars at least as extreme; all answers:"]
        for name, val in zip(self.question_names, self.vet_surprise[row]):
            lines.append(f"  {name}: p = {10 ** -val:.2g}" if np.isfinite(val)
                         else f"  {name}: –")
        lines.append("the forest's per-feature contributions, the GP against the VAE and "
                     "the features against the class: the Why anomalous view")
        return "\n".join(lines)

    def flag_reason(self, row: int) -> str:
        """Why the object is flagged ('' if it is not)."""
        reasons = []
        if self.flag_msgs is not None and int(self.flags[row]):
            reasons.append(self.flag_msgs[row].decode("utf-8", "replace"))
        if self.not_variable[row]:
            sig = float(self.variability_sigma[row]) if self.variability_sigma is not None \
                else float("nan")
            reasons.append(f"{NOT_VARIABLE}: a constant magnitude fits the points within "
                           f"their errors ({sig:.1f} sigma); ranked below the variable "
                           "stars in every space")
        return "\n".join(r for r in reasons if r)

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
    new_only: bool = False               # rows added after the fit (Catalog.is_new)
    score_min: float | None = None
    score_max: float | None = None
    score_key: str = ""                  # '' = the ranking space's score
    search: str = ""
    rows: np.ndarray | None = None       # "selection only": these catalogue rows


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
        if len(cat) and (cat.rank > 0).any():
            # the engine's ranking (curves consistent with noise last), unranked after
            first = rank_order(cat.rank)
            rest = np.setdiff1d(np.arange(len(cat)), first, assume_unique=True)
            return np.concatenate([first, rest])
        return np.arange(len(cat))

    def set_rank_space(self, space: str) -> None:
        """Rank (and filter scores) by ``space``; re-sorts when the rank column sorts."""
        if space in self.catalog.scores:
            self.catalog.rank_space = space
        self.refresh()

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
        if f.new_only:
            m &= cat.is_new()
        score = cat.value(f.score_key) if f.score_key else cat.score()
        if f.rows is not None:
            keep = np.zeros(len(cat), bool)
            rows = np.asarray(f.rows, dtype=np.int64)
            keep[rows[(rows >= 0) & (rows < len(cat))]] = True
            m &= keep
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
