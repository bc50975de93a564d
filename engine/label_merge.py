"""Merging a colleague's label journal into ours: both authors kept, conflicts shown.

``merge(store, other)`` reads the other journal (a ``.labels.sqlite`` file, or a store
whose journal it is) and, per object:

- their entries that our journal already holds (same object, author, time and label)
  are skipped, so merging twice adds nothing;
- where we have no current label, or the same one, their new entries are appended to
  our journal with their author, time, score and rank (so the history shows both);
- where both have a current label and they differ, nothing of ours changes: their
  entries are kept in the ``merged`` side table and the object is a *conflict*, listed
  by :func:`conflicts` until someone resolves it (:func:`resolve`: take theirs, which
  appends their label as a new entry of ours, or keep ours).

The journal's ``labels`` table stays append-only; the side table records what was
merged from where, so per-author export columns (:func:`labels_by_author`) show every
author's latest label, conflicts included.
"""
from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from .labels import Entry, LabelError, LabelJournal, journal_path

logger = logging.getLogger(__name__)

_SIDE = """
CREATE TABLE IF NOT EXISTS merged (
    object_id TEXT NOT NULL, label TEXT NOT NULL, note TEXT NOT NULL DEFAULT '',
    author TEXT NOT NULL DEFAULT '', time TEXT NOT NULL, score REAL, rank INTEGER,
    space TEXT NOT NULL DEFAULT '', run TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '', resolved TEXT NOT NULL DEFAULT '',
    UNIQUE (object_id, author, time, label));
"""
_ENTRY = ("object_id", "label", "note", "author", "time", "score", "rank", "space", "run")


@dataclass(frozen=True)
class Conflict:
    """One object both journals label differently: our current entry and theirs."""

    object_id: str
    mine: Entry
    theirs: Entry
    source: str

    def line(self) -> str:
        return (f"{self.object_id}: ours {self.mine.label!r} ({self.mine.author or '?'}, "
                f"{self.mine.time[:16]}) vs theirs {self.theirs.label!r} "
                f"({self.theirs.author or '?'}, {self.theirs.time[:16]}, {self.source})")


@dataclass
class MergeResult:
    added: int = 0            # entries appended to our journal
    already: int = 0          # entries we already held
    objects: int = 0          # objects whose labels changed
    conflicts: list[Conflict] = field(default_factory=list)

    def summary(self, source: str) -> str:
        return (f"merged {source}: {self.added} entries added for {self.objects} objects, "
                f"{self.already} already here, {len(self.conflicts)} conflicts (kept ours; "
                "see the list)")


def other_journal(path: str | Path) -> Path:
    """The journal file meant by ``path``: itself if it is one, else the store's."""
    p = Path(path)
    if p.suffix == ".sqlite" and p.is_file():
        return p
    j = journal_path(p)
    if j.is_file():
        return j
    raise LabelError(f"{path}: neither a label journal (.labels.sqlite) nor a store with one")


def read_entries(path: str | Path) -> list[Entry]:
    """Every entry of a journal file, read-only (a colleague's file is never written)."""
    from .labels import select_columns

    uri = Path(path).resolve().as_uri() + "?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True)
        try:
            rows = db.execute(f"SELECT {select_columns(db)} FROM labels ORDER BY seq").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise LabelError(f"{path}: not a readable label journal ({exc})") from exc
    return [Entry(*r) for r in rows]


def _current(entries: list[Entry]) -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    for e in entries:              # oldest first: the last one per object wins
        out[e.object_id] = e
    return out


def _key(e: Entry) -> tuple:
    return (e.object_id, e.author, e.time, e.label)


def _side(journal: LabelJournal) -> sqlite3.Connection:
    db = journal._db
    db.executescript(_SIDE)
    return db


def merge(store_path: str | Path, other: str | Path, index: set[str] | None = None
          ) -> MergeResult:
    """Merge the journal of ``other`` into the store's (see the module docstring).

    ``index``: the store's object ids; entries for other ids are left out (and counted
    in the log), since a colleague may have labelled a different store.
    """
    source_path = other_journal(other)
    if source_path.resolve() == journal_path(store_path).resolve():
        raise LabelError(f"{other}: is this store's own journal")
    theirs = read_entries(source_path)
    source = source_path.name
    unknown = {e.object_id for e in theirs if index is not None and e.object_id not in index}
    if unknown:
        logger.warning("%s: %d labelled ids are not in %s (left out): %s", source,
                       len(unknown), store_path, sorted(unknown)[:5])
    result = MergeResult()
    with LabelJournal(store_path) as journal:
        db = _side(journal)
        ours = journal.entries()
        # what we hold: our entries and those set aside at an earlier merge
        have = {_key(e) for e in ours} | {_key(e) for e, _ in _merged(journal)}
        mine = _current(ours)
        by_object: dict[str, list[Entry]] = {}
        for e in theirs:
            if e.object_id not in unknown:
                by_object.setdefault(e.object_id, []).append(e)
        for oid, entries in by_object.items():
            new = [e for e in entries if _key(e) not in have]
            result.already += len(entries) - len(new)
            if not new:
                continue
            their_now, my_now = entries[-1], mine.get(oid)
            if my_now and my_now.label and their_now.label and my_now.label != their_now.label:
                _keep_aside(db, new, source)
                result.conflicts.append(Conflict(oid, my_now, their_now, source))
                continue
            result.added += journal.add_entries(new)
            result.objects += 1
    return result


def _keep_aside(db: sqlite3.Connection, entries: list[Entry], source: str) -> None:
    db.executemany(
        f"INSERT OR IGNORE INTO merged ({', '.join(_ENTRY)}, source) VALUES "
        f"({', '.join('?' * (len(_ENTRY) + 1))})",
        [tuple(getattr(e, c) for c in _ENTRY) + (source,) for e in entries])


def _merged(journal: LabelJournal, unresolved_only: bool = False) -> list[tuple[Entry, str]]:
    db = _side(journal)
    where = "WHERE resolved = ''" if unresolved_only else ""
    rows = db.execute(f"SELECT {', '.join(_ENTRY)}, source FROM merged {where} "
                      "ORDER BY time").fetchall()
    return [(Entry(0, *r[:-1]), r[-1]) for r in rows]


def conflicts(store_path: str | Path) -> list[Conflict]:
    """Unresolved conflicts: objects whose merged label (the latest of each source)
    differs from our current one."""
    with LabelJournal(store_path) as journal:
        mine = journal.current()
        latest: dict[tuple[str, str], tuple[Entry, str]] = {}
        for e, source in _merged(journal, unresolved_only=True):
            latest[(e.object_id, source)] = (e, source)
    out = []
    for (oid, source), (e, _) in latest.items():
        cur = mine.get(oid)
        if e.label and cur is not None and cur.label != e.label:
            out.append(Conflict(oid, cur, e, source))
    return sorted(out, key=lambda c: c.object_id)


def resolve(store_path: str | Path, object_id: str, take: str, author: str = "") -> None:
    """Resolve the conflict of ``object_id``: ``take="theirs"`` appends their label as a
    new entry (recorded as theirs, with ``author`` resolving it in the note), ``"mine"``
    keeps ours; either way the conflict leaves the list."""
    if take not in ("theirs", "mine"):
        raise LabelError(f"{object_id}: resolve with 'theirs' or 'mine', not {take!r}")
    found = [c for c in conflicts(store_path) if c.object_id == object_id]
    if not found:
        raise LabelError(f"{object_id}: no unresolved label conflict")
    with LabelJournal(store_path) as journal:
        db = _side(journal)
        for c in found:
            if take == "theirs":
                t = c.theirs
                note = (t.note + " " if t.note else "") + f"[merged from {c.source}" + (
                    f", chosen by {author}]" if author else "]")
                journal.add(object_id, t.label, note=note, author=t.author, score=t.score,
                            rank=t.rank, space=t.space, run=t.run)
            db.execute("UPDATE merged SET resolved = ? WHERE object_id = ? AND source = ?",
                       (take, object_id, c.source))


def labels_by_author(store_path: str | Path) -> dict[str, dict[str, str]]:
    """author -> {object id -> that author's latest label}, from our journal and the
    merged entries (an undo counts for the author of the entry it undid; '' = cleared)."""
    with LabelJournal(store_path) as journal:
        entries = journal.entries()
        merged = [e for e, _ in _merged(journal)]
    author_of: dict[int, str] = {}
    stamped: list[tuple[str, str, str, str]] = []       # (time, author, object, label)
    for e in entries:
        who = e.author if e.undoes is None else author_of.get(e.undoes, e.author)
        author_of[e.seq] = who
        stamped.append((e.time, who, e.object_id, e.label))
    stamped += [(e.time, e.author, e.object_id, e.label) for e in merged]
    out: dict[str, dict[str, str]] = {}
    for _, who, oid, label in sorted(stamped, key=lambda s: s[0]):
        out.setdefault(who, {})[oid] = label
    return out


def author_column(author: str) -> str:
    """Export column name of an author's labels: ``label_<author>`` in letters, digits
    and underscores (VOTable and CSV readers choke on spaces and punctuation)."""
    return "label_" + (re.sub(r"[^0-9A-Za-z]+", "_", author).strip("_") or "unknown")


# -- command line: pvsvet-engine label merge STORE OTHER ------------------------------------
def cli_merge(store: str, other: str, out=print) -> int:
    from .store import Store

    with Store(store, "r") as st:
        index = set(st.object_index())
    result = merge(store, other, index)
    out(result.summary(str(other)))
    for c in result.conflicts:
        out("  conflict " + c.line())
    if result.conflicts:
        out("resolve in the GUI (Edit ▸ Label conflicts…) or with pvsvet-engine label STORE "
            "--resolve ID=theirs|mine")
    return 0


def cli_resolve(store: str, spec: str, author: str) -> int:
    oid, sep, take = spec.rpartition("=")
    if not sep or not oid:
        raise LabelError(f"--resolve {spec!r}: give ID=theirs or ID=mine")
    resolve(store, oid, take.strip(), author)
    print(f"{oid}: kept {'their' if take.strip() == 'theirs' else 'our'} label")
    return 0
