"""GUI: start-up to a usable window and selection latency on an N-object store (offscreen).

Runs ``python -m pvsvet.bench`` in subprocesses (the engine never imports Qt): one
builds a store of N synthetic objects with every group filled (or ``--store``
reuses one), one measures. Targets (DESIGN.md section 7): start-up <= 2 s,
a selection updates all panes in <= 50 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..errors import PvsvetError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", default="", help="reuse this store (built there if missing)")
    parser.add_argument("--selections", type=int, default=50, help="random selections timed")
    parser.add_argument("--repeat", type=int, default=3,
                        help="start-up measurements (the median is reported)")
    parser.add_argument("--keep", action="store_true", help="keep the built store")


def _child(args: list[str], out: Path, timeout: float) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    cmd = [sys.executable, "-m", "pvsvet.bench", *args, "--json-out", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise PvsvetError(f"bench gui: '{' '.join(args[:1])}' failed: {' | '.join(tail)}")
    return json.loads(out.read_text())


def run(args: argparse.Namespace) -> dict:
    n = args.n or 730000
    tmp = tempfile.mkdtemp(prefix="pvsvet-bench-gui-")
    store = Path(args.store) if args.store else Path(tmp) / f"gui-{n}.h5"
    result: dict = {"store": str(store)}
    try:
        if not store.exists():
            result.update(_child(["build", "--store", str(store), "--n", str(n)],
                                 Path(tmp) / "build.json", 3600))
        runs = []
        for i in range(max(1, args.repeat)):
            t0 = time.time()
            runs.append(_child(["measure", "--store", str(store), "--t0", repr(t0),
                                "--selections", str(args.selections)],
                               Path(tmp) / f"measure{i}.json", 600))
        best = sorted(runs, key=lambda r: r["startup_s"])[len(runs) // 2]
        result.update(best)
        result["startup_s_all"] = [r["startup_s"] for r in runs]
        result["selection_ms_median_all"] = [r["selection_ms_median"] for r in runs]
        return result
    finally:
        if not args.store and not args.keep:
            store.unlink(missing_ok=True)
        for f in Path(tmp).glob("*.json"):
            f.unlink()
        if not any(Path(tmp).iterdir()):
            os.rmdir(tmp)
