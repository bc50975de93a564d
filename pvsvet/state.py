"""Application state in plain Python (no Qt): the loaded store and the one Selection.

Panes never talk to each other. They call :meth:`Selection.select` on user action
and redraw on its ``changed`` callbacks; they read object data through
:meth:`AppState.detail`, which reads the store in one short read-only block (the
engine may open the file for writing between reads) and caches the result.
"""
from __future__ import annotations

import contextlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from engine import schema
from engine.errors import PvsvetError

from .catalog import Catalog, CatalogView
from .loading import (BandNames, ObjectDetail, band_labels, feature_columns, file_signature, load_catalog,
                      load_latent, read_detail, store_stamp)

logger = logging.getLogger(__name__)

Callback = Callable[..., None]


class Callbacks:
    """A list of callables called in order; one failing callback is logged, not fatal."""

    def __init__(self) -> None:
        self._fns: list[Callback] = []

    def connect(self, fn: Callback) -> None:
        if fn not in self._fns:
            self._fns.append(fn)

    def disconnect(self, fn: Callback) -> None:
        with contextlib.suppress(ValueError):
            self._fns.remove(fn)

    def emit(self, *args: Any) -> None:
        for fn in list(self._fns):
            try:
                fn(*args)
            except Exception:  # a broken pane must not break the others
                logger.exception("callback %r failed", fn)


class Selection:
    """The shared selection: catalogue rows and the current (displayed) row.

    ``changed`` callbacks get ``(selection, source)``; ``source`` is whoever made the
    change, so a view can ignore its own echo. Changes inside :meth:`batch` are
    emitted once at its end; a change made while callbacks run is emitted after them.
    """

    def __init__(self) -> None:
        self.rows = np.empty(0, dtype=np.int64)
        self.current: int | None = None
        self.source: Any = None
        self.changed = Callbacks()
        self._emitting = False
        self._batch = 0
        self._pending = False

    @property
    def emitting(self) -> bool:
        return self._emitting

    def select(self, rows: Any, current: int | None = None, source: Any = None) -> bool:
        """Replace the selection; return whether it changed."""
        rows = np.unique(np.asarray(rows, dtype=np.int64).ravel())
        if current is None and len(rows):
            current = self.current if self.current in rows else int(rows[0])
        if current is not None and current not in rows:
            rows = np.union1d(rows, [current])
        if np.array_equal(rows, self.rows) and current == self.current:
            return False
        self.rows, self.current, self.source = rows, current, source
        self._notify()
        return True

    def set_current(self, row: int | None, source: Any = None) -> bool:
        """Make one row current and the only selected row."""
        return self.select([] if row is None else [row], row, source)

    def clear(self, source: Any = None) -> bool:
        return self.select([], None, source)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        self._batch += 1
        try:
            yield
        finally:
            self._batch -= 1
            if not self._batch and self._pending:
                self._notify()

    def _notify(self) -> None:
        if self._batch or self._emitting:
            self._pending = True
            return
        self._emitting = True
        try:
            self._pending = False
            self.changed.emit(self, self.source)
        finally:
            self._emitting = False
        if self._pending:  # someone changed it from inside a callback
            self._notify()


@dataclass
class AppState:
    """One open store: catalogue arrays, latent means, labels and a detail cache."""

    path: Path | None = None
    catalog: Catalog = field(default_factory=Catalog.empty)
    view: CatalogView = None
    latent: np.ndarray | None = None          # (N, 10) VAE latent means
    groups: set[str] = field(default_factory=set)
    hr: dict | None = None                    # hr_points / hr_background / mowlavi line
    journal: Any = None
    journal_message: str = ""
    label_set: list[str] = field(default_factory=list)
    author: str = field(default_factory=lambda: _default_author())
    rank_space: str = ""                      # the user's ranking space ('' = the best one)
    band_labels: BandNames = field(default_factory=BandNames)  # legend names of the bands
    selection: Selection = field(default_factory=Selection)
    features: dict = field(default_factory=dict)   # plot name -> (space, column) stored
    loaded: Callbacks = field(default_factory=Callbacks)
    view_changed: Callbacks = field(default_factory=Callbacks)   # order or filter changed
    labels_changed: Callbacks = field(default_factory=Callbacks)
    #: row -> period (days) the user chose in the period pane; recorded with its labels
    corrected_period: dict = field(default_factory=dict)
    _cache: OrderedDict = field(default_factory=OrderedDict)
    _signature: tuple | None = None           # file_signature / store_stamp at the last load
    _stamp: tuple | None = None

    def __post_init__(self) -> None:
        if self.view is None:
            self.view = CatalogView(self.catalog)

    # -- loading -------------------------------------------------------------
    def open(self, path: str | Path, wait: float = 5.0, keep_view: bool = False) -> None:
        """Load a store (raises engine.errors.StoreError with a clear message).

        ``keep_view`` keeps the order and filter of the table (a reload of the same store):
        they are applied before ``loaded`` is emitted, so every pane sees the final order.
        """
        path = Path(path)
        t0 = time.perf_counter()
        self._load_consistent(path, wait)
        self._cache.clear()
        if not keep_view:              # another store: its rows are other objects
            self.corrected_period = {}
        self._open_journal()
        old, self.view = self.view, CatalogView(self.catalog)
        if keep_view:
            self.view.filter = old.filter
            self.view.sort(old.sort_key, old.descending)
        logger.info("loaded %s (%d objects) in %.2f s", path, len(self.catalog),
                    time.perf_counter() - t0)
        cur = self.selection.current
        if cur is not None and cur >= len(self.catalog):
            self.selection.clear(source=self)
        self.loaded.emit(self)

    def _load_consistent(self, path: Path, wait: float, tries: int = 3) -> None:
        """Read everything the panes show from one version of the store.

        Each read is a separate short read-only open (the engine may commit in between);
        the commit stamp is read before and after, and a load that straddled a commit
        is read again, so the panes never mix one stage version with another.
        """
        for attempt in range(tries):
            signature, stamp = file_signature(path), store_stamp(path, wait)
            catalog, groups = load_catalog(path, wait)
            latent, hr = load_latent(path, groups, wait)
            bands = band_labels(path, groups, wait)
            features = feature_columns(path, wait)
            if store_stamp(path, wait) == stamp:
                break
            logger.info("%s changed while it was read: reading it again", path)
        if self.rank_space in catalog.scores:
            catalog.rank_space = self.rank_space
        self.path, self.catalog, self.groups = path, catalog, groups
        self.latent, self.hr, self.band_labels, self.features = latent, hr, bands, features
        self._signature, self._stamp = signature, stamp

    def reload(self) -> None:
        """Re-read the store after a stage committed; keep order, filter and selection."""
        if self.path is not None:
            self.open(self.path, keep_view=True)

    def changed_on_disk(self) -> bool:
        """Whether a commit (of another process, e.g. ``pvsvet-engine``) finished since
        the store was loaded. Cheap enough to poll every second: a ``stat`` of the file,
        and only when that changed a short read-only open for the commit stamp. While a
        writer holds the file it answers False (the write is not finished) and looks
        again next time."""
        if self.path is None:
            return False
        signature = file_signature(self.path)
        if signature is None or signature == self._signature:
            return False
        try:
            stamp = store_stamp(self.path, wait=0.0)
        except PvsvetError:          # being written (busy), or gone/damaged: not now
            return False
        if stamp == self._stamp:
            self._signature = signature     # touched without a commit
            return False
        return True

    def summary(self) -> str:
        """One line on what the open store holds, e.g. '20,000 objects · GP curves · VAE
        latent means · scored: vetting, diagnostic, cartesian, spherical · context ·
        ranked by vetting'."""
        cat, g = self.catalog, self.groups
        parts = [f"{len(cat):,} objects"]
        parts += [text for key, text in ((schema.INTERP, "GP curves"),
                                       (schema.VAE_MU, "VAE latent means"))
                  if key in g]
        spaces = cat.spaces()
        parts.append("scored: " + ", ".join(spaces) if spaces else "not scored yet")
        if schema.CONTEXT in g:
            parts.append("context")
        if cat.rank_space:
            parts.append(f"ranked by {cat.rank_space}")
        return " · ".join(parts)

    def reload_labels(self) -> None:
        """Re-read the journal's current labels (after a merge of a colleague's labels);
        ``labels_changed`` gets the rows whose label changed."""
        if self.journal is None:
            return
        before = self.catalog.label_code.copy()
        names = list(self.catalog.label_names)
        current = {k: v.label for k, v in self.journal.current().items()}
        self.catalog.set_labels(current, self.label_set)
        # compare names, not codes: the codes of a label may move when the names grow
        old = np.array(names + [""], dtype=object)[before]          # code -1: ""
        new = np.array(self.catalog.label_names + [""], dtype=object)[self.catalog.label_code]
        self.labels_changed.emit(np.flatnonzero(old != new))

    def _open_journal(self) -> None:
        if self.journal is not None:
            self.journal.close()
        self.journal, self.journal_message, self.label_set = None, "", []
        try:
            from engine.labels import LabelJournal
        except ImportError:
            self.journal_message = "labels unavailable: engine.labels is not installed"
            return
        try:
            self.journal = LabelJournal(self.path)
        except PvsvetError as exc:   # an unusable journal must not stop vetting
            self.journal_message = f"labels unavailable: {exc}"
            return
        self.label_set = list(self.journal.label_set())
        current = {k: v.label for k, v in self.journal.current().items()}
        self.catalog.set_labels(current, self.label_set)

    def set_label_set(self, labels: list[str]) -> None:
        """Change the offered labels (kept in the journal, so per store)."""
        if self.journal is not None:
            self.journal.set_label_set(labels)
        self.label_set = list(labels)

    # -- per object ------------------------------------------------------------
    def detail(self, row: int, wait: float = 0.3) -> ObjectDetail:
        """Everything the panes need of one object; cached; ``busy`` if the store is locked."""
        if row in self._cache:
            self._cache.move_to_end(row)
            return self._cache[row]
        det = read_detail(self.path, row, self.catalog, self.groups, wait)
        if not det.busy and not det.error:
            self._cache[row] = det
            while len(self._cache) > 128:
                self._cache.popitem(last=False)
        return det

    # -- labels ----------------------------------------------------------------
    def add_label(self, row: int, label: str, note: str = "") -> None:
        """Write a label to the journal at once and update the table column."""
        self.add_labels([row], label, note)

    def add_labels(self, rows, label: str, note: str = "") -> int:
        """Label several objects in one action: one journal entry per object (each with
        its own score, rank and corrected period), one ``labels_changed``. A label not
        in the label set is refused before anything is written. Returns the count."""
        if self.journal is None:
            raise RuntimeError(self.journal_message or "no label journal")
        from engine.labels import at_row

        cat = self.catalog
        rows = [int(r) for r in rows]
        label = self.journal.check_label(label, cat.object_id(rows[0]) if rows else "")
        context = {"space": cat.rank_space, "score": cat.score(), "rank": cat.rank,
                   "run": cat.runs.get(cat.rank_space, "")} if cat.rank_space else {}
        for row in rows:
            score, rank, space, run = at_row(context, row)   # the space shown, as the CLI
            self.journal.add(cat.object_id(row), label, note=note, author=self.author,
                             score=score, rank=rank, space=space, run=run,
                             period=self.corrected_period.get(row))
            cat.set_label(row, label)
        if rows:
            self.labels_changed.emit(rows)
        return len(rows)

    def undo_label(self, row: int) -> None:
        if self.journal is None:
            return
        oid = self.catalog.object_id(row)
        self.journal.undo(oid)
        entry = self.journal.current().get(oid)
        self.catalog.set_label(row, getattr(entry, "label", None) if entry else None)
        self.labels_changed.emit([row])

    def history(self, row: int) -> list:
        if self.journal is None:
            return []
        return list(self.journal.history(self.catalog.object_id(row)))


def _default_author() -> str:
    try:
        from engine.labels import default_author
    except ImportError:
        return ""
    return default_author()
