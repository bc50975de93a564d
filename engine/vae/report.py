"""How well the latent space separates the classes (the paper's appendix B).

A random forest on the latent means plus log10 period and g - r, trained on the
train split and scored on the test split: balanced accuracy and confusion matrix.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..store import Store
from .data import TEST, TRAIN

logger = logging.getLogger(__name__)

#: Train rows used at most; the forest's accuracy saturates long before 730k rows.
MAX_TRAIN = 20_000
N_TREES = 100


def latent_classifier_report(store_path: str | Path, seed: int = 0) -> dict[str, Any]:
    """Random-forest classification of the classes from the latent means.

    Returns
    -------
    dict
        ``balanced_accuracy`` (test split), ``confusion`` (rows: true class, columns:
        predicted, in the order of ``classes``), ``classes``, ``n_train``, ``n_test``;
        empty when the store has no class labels or no encoded test objects.
    """
    with Store(store_path, "r") as st:
        mu = st.read("vae/mu")
        split = st.read("interp/split")
    return latent_report_from_arrays(store_path, mu, split, seed)


def _features(store_path, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with Store(store_path, "r") as st:
        cols = st.read_objects(["class", "period", "mean_g", "mean_r"])
    logp = np.log10(np.where(cols["period"] > 0, cols["period"], np.nan))
    gr = cols["mean_g"].astype("f8") - cols["mean_r"]
    return np.column_stack([mu, logp[:len(mu)], gr[:len(mu)]]), cols["class"][:len(mu)]


def latent_report_from_arrays(store_path, mu: np.ndarray, split: np.ndarray,
                              seed: int = 0) -> dict[str, Any]:
    """:func:`latent_classifier_report` on latent means already in memory."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix

    X, y = _features(store_path, mu)
    usable = np.isfinite(mu).all(axis=1) & (y != "")
    tr, te = usable & (split == TRAIN), usable & (split == TEST)
    classes = np.unique(y[tr])
    if len(classes) < 2 or not te.any():
        return {}
    tr_rows = np.flatnonzero(tr)
    if len(tr_rows) > MAX_TRAIN:
        tr_rows = np.random.default_rng(seed).choice(tr_rows, MAX_TRAIN, replace=False)
    forest = RandomForestClassifier(N_TREES, n_jobs=2, random_state=seed,
                                    class_weight="balanced")
    forest.fit(X[tr_rows], y[tr_rows])
    pred = forest.predict(X[te])
    labels = np.unique(np.concatenate([classes, y[te]]))
    return {"balanced_accuracy": float(balanced_accuracy_score(y[te], pred)),
            "confusion": confusion_matrix(y[te], pred, labels=labels).tolist(),
            "classes": labels.tolist(), "n_train": int(len(tr_rows)), "n_test": int(te.sum())}
