"""``pvsvet-engine bench gp|vae|forest|anomaly|knn|fetch|real|incremental|all``: the benchmarks of DESIGN.md section 7.

Each benchmark is a module here with ``configure(parser)`` (extra options) and
``run(args) -> dict`` (the figures). The dict is printed as JSON with ``--json``,
else as ``key: value`` lines.
"""
from __future__ import annotations

import argparse
import importlib
import json
import platform
import time

import numpy as np

NAMES = ("gp", "vae", "forest", "anomaly", "knn", "gui", "fetch", "real", "incremental",
         "all")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench", metavar="NAME", required=True)
    for name in NAMES:
        try:
            module = importlib.import_module(f"engine.benchmarks.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"engine.benchmarks.{name}":
                raise
            continue
        p = sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0].replace("%", "%%"))
        p.add_argument("--n", type=int, default=None, help="number of objects")
        p.add_argument("--json", action="store_true", help="print the figures as JSON")
        p.add_argument("--out", default="", help="also write the JSON to this file")
        module.configure(p)


def machine() -> dict:
    import os
    return {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version()}


def _default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def cli(args: argparse.Namespace) -> int:
    module = importlib.import_module(f"engine.benchmarks.{args.bench}")
    t0 = time.perf_counter()
    result = {"benchmark": args.bench, **machine(), **module.run(args)}
    result["bench_wall_s"] = round(time.perf_counter() - t0, 2)
    text = json.dumps(result, indent=2, default=_default)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    if args.json:
        print(text)
    else:
        for key, val in result.items():
            print(f"{key}: {json.dumps(val, default=_default)}")
    return 0
