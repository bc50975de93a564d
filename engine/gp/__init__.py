"""Interpolation stage (paper section 2.1): fold, 2-D GP, scale, split.

``interpolate(store_path, cfg, executor=None)`` is the stage generator (see
:mod:`engine.gp.stage`); ``--method george`` is the paper's george reference
(:mod:`engine.gp.george_ref`), ``--method fast`` (default) the same model in batched
weight space (:mod:`engine.gp.fast`). Heavy imports (george, scipy.optimize) happen in
the functions that use them.
"""
from __future__ import annotations

import argparse
import json
import logging

from .stage import interpolate, make_split

logger = logging.getLogger(__name__)

__all__ = ["interpolate", "make_split", "configure_interpolate", "cli_interpolate"]


def configure_interpolate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", metavar="STORE", help="the pvsvet store (HDF5)")
    parser.add_argument("--method", choices=("fast", "george"), default=None,
                        help="fast (default): batched weight-space GP; george: the paper's reference")
    parser.add_argument("--workers", type=int, default=None, help="worker processes")
    parser.add_argument("--chunk-size", type=int, default=None,
                        help="objects per resumable chunk")
    parser.add_argument("--config", default="", help="TOML file; its [interp] table is used")
    parser.add_argument("--force", action="store_true",
                        help="interpolate again even when /interp is up to date")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def cli_interpolate(args: argparse.Namespace) -> int:
    from ..config import resolve
    from ..progress import drive

    flags = {"method": args.method, "workers": args.workers, "chunk_size": args.chunk_size}
    cfg = resolve(args.store, args.config or None, {"interp": flags}).config.interp
    result = drive(interpolate(args.store, cfg, force=args.force), show=not args.json)
    if args.json:
        print(json.dumps(result, default=str))
    elif "skipped" in result:
        print(f"{args.store}: interpolate {result['skipped']}; use --force to rerun")
    else:
        print(f"interpolated {result['n_ok']} of {result['n']} objects with {cfg.method} "
              f"({result['n_failed']} failed, {result['n_unphysical']} unphysical, "
              f"{result['n_not_interpolated']} not interpolated) in {result['seconds']:.1f} s")
    return 0
