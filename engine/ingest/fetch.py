"""``pvsvet-engine fetch``: the CPVS and its ZTF light curves, from nothing.

``fetch catalog STORE``  queue CPVS rows (VizieR or a local Table2 file)
``fetch lightcurves STORE``  download their ZTF DR light curves into the store
``fetch status STORE``  what is queued, done and failed (with the reasons)
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging

logger = logging.getLogger(__name__)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="what", metavar="WHAT", required=True)
    cat = sub.add_parser("catalog", help="queue CPVS rows (Chen et al. 2020) for a store")
    cat.add_argument("store", help="the store (HDF5); created when missing")
    cat.add_argument("--classes", nargs="+", default=[], metavar="C",
                     help="Chen types to keep (e.g. Mira SR); default all")
    cat.add_argument("--region", nargs=3, type=float, metavar=("RA", "DEC", "RADIUS"),
                     help="a cone, deg (ICRS)")
    cat.add_argument("--max-mag", type=float, help="r-band mean magnitude limit (mag)")
    cat.add_argument("--limit", type=int, help="at most this many rows")
    cat.add_argument("--table", default=None, metavar="FILE",
                     help="a local copy of Table2 (or a VizieR export) instead of VizieR")
    cat.add_argument("--server", default=None, help="VizieR host (default astroquery's)")
    cat.add_argument("--json", action="store_true")
    lc = sub.add_parser("lightcurves", help="fetch ZTF DR light curves of queued objects")
    lc.add_argument("store")
    d = _lc_defaults()
    lc.add_argument("--release", default=d.release, metavar="DRn",
                    help="ZTF data release (default: the service's latest)")
    lc.add_argument("--workers", type=int, default=d.workers,
                    help="requests in flight (default %(default)s)")
    lc.add_argument("--rate", type=float, default=d.rate,
                    help="requests per second, all workers (default %(default)s)")
    lc.add_argument("--retries", type=int, default=d.retries)
    lc.add_argument("--timeout", type=float, default=d.timeout, help="seconds per request")
    lc.add_argument("--batch", type=int, default=d.batch, help="objects per store append")
    lc.add_argument("--max-seconds", type=float, default=d.max_seconds, metavar="S",
                    help="stop starting batches after S seconds; the rest stays queued "
                         "(default: no bound)")
    lc.add_argument("--url", default=d.url, help="the IRSA light-curve service")
    lc.add_argument("--retry-failed", action="store_true", help="try failed objects again")
    lc.add_argument("--hats", default=None, metavar="PATH_OR_URL",
                    help="read a ZTF DR light-curve HATS catalogue with lsdb instead of IRSA's "
                    "per-object service")
    lc.add_argument("--dask-local", type=int, default=2,
                    help="--hats: LocalCluster workers (default %(default)s)")
    lc.add_argument("--scheduler", default="", help="--hats: a running dask scheduler")
    lc.add_argument("--json", action="store_true")
    lc.add_argument("--quiet", action="store_true")
    st = sub.add_parser("status", help="queued, done and failed objects")
    st.add_argument("store")
    st.add_argument("--json", action="store_true")


def _lc_defaults():
    from .fetch_lightcurves import FetchConfig

    return FetchConfig()


def cli(args: argparse.Namespace) -> int:
    if args.what == "catalog":
        out = _catalog(args)
    elif args.what == "lightcurves":
        out = _lightcurves(args)
    else:
        from .fetch_queue import FetchQueue

        with FetchQueue(args.store) as q:
            out = q.summary()
    print(json.dumps(out, indent=2) if args.json else _text(out))
    return 0


def _catalog(args) -> dict:
    from ..store import Store
    from ..workcache import stage_lock
    from .fetch_catalog import Region, fetch_catalog
    from .fetch_queue import FetchQueue

    region = Region(*args.region) if args.region else None
    cat, features = fetch_catalog(args.table, args.classes, region, args.max_mag, args.limit,
                                  args.server)
    rows = [{"id": str(cat.id[i]), "name": str(cat.name[i]), "ra": float(cat.ra[i]),
             "dec": float(cat.dec[i]), "period": float(cat.period[i]),
             "class": str(cat.cls[i]), **{k: float(v[i]) for k, v in features.items()}}
            for i in range(len(cat))]
    with stage_lock(args.store, "fetch catalog"):
        Store.open_or_create(args.store).close()
        with FetchQueue(args.store) as q:
            added = q.add(rows)
            q.set_info("catalog", cat.path)
            out = q.summary()
    out.pop("failures")
    out.update(rows=len(rows), added=added, source=cat.path)
    return out


def _lightcurves(args) -> dict:
    from ..progress import drive
    from .fetch_lightcurves import FetchConfig, fetch_lightcurves

    cfg = dataclasses.replace(FetchConfig(), url=args.url, release=args.release,
                              workers=max(1, args.workers), rate=args.rate,
                              retries=max(0, args.retries), timeout=args.timeout,
                              batch=max(1, args.batch), max_seconds=args.max_seconds)
    if args.hats:
        from .fetch_hats import fetch_hats

        gen = fetch_hats(args.store, args.hats, cfg, args.retry_failed,
                         scheduler=args.scheduler, dask_local=args.dask_local)
    else:
        gen = fetch_lightcurves(args.store, cfg, args.retry_failed)
    return drive(gen, show=not (args.quiet or args.json))


def _text(out: dict) -> str:
    lines = [f"{k}: {v}" for k, v in out.items() if k != "failures"]
    for f in out.get("failures", [])[:50]:
        lines.append(f"  failed {f['id']}: {f['reason']}")
    return "\n".join(lines)
