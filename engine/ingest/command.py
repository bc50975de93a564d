"""``pvsvet-engine ingest``: read a catalogue and light-curve files into a store."""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging

from ..config import IngestConfig
from ..errors import IngestError
from .catalog import parse_mapping
from .formats import FORMATS

logger = logging.getLogger(__name__)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="the store (HDF5); created when missing, else appended to")
    parser.add_argument("--catalog", default=None,
                        help="catalogue with periods and classes: Chen Table2 text, or "
                        "CSV/ECSV/VOTable/FITS/parquet (optional when the light-curve "
                        "files carry id and coordinates)")
    parser.add_argument("--catalog-format", default="auto",
                        choices=("auto", "chen-table2", "table"))
    parser.add_argument("--columns", default="",
                        help="catalogue column mapping, e.g. id=Num,period=Per,class=Type"
                        ",ra=RA,dec=Dec (keys: id key name period logperiod class ra dec)")
    parser.add_argument("--class-map", default="",
                        help="rename catalogue classes, e.g. ab=RR,c=RRc")
    parser.add_argument("--lightcurves", nargs="+", required=True, metavar="PATH",
                        help="light-curve files, directories or glob patterns")
    parser.add_argument("--format", dest="fmt", default="auto", choices=("auto",) + FORMATS,
                        help="light-curve format (auto: sniffed per file)")
    parser.add_argument("--unmatched", default="keep", choices=("keep", "skip"),
                        help="objects without a catalogue row: keep (flagged BAD_PERIOD) "
                        "or skip")
    defaults = IngestConfig()
    parser.add_argument("--snr-g", type=float, default=defaults.snr_g,
                        help="quality cut: a detection at this S/N in g (default %(default)s)")
    parser.add_argument("--snr-r", type=float, default=defaults.snr_r,
                        help="quality cut: a detection at this S/N in r (default %(default)s)")
    parser.add_argument("--min-points", type=int, default=defaults.min_points,
                        help="fewer points in g or r flags FEW_POINTS (default %(default)s)")
    parser.add_argument("--catflags-mask", type=lambda s: int(s, 0),
                        default=defaults.catflags_mask,
                        help="ZTF DR rows with catflags & MASK != 0 are dropped "
                        "(default 0xFFFF: keep catflags == 0 only)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size,
                        help="objects per append to the store (default %(default)s)")
    parser.add_argument("--report", default=None, metavar="FILE",
                        help="write every message (flags, skips, unreadable files) as TSV")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def cli(args: argparse.Namespace) -> int:
    from ..progress import drive
    from .report import format_summary
    from .stage import ingest

    cfg = dataclasses.replace(IngestConfig(), snr_g=args.snr_g, snr_r=args.snr_r,
                              min_points=args.min_points, catflags_mask=args.catflags_mask,
                              batch_size=max(1, args.batch_size))
    gen = ingest(args.store, args.catalog, args.lightcurves, args.fmt,
                 parse_mapping(args.columns, "--columns"),
                 parse_mapping(args.class_map, "--class-map"), args.catalog_format, cfg,
                 args.unmatched, args.report)
    summary = drive(gen, show=not (args.quiet or args.json))
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    if not summary.get("objects_read"):
        # nothing was readable: a failure, not an empty success (scripts check the code)
        if summary.get("files_failed"):
            first = (summary.get("problems") or ["?"])[0]
            raise IngestError(f"none of the {summary['files_failed']} light-curve files "
                              f"could be read (first: {first})")
        raise IngestError(f"{' '.join(args.lightcurves)}: the light-curve files hold no "
                          "objects (no data rows)")
    return 0
