"""Which objects get context: the top N of each ranking plus "normal" comparison objects.

As in the paper (section 3.4): the top N anomalies of each latent space and, for
comparison, the N least anomalous objects of the classes that dominate that top N
(Mira and SR in the paper). Without scores: the first N objects.
"""
from __future__ import annotations

import logging
from collections import Counter

import numpy as np

logger = logging.getLogger(__name__)

#: the paper's two spaces, and the diagnostic and vetting ones where they were scored
SPACES = ("cartesian", "spherical", "diagnostic", "vetting")


def select(ranks: dict[str, np.ndarray], scores: dict[str, np.ndarray], classes: np.ndarray,
           n_objects: int, top_n: int, n_normal: int, normal_classes: int = 2):
    """Rows to process and why each was chosen.

    Parameters
    ----------
    ranks, scores : space -> (N,) arrays from ``/scores/<space>`` (rank 1 = most
        anomalous, 0 = excluded; score NaN = excluded); empty dicts: no scores.
    classes : (N,) str, catalogue classes
    n_objects : N
    top_n, n_normal : how many anomalies per space and normal objects per class
    normal_classes : how many of the most common classes of the top N get normals

    Returns
    -------
    rows : (M,) int, sorted; reasons : (M,) str such as ``"top-cartesian;normal-spherical"``
    """
    reasons: dict[int, list[str]] = {}
    if not ranks:
        for r in range(min(top_n, n_objects)):
            reasons.setdefault(r, []).append("first")
    for space, rank in ranks.items():
        top = _top_rows(rank, top_n)
        for r in top:
            reasons.setdefault(int(r), []).append(f"top-{space}")
        for r in _normal_rows(scores[space], classes, top, n_normal, normal_classes):
            reasons.setdefault(int(r), []).append(f"normal-{space}")
    rows = np.array(sorted(reasons), dtype=np.int64)
    return rows, np.array([";".join(reasons[r]) for r in rows])


def _top_rows(rank: np.ndarray, top_n: int) -> np.ndarray:
    from ..anomaly.stats import rank_order    # the one ranking (noise demoted) of the engine

    return rank_order(rank)[:top_n]


def _normal_rows(score: np.ndarray, classes: np.ndarray, top: np.ndarray, n_normal: int,
                 normal_classes: int) -> list[int]:
    score = np.asarray(score, float)
    common = [c for c, _ in Counter(classes[top].tolist()).most_common(normal_classes)]
    out: list[int] = []
    for cls in common:
        cand = np.flatnonzero((classes == cls) & np.isfinite(score))
        out += cand[np.argsort(score[cand], kind="stable")][:n_normal].tolist()
    return out
