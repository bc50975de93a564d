"""Ranks, normalisation, convergence and per-class summaries of anomaly scores."""
from __future__ import annotations

from collections import Counter

import numpy as np

#: quantiles stored per class (the paper's figure 6 shows the CDFs)
QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
#: score grid of the stored per-class CDF samples
CDF_GRID = np.round(np.linspace(0.0, 1.0, 51), 4)


def normalise(raw: np.ndarray) -> np.ndarray:
    """Score = raw / max(raw) over finite values, so the most anomalous object is 1.0.

    ``raw`` is Liu et al.'s s = 2^(-E[h]/c(psi)) > 0 (= -``score_samples`` of
    scikit-learn), so the normalised score keeps s's ratios and lies in (0, 1].
    """
    top = np.nanmax(raw)
    return raw / top


def minmax(raw: np.ndarray) -> np.ndarray:
    """(raw - min) / (max - min) over finite values: 1.0 most anomalous, 0.0 least."""
    lo, hi = np.nanmin(raw), np.nanmax(raw)
    return (raw - lo) / (hi - lo) if hi > lo else np.where(np.isfinite(raw), 1.0, np.nan)


def ranks(score: np.ndarray, demoted: np.ndarray | None = None) -> np.ndarray:
    """Rank 1 = highest score; ties by row order; 0 where the score is NaN.

    ``demoted``: (N,) bool, rows ranked below every row that is not (in score order
    among themselves): the curves consistent with noise (:func:`not_variable`), so that
    every space's ranking, top-N list and recall counts them last. Every rank of the
    engine comes from here.
    """
    score = np.asarray(score, dtype=np.float64)
    ok = np.isfinite(score)
    rows = np.flatnonzero(ok)
    low = np.zeros(len(rows), bool) if demoted is None else np.asarray(demoted, bool)[rows]
    order = rows[np.lexsort((rows, -score[rows], low))]
    out = np.zeros(len(score), dtype=np.int64)
    out[order] = np.arange(1, len(order) + 1)
    return out


def rank_order(rank: np.ndarray) -> np.ndarray:
    """Rows of a rank array (1 = first, 0 = unranked), best first; unranked left out."""
    rank = np.asarray(rank)
    rows = np.flatnonzero(rank > 0)
    return rows[np.argsort(rank[rows], kind="stable")]


def top_rows(score: np.ndarray, k: int, demoted: np.ndarray | None = None) -> np.ndarray:
    """Rows of the k first of :func:`ranks`, best first."""
    return rank_order(ranks(score, demoted))[:k]


def not_variable(sigma: np.ndarray | None, sigma_min: float) -> np.ndarray | None:
    """True where the constant-model significance (``/foldstats/variability_sigma``) is
    below ``sigma_min``: a curve consistent with noise under its errors. Unknown (NaN)
    significances are not flagged. None when there are no significances."""
    if sigma is None:
        return None
    sigma = np.asarray(sigma, dtype=np.float64)
    return np.isfinite(sigma) & (sigma < sigma_min)


def convergence(score_n: np.ndarray, score_2n: np.ndarray, n_trees: int,
                top_k: int = 1000, top_overlap: int = 100,
                demoted: np.ndarray | None = None) -> dict:
    """Compare the ranking of n trees with that of 2n trees (paper footnote 2).

    Returns the overlap of the two top-``top_overlap`` lists (fraction), the Spearman
    rank correlation of the two scores over the top ``top_k`` objects of the 2n
    ranking, and over all objects.
    """
    from scipy.stats import spearmanr

    top_a = top_rows(score_n, top_overlap, demoted)
    top_b = top_rows(score_2n, top_overlap, demoted)
    ref = top_rows(score_2n, top_k, demoted)
    ok = np.isfinite(score_n)
    rho_top = spearmanr(score_n[ref], score_2n[ref]).statistic if len(ref) > 2 else np.nan
    rho_all = spearmanr(score_n[ok], score_2n[ok]).statistic if ok.sum() > 2 else np.nan
    return {"n_trees": int(n_trees), "compared_with": int(2 * n_trees),
            f"top{top_overlap}_overlap": len(set(top_a) & set(top_b)) / max(1, len(top_a)),
            f"spearman_top{top_k}": float(rho_top), "spearman_all": float(rho_all)}


def class_statistics(score: np.ndarray, classes: np.ndarray) -> dict:
    """Per class: count, mean, quantiles and CDF samples of the normalised score."""
    out = {}
    ok = np.isfinite(score)
    for cls in sorted(set(classes[ok].tolist())):
        s = np.sort(score[ok & (classes == cls)])
        out[cls or "(none)"] = {
            "n": int(len(s)), "mean": float(s.mean()),
            "quantiles": dict(zip([str(q) for q in QUANTILES],
                                  np.quantile(s, QUANTILES).round(5).tolist())),
            "cdf": (np.searchsorted(s, CDF_GRID, side="right") / len(s)).round(5).tolist(),
        }
    return out


def class_mix(score: np.ndarray, classes: np.ndarray, k: int = 100,
              demoted: np.ndarray | None = None) -> dict:
    """Class counts among the top k and the bottom k of the ranking (paper table 2)."""
    rows = rank_order(ranks(score, demoted))
    mix = lambda sel: dict(Counter(c or "(none)" for c in classes[sel].tolist()).most_common())  # noqa: E731
    return {"top": mix(rows[:k]), "bottom": mix(rows[::-1][:k]), "k": int(min(k, len(rows)))}
