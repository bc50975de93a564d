"""What an ingest did: counts per outcome and flag, and the messages behind them."""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..store import NOT_INTERPOLATED, Status

logger = logging.getLogger(__name__)

#: Flags that keep an object out of the pipeline (the others say data were cleaned).
EXCLUDING = NOT_INTERPOLATED
_BITS = [(int(b), b.name) for b in Status if b]
#: How many messages the summary lists (all of them go to the log and --report).
MAX_LISTED = 50


@dataclass
class IngestReport:
    """Counts and messages collected during an ingest.

    ``messages`` holds one ``(what, id_or_file, reason)`` per problem: a file that
    could not be read, a duplicate, a catalogue row without light curve, a flagged
    object (the reason is its ``status_msg``).
    """

    files: int = 0
    files_failed: int = 0
    objects_read: int = 0
    stored: int = 0
    stored_ok: int = 0
    skipped: Counter = field(default_factory=Counter)
    flagged: Counter = field(default_factory=Counter)
    catalog_rows: int = 0
    rows_without_lightcurve: int = 0
    objects_without_row: int = 0
    excluded: int = 0
    #: catalogue ids without light curve (kept apart: there may be 10^5 of them)
    unmatched_ids: Any = ()
    messages: list[tuple[str, str, str]] = field(default_factory=list)

    def problem(self, what: str, who: str, reason: str, level: int = logging.WARNING) -> None:
        self.messages.append((what, who, reason))
        logger.log(level, "%s: %s", who, reason)

    def file_failed(self, path: str, reason: str) -> None:
        self.files_failed += 1
        self.problem("file unreadable", path, reason)

    def skip(self, why: str, who: str, reason: str) -> None:
        self.skipped[why] += 1
        self.problem(f"skipped ({why})", who, reason)

    def flag(self, who: str, status: int, msg: str) -> None:
        self.stored += 1
        if status == 0:
            self.stored_ok += 1
            return
        if status & EXCLUDING:
            self.excluded += 1
        for bit, name in _BITS:
            if status & bit:
                self.flagged[name] += 1
        self.problem("flagged " + flag_names(status), who, msg, logging.INFO)

    def summary(self, elapsed: float) -> dict[str, Any]:
        listed = [f"{who}: {what}: {reason}" for what, who, reason in self.messages
                  if not what.startswith("flagged")]
        return {
            "files": self.files, "files_failed": self.files_failed,
            "objects_read": self.objects_read, "stored": self.stored,
            "stored_ok": self.stored_ok,
            "stored_usable": self.stored - self.excluded,
            "flagged": dict(sorted(self.flagged.items())),
            "skipped": dict(sorted(self.skipped.items())),
            "skipped_total": sum(self.skipped.values()),
            "catalog_rows": self.catalog_rows,
            "catalog_rows_without_lightcurve": self.rows_without_lightcurve,
            "catalog_ids_without_lightcurve": [str(x) for x in self.unmatched_ids[:10]],
            "objects_without_catalog_row": self.objects_without_row,
            "problems": listed[:MAX_LISTED],
            "problems_not_listed": max(0, len(listed) - MAX_LISTED),
            "elapsed_s": round(elapsed, 3),
            "files_per_s": round(self.files / elapsed, 1) if elapsed > 0 else None,
        }

    def write(self, path: str) -> None:
        """All messages as tab-separated lines: what, id or file, reason."""
        from ..safefile import replacing

        with replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            fh.write("what\tid_or_file\treason\n")
            for row in self.messages:
                fh.write("\t".join(x.replace("\t", " ") for x in row) + "\n")
            for oid in self.unmatched_ids:
                fh.write(f"catalogue row without light curve (not stored)\t{oid}\t"
                         "no light-curve file\n")


def flag_names(status: int) -> str:
    """``"MISSING_BAND|FEW_POINTS"`` for a status value ('OK' for 0)."""
    names = [name for bit, name in _BITS if status & bit]
    return "|".join(names) if names else "OK"


def format_summary(s: dict[str, Any]) -> str:
    """The summary as a few human-readable lines (the CLI without --json)."""
    lines = [f"files: {s['files']} read, {s['files_failed']} unreadable",
             f"objects: {s['objects_read']} read, {s['stored']} stored "
             f"({s['stored_ok']} clean, {s['stored_usable']} usable by the pipeline), "
             f"{s['skipped_total']} skipped"]
    if s["flagged"]:
        lines.append("flagged: " + ", ".join(f"{k} {v}" for k, v in s["flagged"].items()))
    if s["skipped"]:
        lines.append("skipped: " + ", ".join(f"{k} {v}" for k, v in s["skipped"].items()))
    if s["catalog_rows"]:
        lines.append(f"catalogue: {s['catalog_rows']} rows, "
                     f"{s['catalog_rows_without_lightcurve']} without light curve (not stored), "
                     f"{s['objects_without_catalog_row']} objects without a row")
    lines += [f"  {p}" for p in s["problems"]]
    if s["problems_not_listed"]:
        lines.append(f"  ... {s['problems_not_listed']} more (see --report FILE)")
    lines.append(f"time: {s['elapsed_s']} s ({s['files_per_s']} files/s)")
    return "\n".join(lines)
