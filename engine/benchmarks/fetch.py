"""fetch: read a generated ZTF DR light-curve HATS catalogue with lsdb (objects per second).

A synthetic catalogue in the ZTF DR layout (one row per DR object and band:
``objectid``, ``filterid``, ``fieldid``, ``rcid``, ``objra``, ``objdec``, ``nepochs``
and list columns ``hmjd``, ``mag``, ``magerr``, ``catflags``) is written with
lsdb/hats, ``n`` stars are queued (a fraction with a second g object, as Chen
merged), and ``fetch lightcurves --hats`` is timed on a dask LocalCluster.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster workers")
    parser.add_argument("--epochs", type=int, default=40, help="points per object and band")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", default="", help="where to write the catalogue (default: temp)")


def synthetic_ztf(n_stars: int, epochs: int = 40, seed: int = 0, split: float = 0.2):
    """DR object rows of ``n_stars`` stars (pandas) and their queue rows.

    Each star has a g and an r object; a fraction ``split`` has a second g object
    from another field (the oids Chen et al. merged). Positions scatter by < 0.3".
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    # stars far apart (>= ~20" on a jittered grid) so each cone holds one star
    ra = rng.uniform(0, 360, n_stars)
    dec = np.degrees(np.arcsin(rng.uniform(-0.3, 0.9, n_stars)))
    star = np.concatenate([np.arange(n_stars), np.arange(n_stars),
                           np.flatnonzero(rng.random(n_stars) < split)])
    m = len(star)
    fid = np.concatenate([np.ones(n_stars, int), np.full(n_stars, 2),
                          np.ones(m - 2 * n_stars, int)])
    jitter = rng.normal(0, 0.1 / 3600, (2, m))
    t0 = 58200 + rng.uniform(0, 900, (m, 1))
    hmjd = np.sort(t0 + rng.uniform(0, 900, (m, epochs)), axis=1)
    mag = (15 + rng.normal(0, 0.3, (m, epochs))).astype("f4").astype("f8")
    err = rng.uniform(0.01, 0.05, (m, epochs)).astype("f4").astype("f8")
    flags = np.where(rng.random((m, epochs)) < 0.05, 32768, 0)
    frame = pd.DataFrame({
        "objectid": 600000000000000 + np.arange(m, dtype="i8") * 7, "filterid": fid,
        "fieldid": 600 + fid, "rcid": np.zeros(m, int),
        "objra": ra[star] + jitter[0] / np.cos(np.radians(dec[star])),
        "objdec": dec[star] + jitter[1], "nepochs": np.full(m, epochs)})
    for name, arr in (("hmjd", hmjd), ("mag", mag), ("magerr", err), ("catflags", flags)):
        frame[name] = list(arr)
    rows = [{"id": f"Z{i}", "name": "", "ra": float(ra[i]), "dec": float(dec[i]),
             "period": 0.5 + (i % 7), "class": "RR"} for i in range(n_stars)]
    return frame, rows


def write_hats(frame, path: str | Path) -> str:
    """Write ``frame`` as a HATS catalogue (lsdb's own writer) and return the path."""
    import lsdb

    cat = lsdb.from_dataframe(frame, ra_column="objra", dec_column="objdec",
                              catalog_name="ztf_lc")
    write = getattr(cat, "write_catalog", None) or cat.to_hats   # to_hats: lsdb < 0.7.3
    write(str(path), overwrite=True)
    return str(path)


def run(args: argparse.Namespace) -> dict:
    from ..ingest.fetch_hats import fetch_hats
    from ..ingest.fetch_queue import FetchQueue
    from ..progress import drive

    n = args.n or 100_000
    with tempfile.TemporaryDirectory(dir=args.dir or None) as tmp:
        t0 = time.perf_counter()
        frame, rows = synthetic_ztf(n, args.epochs, args.seed)
        hats = write_hats(frame, Path(tmp) / "ztf_hats")
        t_write = time.perf_counter() - t0
        store = Path(tmp) / "bench.h5"
        with FetchQueue(store) as q:
            q.add(rows)
        t1 = time.perf_counter()
        summary = drive(fetch_hats(store, hats, dask_local=args.workers), show=False)
        wall = time.perf_counter() - t1
    return {"n_objects": n, "n_dr_objects": len(frame), "points_per_object_band": args.epochs,
            "dask_workers": args.workers, "write_hats_s": round(t_write, 2),
            "fetch_s": round(wall, 2), "crossmatch_s": summary["crossmatch_seconds"],
            "objects_per_s": round(n / wall, 1), "stored": summary["done"],
            "failed": summary["failed"]}
