"""GUI: moved to ``pvsvet --bench --n N`` (the engine never starts the GUI).

The GUI benchmark (start-up, selection latency, neighbour query on an N-object store)
runs the GUI, so it belongs to the pvsvet package: ``pvsvet --bench --n 730000``.
The neighbour index alone, headless, is ``pvsvet-engine bench knn``.
"""
from __future__ import annotations

import argparse

from ..errors import PvsvetError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", default="", help="(moved: see pvsvet --bench --help)")


def run(args: argparse.Namespace) -> dict:
    n = args.n or 730000
    raise PvsvetError(f"bench gui moved to the GUI package: run pvsvet --bench --n {n} "
                      "(the engine never starts the GUI); the neighbour index alone is "
                      f"pvsvet-engine bench knn --n {n}")
