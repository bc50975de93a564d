"""Nearest neighbours in the VAE latent space: "which stars look like this one?".

The index is a scipy ``cKDTree`` over the latent means (``/vae/mu``), built once per
store (about a second at 730k objects) and queried per selection in well under a
millisecond for a dozen neighbours. Distances are Euclidean in the latent space, the
space the paper's Cartesian forest scores (the latent means, no period or colour), so
two curves are neighbours when the VAE encodes their shapes alike. Rows whose means are
not finite (never encoded) are left out of the index and have no neighbours.
"""
from __future__ import annotations

import logging
import time

import numpy as np

from .errors import PvsvetError

logger = logging.getLogger(__name__)


class NeighbourIndex:
    """k-nearest-neighbour index of the rows of a feature matrix (estimator-shaped).

    Parameters
    ----------
    leafsize : int
        cKDTree leaf size (scipy's default 16 is near the fastest for 10 dimensions).

    Attributes (after :meth:`fit`)
    ------------------------------
    rows_ : ndarray of int64, the store rows in the index (finite features only)
    build_seconds_ : float
    """

    def __init__(self, leafsize: int = 16):
        self.leafsize = leafsize

    def fit(self, features: np.ndarray) -> "NeighbourIndex":
        from scipy.spatial import cKDTree

        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2:
            raise PvsvetError(f"neighbours: features must be 2-D, got shape {x.shape}")
        t0 = time.perf_counter()
        ok = np.isfinite(x).all(axis=1)
        self.n_rows_ = len(x)
        self.rows_ = np.flatnonzero(ok)
        self._x = x[ok]
        self._tree = cKDTree(self._x, leafsize=self.leafsize, balanced_tree=False)
        self.build_seconds_ = time.perf_counter() - t0
        return self

    def query(self, row: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest other rows to ``row`` (store rows, distances; nearest first).

        Empty arrays when ``row`` has no finite features. Ties are broken by the tree.
        """
        if not hasattr(self, "_tree"):
            raise PvsvetError("neighbours: the index is not built (call fit first)")
        pos = np.searchsorted(self.rows_, row)
        if pos >= len(self.rows_) or self.rows_[pos] != row or k < 1:
            return np.empty(0, np.int64), np.empty(0)
        kk = min(k + 1, len(self.rows_))
        dist, idx = self._tree.query(self._x[pos], k=kk)
        dist, idx = np.atleast_1d(dist), np.atleast_1d(idx)
        keep = idx != pos                   # the object itself (distance 0) is no neighbour
        return self.rows_[idx[keep]][:k], dist[keep][:k]


def brute_force(features: np.ndarray, row: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The same answer as :meth:`NeighbourIndex.query` by computing every distance
    (the reference the index is tested against)."""
    x = np.asarray(features, dtype=np.float64)
    ok = np.isfinite(x).all(axis=1)
    if not ok[row]:
        return np.empty(0, np.int64), np.empty(0)
    d = np.sqrt(((x - x[row]) ** 2).sum(axis=1))
    d[~ok] = np.inf
    d[row] = np.inf
    order = np.argsort(d, kind="stable")[:k]
    order = order[np.isfinite(d[order])]
    return order.astype(np.int64), d[order]


def latent_means(store_path) -> np.ndarray:
    """``/vae/mu`` of a store, (N, latent_dim) float32; a clear error when not encoded."""
    from .store import Store

    with Store(store_path, "r") as st:
        if not st.has("vae/mu"):
            raise PvsvetError(f"{st.path}: no latent means (/vae/mu); run encode first")
        return np.asarray(st.read("vae/mu"), dtype=np.float32)[:st.n_objects]


def query_seconds(index: NeighbourIndex, k: int = 15, n_queries: int = 200,
                  seed: int = 0) -> np.ndarray:
    """Wall time of ``n_queries`` queries of random indexed rows (for the benchmark)."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(index.rows_, size=min(n_queries, len(index.rows_)), replace=False)
    out = np.empty(len(rows))
    for i, row in enumerate(rows):
        t0 = time.perf_counter()
        index.query(int(row), k)
        out[i] = time.perf_counter() - t0
    return out
