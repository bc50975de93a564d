"""``pvsvet-engine run STORE``: run the stale stages of the pipeline.

Settings are resolved by :func:`engine.config.resolve`: the science settings come
from ``--config TOML`` (then saved in the store, so a later ``run`` without
``--config`` uses the same ones), else from the settings saved in the store, else
the defaults. Machine settings (``--workers``, ``--scheduler``, ``--dask-local``,
servers, paths) come from this machine only, never from the store, and never make a
stage stale.
"""
from __future__ import annotations

import argparse
import json
import logging

from . import config as C

logger = logging.getLogger(__name__)

def configure_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="the pvsvet store (HDF5)")
    parser.add_argument("--stages", default=None,
                        help="comma-separated stages to consider (default: interpolate,train,"
                             "encode,score,context)")
    parser.add_argument("--config", default=None, metavar="TOML",
                        help="settings file ([interp], [vae], [score], [context], [pipeline])")
    parser.add_argument("--workers", type=int, default=None,
                        help="local worker processes for interpolation and encoding")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="run chunks on an existing dask.distributed cluster "
                            "(e.g. tcp://host:8786)")
    where.add_argument("--dask-local", type=int, default=None, metavar="N",
                       help="start a dask LocalCluster of N worker processes")
    parser.add_argument("--force", action="store_true",
                        help="rerun the selected stages even when up to date")
    parser.add_argument("--new-only", action="store_true",
                        help="only interpolate, encode and score the objects appended since "
                             "the store was scored, with the trained model and the fitted "
                             "forests (no retraining; see engine/incremental.py)")
    parser.add_argument("--dry-run", action="store_true",
                        help="only say which stages are stale and why")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def flag_overrides(args: argparse.Namespace) -> dict[str, dict]:
    """Command-line executor options, as overrides of ``[pipeline]`` (validated by resolve)."""
    pipeline = {"workers": args.workers}
    if args.scheduler is not None:
        pipeline.update(scheduler=args.scheduler, dask_local=0)
    if args.dask_local is not None:
        pipeline.update(dask_local=args.dask_local, scheduler="")
    return {"pipeline": pipeline}


def cli_run(args: argparse.Namespace) -> int:
    from .pipeline import plan, run_pipeline
    from .progress import drive

    resolved = C.resolve(args.store, args.config, flag_overrides(args))
    cfg, source = resolved.config, resolved.source
    if args.new_only:
        return _cli_new_only(args, cfg)
    if args.dry_run:
        states = plan(args.store, cfg, args.stages, force=args.force)
        rows = [{"stage": s.name, "stale": s.stale, "reason": s.reason} for s in states]
        if args.json:
            print(json.dumps({"settings": source, "stages": rows}, indent=2))
        else:
            for r in rows:
                print(f"{r['stage']:12s} {'stale' if r['stale'] else 'fresh'}: {r['reason']}")
        return 0
    logger.info("settings from %s", source)
    gen = run_pipeline(args.store, cfg, args.stages, force=args.force,
                       save_settings=source == "file")
    result = drive(gen, show=not args.quiet, steps=("pipeline",))
    summary = {"store": str(args.store), "settings": source, "ran": result["ran"],
               "skipped": result["skipped"], "seconds": result["seconds"]}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for name in result["ran"]:
            print(f"{name}: done in {result['seconds'][name]:.1f} s")
        if result["skipped"]:
            print(f"up to date, skipped: {', '.join(result['skipped'])}")
    return 0


def _cli_new_only(args: argparse.Namespace, cfg: C.Config) -> int:
    from .incremental import plan_new_only, run_new_only
    from .progress import drive

    if args.dry_run:
        result = plan_new_only(args.store, cfg)
    else:
        result = drive(run_new_only(args.store, cfg), show=not args.quiet)
    if args.json:
        print(json.dumps({"store": str(args.store), **result}, indent=2))
        return 0
    verb = "to score" if args.dry_run else "scored"
    print(f"{result['new_rows']} new objects {verb} with the model and forests fitted on "
          f"{result['fitted_rows']} rows")
    if result.get("advice"):
        print(result["advice"])
    return 0
