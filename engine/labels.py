"""The label journal: an append-only SQLite log of labels beside the store.

``<store>.labels.sqlite`` (WAL mode, so the GUI and the CLI can write at once) holds
one row per labelling action: ``seq, object_id, label, note, author, time`` (UTC ISO),
the object's ``score``, ``rank`` and ``space`` at that time, the scoring ``run`` (the
time the scores were written), ``undoes`` (the seq an undo entry reverses) and
``period`` (days: a period the user corrected while labelling, e.g. from the
periodogram; NULL when the catalogue period stands). Rows
are never changed or deleted (SQL triggers refuse it); the current label of an object
is its latest entry, and an empty label means unlabelled. Undo appends.

The label set offered to users (:data:`DEFAULT_LABELS`, editable) is kept in the
``settings`` table. Exports live in :mod:`engine.export`, merges of colleagues' journals in
:mod:`engine.label_merge`, the ``label`` command in :mod:`engine.label_cli`.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from . import schema
from .errors import PvsvetError

logger = logging.getLogger(__name__)

#: The 11 classes of Chen et al. (2020), offered for reclassification.
CHEN_CLASSES = ("EW", "EA", "BYDra", "RSCVN", "SR", "Mira", "CEP", "CEPII", "RR", "RRc",
                "DSCT")
ANOMALOUS_LABELS = ("anomaly", "interesting")
REGULAR_LABELS = ("not interesting", "artefact/bad data")
DEFAULT_LABELS = ANOMALOUS_LABELS + REGULAR_LABELS + CHEN_CLASSES
#: The space whose rank a label records and an export ranks by, when none is named: the
#: first scored one. The vetting space first: on the demo it puts the most injected
#: anomalies in its top 2% (82%; diagnostic 55%, Cartesian 31%, spherical 18%: README) and
#: says why; the forest spaces follow in that measured order. The label-aware score
#: (active) is never a default: it exists only once a user asked for it.
RANK_PREFERENCE = ("vetting", "diagnostic", "residual", "cartesian", "spherical")
#: Environment variable that sets the default author for the GUI and the CLI alike.
AUTHOR_ENV = "PVSVET_AUTHOR"


def default_author() -> str:
    """The author recorded with a label when none is given: ``$PVSVET_AUTHOR``, else the
    login name (the same default for ``pvsvet-engine label`` and the GUI)."""
    import getpass

    name = os.environ.get(AUTHOR_ENV, "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers (getpass raises several kinds)
        return ""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS labels (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    object_id TEXT NOT NULL, label TEXT NOT NULL, note TEXT NOT NULL DEFAULT '',
    author TEXT NOT NULL DEFAULT '', time TEXT NOT NULL,
    score REAL, rank INTEGER, space TEXT NOT NULL DEFAULT '', run TEXT NOT NULL DEFAULT '',
    undoes INTEGER, period REAL);
CREATE INDEX IF NOT EXISTS labels_object ON labels(object_id, seq);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS labels_no_update BEFORE UPDATE ON labels
    BEGIN SELECT RAISE(ABORT, 'the label journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS labels_no_delete BEFORE DELETE ON labels
    BEGIN SELECT RAISE(ABORT, 'the label journal is append-only'); END;
"""
_COLUMNS = ("seq", "object_id", "label", "note", "author", "time", "score", "rank", "space",
            "run", "undoes", "period")


class LabelError(PvsvetError):
    """A label or label file is invalid, or the journal cannot be written."""


@dataclass(frozen=True)
class Entry:
    """One journal row (see the module docstring)."""

    seq: int
    object_id: str
    label: str
    note: str
    author: str
    time: str
    score: float | None
    rank: int | None
    space: str
    run: str
    undoes: int | None = None
    period: float | None = None        # days; a user-corrected period, None: the catalogue's

    def as_dict(self) -> dict:
        return asdict(self)


def journal_path(store_path: str | os.PathLike) -> Path:
    return Path(str(store_path) + ".labels.sqlite")


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


#: SQLite's result codes of a write the disk could not take (full, a file-size limit,
#: an I/O error): the transaction is rolled back, the journal keeps what it had
_NO_SPACE = ("SQLITE_FULL", "SQLITE_IOERR")


def _write_failed(path: Path, exc: sqlite3.Error, what: str) -> LabelError:
    """One line for a failed journal write; says when the disk is the cause."""
    code = str(getattr(exc, "sqlite_errorname", ""))
    if code.startswith(_NO_SPACE) or "disk is full" in str(exc):
        return LabelError(f"{path}: cannot write {what}: the disk is full, a file-size limit "
                          f"was reached or the disk failed ({exc}); every label recorded "
                          "before is kept, free some space and label again")
    return LabelError(f"{path}: cannot write {what} ({exc})")


class LabelJournal:
    """The label journal of a store.

    Parameters
    ----------
    store_path : path of the store; the journal is ``<store>.labels.sqlite``
    timeout : float, seconds
        How long a write waits for another writer (GUI and CLI at once).
    """

    def __init__(self, store_path: str | os.PathLike, timeout: float = 30.0):
        self.path = journal_path(store_path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.executescript(_SCHEMA)
            self._add_period_column()
        except sqlite3.DatabaseError as exc:
            if str(getattr(exc, "sqlite_errorname", "")).startswith(_NO_SPACE):
                raise _write_failed(self.path, exc, "the label journal") from exc
            raise LabelError(f"{self.path}: not a usable label journal ({exc})") from exc

    def _add_period_column(self) -> None:
        """Journals written before the period field get it (ALTER TABLE only adds: the
        append-only triggers guard updates and deletes of rows, not the schema)."""
        cols = {r[1] for r in self._db.execute("PRAGMA table_info(labels)")}
        if "period" not in cols:
            self._db.execute("ALTER TABLE labels ADD COLUMN period REAL")

    # -- writing -----------------------------------------------------------------
    def add(self, object_id: str, label: str, note: str = "", author: str = "",
            score: float | None = None, rank: int | None = None, space: str = "",
            run: str = "", period: float | None = None) -> int:
        """Append a label for ``object_id`` (committed at once); return its seq.

        Any non-empty label is accepted (custom labels are allowed); an empty or
        whitespace-only label is refused. ``period`` (days) records a period the user
        corrected; it must be positive and finite.
        """
        label = _clean_label(label, object_id)
        return self._append(str(object_id), label, note, author, score, rank, space, run,
                            None, _clean_period(period, object_id))

    def undo(self, object_id: str, author: str = "") -> int | None:
        """Append an entry restoring the label before the last change of ``object_id``.

        The restored label is '' (unlabelled) when there was none before. Repeated
        undos walk further back. Returns the new seq, or None when there is nothing
        to undo.
        """
        stack = self._stack(str(object_id))
        if not stack:
            return None
        top = stack[-1]
        prev = stack[-2] if len(stack) > 1 else None
        return self._append(str(object_id), prev.label if prev else "",
                            prev.note if prev else "", author,
                            prev.score if prev else None, prev.rank if prev else None,
                            prev.space if prev else "", prev.run if prev else "", top.seq,
                            prev.period if prev else None)

    def _append(self, object_id, label, note, author, score, rank, space, run, undoes,
                period=None) -> int:
        row = (object_id, label, note or "", author or "", _utc_now(),
               None if score is None else float(score), None if rank is None else int(rank),
               space or "", run or "", undoes, period)
        with self._lock:
            try:
                cur = self._db.execute(
                    "INSERT INTO labels (object_id, label, note, author, time, score, rank, "
                    "space, run, undoes, period) VALUES (?,?,?,?,?,?,?,?,?,?,?)", row)
            except sqlite3.OperationalError as exc:
                raise _write_failed(self.path, exc, f"the label of {object_id}") from exc
        return int(cur.lastrowid)

    def add_many(self, rows: list[tuple[str, str, str]], author: str = "") -> int:
        """Append ``(object_id, label, note)`` rows in one transaction; return the count."""
        clean = [(str(i), _clean_label(lab, i), note or "") for i, lab, note in rows]
        with self._transaction("labels"):
            self._db.executemany(
                "INSERT INTO labels (object_id, label, note, author, time) "
                "VALUES (?,?,?,?,?)", [(i, lab, n, author, _utc_now()) for i, lab, n in clean])
        return len(clean)

    def add_entries(self, entries: list[Entry]) -> int:
        """Append other journals' entries as they were (author, time, score, rank, space,
        run) in one transaction, an undo pointing at the appended copy of what it undid
        (used by :mod:`engine.label_merge`); return the count."""
        seqs: dict[int, int] = {}
        with self._transaction("merged labels"):
            for e in entries:
                cur = self._db.execute(
                    "INSERT INTO labels (object_id, label, note, author, time, score, "
                    "rank, space, run, undoes, period) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (e.object_id, e.label, e.note, e.author, e.time, e.score, e.rank,
                     e.space, e.run, seqs.get(e.undoes) if e.undoes is not None else None,
                     e.period))
                seqs[e.seq] = int(cur.lastrowid)
        return len(entries)

    @contextlib.contextmanager
    def _transaction(self, what: str) -> Iterator[None]:
        """Many inserts as one transaction: all or none of them land. A failure (a full
        disk) rolls back and raises :class:`LabelError` naming the journal and ``what``."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):   # SQLite rolls back itself
                        self._db.execute("ROLLBACK")
                raise _write_failed(self.path, exc, what) from exc

    # -- reading -----------------------------------------------------------------
    def _query(self, sql: str, args: tuple = ()) -> list[Entry]:
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [Entry(*r) for r in rows]

    def history(self, object_id: str) -> list[Entry]:
        """All entries of ``object_id``, oldest first."""
        return self._query(f"SELECT {', '.join(_COLUMNS)} FROM labels WHERE object_id = ? "
                           "ORDER BY seq", (str(object_id),))

    def entries(self) -> list[Entry]:
        return self._query(f"SELECT {', '.join(_COLUMNS)} FROM labels ORDER BY seq")

    def current(self, include_unlabelled: bool = False) -> dict[str, Entry]:
        """Latest entry per object id (objects whose latest label is '' are left out
        unless ``include_unlabelled``)."""
        rows = self._query(
            f"SELECT {', '.join('l.' + c for c in _COLUMNS)} FROM labels l JOIN "
            "(SELECT object_id, MAX(seq) AS s FROM labels GROUP BY object_id) m "
            "ON l.seq = m.s ORDER BY l.seq")
        return {e.object_id: e for e in rows if include_unlabelled or e.label}

    def _stack(self, object_id: str) -> list[Entry]:
        stack: list[Entry] = []
        for e in self.history(object_id):
            if e.undoes is None:
                stack.append(e)
            elif stack:
                stack.pop()
        return stack

    # -- the label set ---------------------------------------------------------------
    def label_set(self) -> list[str]:
        """The labels offered to users (DEFAULT_LABELS until changed)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM settings WHERE key='label_set'").fetchone()
        return json.loads(row[0]) if row else list(DEFAULT_LABELS)

    def check_label(self, label: str, object_id: str = "") -> str:
        """The cleaned label if it is in the label set; else a LabelError naming the known
        labels (a typo such as 'anomally' must not become a new label)."""
        text = _clean_label(label, object_id or "label")
        known = self.label_set()
        if text not in known:
            raise LabelError(f"{object_id + ': ' if object_id else ''}unknown label {text!r}; "
                             f"known labels: {', '.join(known)} (change them with "
                             "pvsvet-engine label STORE --label-set A,B,… or Edit ▸ Edit "
                             "label set in the GUI)")
        return text

    def set_label_set(self, labels: list[str]) -> None:
        clean = [_clean_label(lab, "label set") for lab in labels]
        if len(set(clean)) != len(clean):
            raise LabelError(f"{self.path}: the label set has duplicates: {clean}")
        with self._lock:
            try:
                self._db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES "
                                 "('label_set', ?)", (json.dumps(clean),))
            except sqlite3.Error as exc:
                raise _write_failed(self.path, exc, "the label set") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "LabelJournal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def select_columns(db: sqlite3.Connection) -> str:
    """The SELECT list of an :class:`Entry` for a journal of any schema version (one
    written before the period field reads NULL for it)."""
    have = {r[1] for r in db.execute("PRAGMA table_info(labels)")}
    return ", ".join(c if c in have else f"NULL AS {c}" for c in _COLUMNS)


def _clean_period(period, object_id: str) -> float | None:
    if period is None:
        return None
    try:
        value = float(period)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0 < value < float("inf"):
        raise LabelError(f"{object_id}: a corrected period must be a positive number of "
                         f"days, got {period!r}")
    return value


def _clean_label(label: str, object_id: str) -> str:
    text = "" if label is None else str(label).strip()
    if not text:
        raise LabelError(f"{object_id}: empty label refused (use undo to clear a label)")
    return text


def ranking_space(st, space: str | None = None) -> str:
    """``space`` if it is scored in the store (LabelError if not), else the first scored
    space of :data:`RANK_PREFERENCE`; '' when nothing is scored."""
    if space:
        if not st.has(schema.score_path(space, "rank")):
            raise LabelError(f"{st.path}: no /scores/{space} (score that space first)")
        return space
    return next((sp for sp in RANK_PREFERENCE if st.has(schema.score_path(sp, "rank"))), "")


def score_context(st, space: str | None = None) -> dict:
    """Scores, ranks and scoring run of the ranking space, to record with each label
    (the GUI passes the space it shows; see :func:`at_row`)."""
    space = ranking_space(st, space)
    if not space:
        return {}
    return {"space": space, "score": st.read(schema.score_path(space, "score")),
            "rank": st.read(schema.score_path(space, "rank")), "run": score_run(st, space)}


def score_run(st, space: str) -> str:
    """The scoring run a label refers to: when ``/scores/<space>`` was written (UTC)."""
    return str(st.attrs(schema.score_group(space)).get("written", ""))


def at_row(context: dict, row: int) -> tuple:
    """``(score, rank, space, run)`` of one object from a :func:`score_context` dict
    (NaN scores and rank 0, i.e. unscored, recorded as None)."""
    if not context:
        return None, None, "", ""
    score, rank = float(context["score"][row]), int(context["rank"][row])
    return (score if score == score else None, rank if rank > 0 else None,
            context["space"], context["run"])


def read_label_csv(path) -> list[tuple[str, str, str]]:
    """Rows ``(id, label, note)`` of a CSV ``id,label[,note]`` (a header row is skipped)."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    except OSError as exc:
        raise LabelError(f"{path}: cannot read the label file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise LabelError(f"{path}: the label file is not UTF-8 text ({exc.reason} at byte "
                         f"{exc.start})") from exc
    except csv.Error as exc:
        raise LabelError(f"{path}: not a CSV label file ({exc})") from exc
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["id", "label"]:
        rows = rows[1:]
    out = []
    for n, r in enumerate(rows, 1):
        if len(r) < 2 or not r[1].strip():
            raise LabelError(f"{path}: row {n} ({','.join(r)}) needs an id and a non-empty label")
        out.append((r[0].strip(), r[1].strip(), r[2].strip() if len(r) > 2 else ""))
    return out
