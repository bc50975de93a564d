"""``pvsvet-engine run STORE``: run the stale stages of the pipeline.

The settings come from ``--config TOML`` (then saved in the store, so a later
``run`` without ``--config`` uses the same ones), else from the settings saved by
the last ``--config`` run, else the defaults. ``--workers``, ``--scheduler`` and
``--dask-local`` choose where chunked stages run and never make a stage stale.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging

from . import config as C

logger = logging.getLogger(__name__)

#: Key of the pipeline settings inside the store's ``/meta`` config JSON.
META_KEY = "run"


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
    parser.add_argument("--dry-run", action="store_true",
                        help="only say which stages are stale and why")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def resolve_config(store_path, config_path: str | None) -> tuple[C.Config, str]:
    """The settings of a run and where they came from (``"file"``, ``"store"``, ``"defaults"``)."""
    from .store import Store

    if config_path:
        return C.load(config_path), "file"
    with Store(store_path, "r") as store:
        saved = store.meta["config"].get(META_KEY)
    if saved:
        return C.from_dict(saved, f"{store_path} (settings saved by an earlier run)"), "store"
    return C.Config(), "defaults"


def save_config(store_path, cfg: C.Config) -> None:
    """Keep the settings in ``/meta`` so the next ``run`` without ``--config`` reuses them."""
    from .store import Store

    with Store(store_path, "a") as store:
        meta_cfg = store.meta["config"]
        meta_cfg[META_KEY] = C.to_dict(cfg)
        store.set_config(meta_cfg)


def apply_overrides(cfg: C.Config, args: argparse.Namespace) -> C.Config:
    """Command-line executor options override ``[pipeline]``."""
    p = cfg.pipeline
    if args.workers is not None:
        p = dataclasses.replace(p, workers=args.workers)
    if args.scheduler:
        p = dataclasses.replace(p, scheduler=args.scheduler, dask_local=0)
    if args.dask_local:
        p = dataclasses.replace(p, dask_local=args.dask_local, scheduler="")
    return dataclasses.replace(cfg, pipeline=p)


def cli_run(args: argparse.Namespace) -> int:
    from .pipeline import plan, run_pipeline
    from .progress import drive

    cfg, source = resolve_config(args.store, args.config)
    cfg = apply_overrides(cfg, args)
    if args.dry_run:
        states = plan(args.store, cfg, args.stages, force=args.force)
        rows = [{"stage": s.name, "stale": s.stale, "reason": s.reason} for s in states]
        if args.json:
            print(json.dumps({"settings": source, "stages": rows}, indent=2))
        else:
            for r in rows:
                print(f"{r['stage']:12s} {'stale' if r['stale'] else 'fresh'}: {r['reason']}")
        return 0
    if source == "file":
        save_config(args.store, cfg)
    logger.info("settings from %s", source)
    gen = run_pipeline(args.store, cfg, args.stages, force=args.force)
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
