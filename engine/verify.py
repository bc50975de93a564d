"""``pvsvet-engine verify STORE [--json]``: which groups of a store are intact.

Reads every dataset of the store whole, so HDF5 checks the Fletcher-32 checksum of
every chunk and the checksums of the file's metadata, and compares the ``/meta``
digest (see :mod:`engine.store`). Exit code 0 when nothing is damaged, 1 otherwise.
Stores written before checksums existed are read and reported "not checksummed".
"""
from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from .schema import INGESTED, REWRITTEN_BY
from .store import integrity_report

logger = logging.getLogger(__name__)


def damaged_groups(report: dict[str, Any]) -> list[str]:
    return [g for g, r in report["groups"].items() if r["state"] == "damaged"]


def format_text(report: dict[str, Any]) -> str:
    lines = [f"{report['store']}: {report.get('format', '')}"
             + ("" if report.get("metadata_checksums", True)
                else " (file metadata not checksummed)")]
    for name, rep in report["groups"].items():
        detail = f"  {rep['detail']}" if rep["detail"] else ""
        fix = ""
        if rep["state"] == "damaged":
            stage = REWRITTEN_BY.get(name.split("/")[0])
            fix = (f"  -> rerun {stage} --force" if stage and name.split("/")[0] not in INGESTED
                   else "  -> restore from a copy")
        lines.append(f"  /{name.strip('/'):<22} {rep['state']}{detail}{fix}")
    bad = damaged_groups(report)
    lines.append(f"{len(bad)} damaged: " + ", ".join(f"/{b}" for b in bad) if bad
                 else "no damage found")
    return "\n".join(lines)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="the pvsvet store (.h5)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def cli(args: argparse.Namespace) -> int:
    report = integrity_report(args.store)
    print(json.dumps(report, indent=2) if args.json else format_text(report))
    return 1 if damaged_groups(report) else 0
