"""The fetch queue: a small SQLite file beside the store (``STORE.fetch.sqlite``).

Why SQLite and not a group in the HDF5 store: the queue changes one object at a
time while worker threads download (state, attempts, the reason of a failure),
and the store has a single writer and is read by the GUI meanwhile; SQLite gives
per-row transactions that survive a kill without rewriting HDF5 datasets. The
store stays the truth for what is finished: an object is done when its id is in
``/objects`` (appended with its light curve in one atomic store append), so a
kill between the append and the queue update loses nothing and duplicates
nothing.

Tables: ``catalog(seq, id, row)`` (the catalogue row as JSON, in catalogue order)
and ``state(id, state, reason, attempts, oids, updated)`` with state ``pending``,
``done`` or ``failed``.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..store import utc_now

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS catalog (seq INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL,
                                    row TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state (id TEXT PRIMARY KEY, state TEXT NOT NULL,
                                  reason TEXT DEFAULT '', attempts INTEGER DEFAULT 0,
                                  oids TEXT DEFAULT '', updated TEXT);
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT);
"""


def queue_path(store_path: str | os.PathLike) -> Path:
    """Where the queue of ``store_path`` lives."""
    store_path = Path(store_path)
    return store_path.with_name(store_path.name + ".fetch.sqlite")


class FetchQueue:
    """The resumable queue of one store (used from one thread)."""

    def __init__(self, store_path: str | os.PathLike):
        self.path = queue_path(store_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "FetchQueue":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Queue catalogue rows (each with ``id``); ids already queued are kept. Returns new."""
        before = self.count()
        with self._db:
            for row in rows:
                cur = self._db.execute("INSERT OR IGNORE INTO catalog (id, row) VALUES (?, ?)",
                                       (str(row["id"]), json.dumps(row, default=_plain)))
                if cur.rowcount:
                    self._db.execute("INSERT OR REPLACE INTO state (id, state, updated) "
                                     "VALUES (?, 'pending', ?)", (str(row["id"]), utc_now()))
        return self.count() - before

    def set_info(self, key: str, value: Any) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO info VALUES (?, ?)", (key, json.dumps(value)))

    def info(self, key: str, default: Any = None) -> Any:
        hit = self._db.execute("SELECT value FROM info WHERE key = ?", (key,)).fetchone()
        return json.loads(hit[0]) if hit else default

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM catalog").fetchone()[0])

    def todo(self, retry_failed: bool = False) -> list[dict[str, Any]]:
        """Catalogue rows still to fetch, in catalogue order."""
        states = ("pending", "failed") if retry_failed else ("pending",)
        marks = ",".join("?" * len(states))
        cur = self._db.execute(f"SELECT c.row FROM catalog c JOIN state s ON s.id = c.id "
                               f"WHERE s.state IN ({marks}) ORDER BY c.seq", states)
        return [json.loads(r[0]) for r in cur]

    def mark(self, oid: str, state: str, reason: str = "", oids: str = "") -> None:
        self.mark_many([(oid, state, reason, oids)])

    def mark_many(self, outcomes: Iterable[tuple[str, str, str, str]]) -> None:
        """Record (id, state, reason, oids) of many objects in one transaction."""
        now = utc_now()
        with self._db:   # one commit (one fsync) per batch, not per object
            self._db.executemany("UPDATE state SET state = ?, reason = ?, oids = ?, "
                                 "attempts = attempts + 1, updated = ? WHERE id = ?",
                                 [(st, why, oids, now, oid) for oid, st, why, oids in outcomes])

    def mark_done(self, ids: Iterable[str]) -> None:
        with self._db:
            self._db.executemany("UPDATE state SET state = 'done', reason = '', updated = ? "
                                 "WHERE id = ?", [(utc_now(), str(i)) for i in ids])

    def summary(self) -> dict[str, Any]:
        """Counts per state and the failed objects with their reasons."""
        counts = dict(self._db.execute("SELECT state, COUNT(*) FROM state GROUP BY state"))
        failed = [{"id": i, "reason": r, "attempts": a} for i, r, a in self._db.execute(
            "SELECT s.id, s.reason, s.attempts FROM state s JOIN catalog c ON c.id = s.id "
            "WHERE s.state = 'failed' ORDER BY c.seq")]
        return {"queue": str(self.path.name), "objects": self.count(),
                "pending": counts.get("pending", 0), "done": counts.get("done", 0),
                "failed": counts.get("failed", 0), "failures": failed}


def _plain(value: Any) -> Any:
    """numpy scalars -> JSON (NaN becomes null)."""
    try:
        value = value.item()
    except AttributeError:
        pass
    if isinstance(value, float) and value != value:
        return None
    return value
