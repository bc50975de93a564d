"""Isolation forest: scikit-learn fit, exact fast scoring of the fitted trees.

:class:`FastIsolationForest` fits a real :class:`sklearn.ensemble.IsolationForest`
and scores with :func:`engine.anomaly._kernels.path_sums`, which walks the same
fitted trees (padded to full depth) and reproduces scikit-learn's ``score_samples``
to rounding (tested): only the traversal is faster (about 2x per core, and both
cores are used), which is what a 730k x 5,000-tree scoring spends its time on.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Generator, Iterator

import numpy as np

logger = logging.getLogger(__name__)


def average_path_length(n) -> np.ndarray:
    """c(n) of Liu et al. (2008): mean path length of an unsuccessful BST search.

    ``c(n) = 2 (ln(n-1) + gamma) - 2 (n-1)/n`` for n > 2, 1 for n = 2, 0 for n <= 1
    (scikit-learn's ``_average_path_length``).
    """
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    big = n > 2
    out[n == 2] = 1.0
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


@dataclass
class PaddedForest:
    """Fitted trees as complete binary trees of one depth (see ``_kernels``).

    Attributes
    ----------
    feat : ndarray (T, 2**depth - 1), int32
    thr : ndarray (T, 2**depth - 1), float32
    leaf : ndarray (T, 2**depth), float64; leaf depth + c(samples in leaf)
    depth : int
    """

    feat: np.ndarray
    thr: np.ndarray
    leaf: np.ndarray
    depth: int

    @property
    def n_trees(self) -> int:
        return self.feat.shape[0]


def _float32_at_or_below(t: np.ndarray) -> np.ndarray:
    """Largest float32 <= t: for float32 x, ``x <= t`` iff ``x <= result`` (exact)."""
    t32 = t.astype(np.float32)
    over = t32.astype(np.float64) > t
    t32[over] = np.nextafter(t32[over], np.float32(-np.inf))
    return t32


def compile_forest(model) -> PaddedForest:
    """Pad every tree of a fitted scikit-learn ``IsolationForest`` to full depth.

    All trees are processed together, level by level, on concatenated node arrays.
    """
    trees = [e.tree_ for e in model.estimators_]
    depth = max(1, max(t.max_depth for t in trees))
    sizes = np.array([t.node_count for t in trees])
    base = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    cat = lambda name: np.concatenate([getattr(t, name) for t in trees])  # noqa: E731
    left, right = cat("children_left"), cat("children_right")
    left = np.where(left >= 0, left + np.repeat(base, sizes), -1)
    right = np.where(right >= 0, right + np.repeat(base, sizes), -1)
    threshold, n_samples = cat("threshold"), cat("n_node_samples")
    # trees index the features of their bag; map to columns of X (leaves have -2)
    feature = np.concatenate([np.asarray(f)[np.maximum(t.feature, 0)]
                              for t, f in zip(trees, model.estimators_features_)])
    n_trees, n_int = len(trees), 2 ** depth - 1
    feat = np.zeros((n_trees, n_int), np.int32)
    thr = np.zeros((n_trees, n_int), np.float32)
    nodes = base.copy()[:, None]
    dep = np.zeros_like(nodes)
    for d in range(depth):
        is_leaf = left[nodes] < 0
        cols = slice(2 ** d - 1, 2 ** (d + 1) - 1)
        feat[:, cols] = np.where(is_leaf, 0, feature[nodes])
        thr[:, cols] = np.where(is_leaf, np.float32(np.inf),
                                _float32_at_or_below(np.where(is_leaf, 0.0, threshold[nodes])))
        nxt_l = np.where(is_leaf, nodes, left[nodes])
        nxt_r = np.where(is_leaf, nodes, right[nodes])
        nodes = np.stack([nxt_l, nxt_r], axis=-1).reshape(n_trees, -1)
        dep = np.repeat(np.where(is_leaf, dep, dep + 1), 2, axis=1)
    leaf = dep + average_path_length(n_samples[nodes])
    return PaddedForest(feat, thr, leaf, depth)


class FastIsolationForest:
    """scikit-learn's isolation forest with exact, faster scoring.

    Parameters
    ----------
    n_estimators : int
        Number of trees.
    max_samples : int
        Rows drawn (without replacement) to grow each tree; capped at the data size.
    random_state : int
        Seed of scikit-learn's forest.
    n_jobs : int
        Threads of the scoring kernel.
    block : int
        Samples per scoring task.
    """

    def __init__(self, n_estimators: int = 5000, max_samples: int = 256, random_state: int = 0,
                 n_jobs: int = 1, block: int = 512):
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.block = block

    def fit(self, X: np.ndarray) -> "FastIsolationForest":
        for _ in self.fit_steps(X):
            pass
        return self

    def fit_steps(self, X: np.ndarray, batch: int = 250) -> Iterator[int]:
        """Fit, yielding the number of trees grown after each batch of ``batch`` trees.

        scikit-learn's ``warm_start`` adds trees with the seeds a one-shot fit would
        use, so the forest is the same whatever the batch size (tested).
        """
        from sklearn.ensemble import IsolationForest

        # scikit-learn's trees work in float32; converting once saves a copy per batch
        X = np.asarray(X, dtype=np.float32)
        self.max_samples_ = int(min(self.max_samples, len(X)))
        t0 = time.perf_counter()
        model = IsolationForest(n_estimators=0, max_samples=self.max_samples_,
                                random_state=self.random_state, n_jobs=1, warm_start=True)
        for n in range(min(batch, self.n_estimators), self.n_estimators + batch, batch):
            model.set_params(n_estimators=min(n, self.n_estimators))
            model.fit(X)
            yield len(model.estimators_)
        self.model_ = model
        self.fit_seconds_ = time.perf_counter() - t0
        self.padded_ = compile_forest(model)
        self.norm_ = float(self.n_estimators * average_path_length([self.max_samples_])[0])

    def path_sums(self, X: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Sum over trees of each sample's path length (depth + c(leaf size))."""
        out = np.zeros(len(X)) if out is None else out
        for _ in self.path_sums_steps(X, out, chunk=len(X)):
            pass
        return out

    def path_sums_steps(self, X: np.ndarray, out: np.ndarray, chunk: int = 0) -> Iterator[int]:
        """Fill ``out`` with path sums in chunks of rows, yielding the rows done.

        The default chunk keeps each step near half a second at 5,000 trees.
        """
        import numba

        from . import _kernels

        x = np.ascontiguousarray(X, dtype=np.float32)
        chunk = chunk or max(4 * self.block, int(4e7 // max(1, self.padded_.n_trees)))
        numba.set_num_threads(max(1, min(self.n_jobs, numba.config.NUMBA_NUM_THREADS)))
        p = self.padded_
        for a in range(0, len(x), max(1, chunk)):
            b = min(len(x), a + chunk)
            _kernels.path_sums(x[a:b], p.feat, p.thr, p.leaf, p.depth, out[a:b], self.block)
            yield b

    def anomaly_score(self, X: np.ndarray) -> np.ndarray:
        """Liu et al. (2008) score s = 2^(-E[h]/c(psi)) in (0, 1]; higher = more anomalous."""
        return 2.0 ** (-self.path_sums(X) / self.norm_)

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """As scikit-learn's ``score_samples`` (= -anomaly_score; lower = more anomalous)."""
        return -self.anomaly_score(X)


def forest_steps(args: dict) -> Generator[tuple[str, int, int], None, dict]:
    """Fit one forest and compute its path sums, yielding ``(phase, done, total)``.

    ``args``: ``X`` (n, f) float64, ``n_trees``, ``max_samples``, ``seed``, ``threads``,
    ``block``, optional ``keep_trees``. Returns ``sums`` (n,), ``norm``, ``max_samples``,
    ``fit_s``, ``score_s``, ``fit_cpu_s``, ``cpu_s`` (CPU seconds of fit and of the whole
    job) and with ``keep_trees`` the padded trees (:func:`tree_arrays`).
    """
    c0 = time.process_time()
    est = FastIsolationForest(args["n_trees"], args["max_samples"], args["seed"],
                              args.get("threads", 1), args.get("block", 512))
    for done in est.fit_steps(args["X"]):
        yield "fit", done, est.n_estimators
    fit_cpu = time.process_time() - c0
    t0 = time.perf_counter()
    sums = np.zeros(len(args["X"]))
    for done in est.path_sums_steps(args["X"], sums):
        yield "score", done, len(sums)
    # CPU seconds tell a busy machine from a slow code path when timings are compared
    out = {"sums": sums, "norm": est.norm_, "max_samples": est.max_samples_,
           "fit_s": est.fit_seconds_, "score_s": time.perf_counter() - t0,
           "fit_cpu_s": fit_cpu, "cpu_s": time.process_time() - c0}
    if args.get("keep_trees"):
        out["trees"] = tree_arrays(est)
    return out


#: dataset names of a stored forest (``/scores/<space>/forest_*``)
TREE_KEYS = ("forest_feat", "forest_thr", "forest_leaf")


def tree_arrays(est: FastIsolationForest) -> dict[str, np.ndarray]:
    """The fitted trees as plain arrays, to keep in the store (no pickled model): the
    padded node features, thresholds and leaf path lengths of :class:`PaddedForest`,
    and (0-d) its depth and normaliser."""
    p = est.padded_
    feat = p.feat.astype(np.uint8) if p.feat.max(initial=0) < 256 else p.feat
    return {"forest_feat": feat, "forest_thr": p.thr, "forest_leaf": p.leaf,
            "forest_depth": np.int64(p.depth), "forest_norm": np.float64(est.norm_)}


def forest_from_arrays(arrays: dict[str, np.ndarray], n_jobs: int = 1,
                       block: int = 512) -> FastIsolationForest:
    """A :class:`FastIsolationForest` that scores with stored trees (:func:`tree_arrays`)."""
    est = FastIsolationForest(int(arrays["forest_feat"].shape[0]), 0, 0, n_jobs, block)
    est.padded_ = PaddedForest(np.asarray(arrays["forest_feat"], np.int32),
                               np.asarray(arrays["forest_thr"], np.float32),
                               np.asarray(arrays["forest_leaf"], np.float64),
                               int(arrays["forest_depth"]))
    est.norm_ = float(arrays["forest_norm"])
    return est


def forest_job(args: dict) -> dict:
    """:func:`forest_steps` run to the end (a picklable task for worker processes)."""
    gen = forest_steps(args)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value
