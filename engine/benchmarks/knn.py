"""k nearest neighbours in the latent space: index build and per-query time at N objects.

Times :class:`engine.neighbours.NeighbourIndex` (scipy cKDTree) on the latent means of
``--store``, or on N standard-normal 10-D means (the VAE prior: the hardest case for a
k-d tree, as nothing clusters). Target (issue 17): <= 20 ms per query at 730k objects.
The same figures, on the GUI benchmark's store, come with ``pvsvet --bench``.
"""
from __future__ import annotations

import argparse

import numpy as np

from ..neighbours import NeighbourIndex, brute_force, latent_means, query_seconds


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", default="", help="time the latent means of this store")
    parser.add_argument("--k", type=int, default=15, help="neighbours per query")
    parser.add_argument("--queries", type=int, default=500, help="random queries timed")
    parser.add_argument("--dim", type=int, default=10, help="latent dimensions (generated)")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> dict:
    if args.store:
        x = latent_means(args.store)
        source = args.store
    else:
        n = args.n or 730000
        x = np.random.default_rng(args.seed).standard_normal((n, args.dim)).astype("f4")
        source = f"{n} x {args.dim} standard normal (the VAE prior)"
    index = NeighbourIndex().fit(x)
    q = query_seconds(index, args.k, args.queries, args.seed) * 1e3
    row = int(index.rows_[len(index.rows_) // 2])
    same = np.array_equal(index.query(row, args.k)[0], brute_force(x, row, args.k)[0])
    return {"source": source, "n_objects": int(len(x)), "n_indexed": int(len(index.rows_)),
            "k": args.k, "build_s": round(index.build_seconds_, 3),
            "query_ms_median": round(float(np.median(q)), 3),
            "query_ms_p95": round(float(np.percentile(q, 95)), 3),
            "query_ms_max": round(float(q.max()), 3), "queries": int(len(q)),
            "equals_brute_force": bool(same), "target_query_ms": 20.0}
