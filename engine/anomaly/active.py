"""Active anomaly detection (AAD, Das et al. 2017) with the label journal.

Labels map to the two classes AAD learns from: "anomaly" and "interesting" are
anomalous; "not interesting", "artefact/bad data" and a Chen class label (a
reclassification says the object is a known kind of variable) are regular; other
custom labels are ignored. The forest is coniferest's ``AADForest`` (SNAD): an
isolation forest whose leaf weights are refitted so labelled anomalies score above the
budget quantile and labelled regular objects below it.
"""
from __future__ import annotations

import logging

import numpy as np

from .. import schema
from ..config import ScoreConfig
from ..progress import Progress, StageGen
from . import stats
from .features import Features

logger = logging.getLogger(__name__)


def label_classes(labels: dict[str, str]) -> dict[str, int]:
    """Object id -> +1 anomalous / -1 regular, for the labels AAD can use."""
    from ..labels import ANOMALOUS_LABELS, CHEN_CLASSES, REGULAR_LABELS

    regular = {x.lower() for x in REGULAR_LABELS + CHEN_CLASSES} | {"artefact", "bad data"}
    anomalous = {x.lower() for x in ANOMALOUS_LABELS}
    out = {}
    for oid, lab in labels.items():
        key = lab.strip().lower()
        if key in anomalous:
            out[oid] = 1
        elif key in regular:
            out[oid] = -1
    return out


def aad_scores(X: np.ndarray, known_rows: np.ndarray, known: np.ndarray,
               cfg: ScoreConfig) -> np.ndarray:
    """AAD anomaly scores of all rows of ``X`` (higher = more anomalous).

    Parameters
    ----------
    X : ndarray (n, f)
    known_rows : ndarray of int, rows of ``X`` with a label
    known : ndarray of +1 (anomalous) / -1 (regular), one per known row
    """
    from coniferest.aadforest import AADForest
    from coniferest.label import Label

    forest = AADForest(n_trees=cfg.aad_trees, n_subsamples=int(min(cfg.max_samples, len(X))),
                       budget=cfg.aad_budget, prior_influence=cfg.aad_prior_influence,
                       n_jobs=cfg.n_jobs, random_seed=cfg.seed)
    labels = np.where(known > 0, Label.ANOMALY, Label.REGULAR).astype(int)
    X = np.ascontiguousarray(X, dtype=np.float64)
    forest.fit_known(X, X[known_rows] if len(known_rows) else None,
                     labels if len(known_rows) else None)
    return -forest.score_samples(X)   # coniferest: lower = more anomalous


def journal_known(store_path, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Store rows (among ``valid``) and classes of the usable labels of the journal."""
    from ..labels import LabelJournal
    from ..store import Store

    with LabelJournal(store_path) as journal:
        current = {k: e.label for k, e in journal.current().items()}
    with Store(store_path, "r") as st:
        index = st.object_index()
    classes = label_classes(current)
    pairs = [(index[k], v) for k, v in classes.items() if k in index and valid[index[k]]]
    rows = np.array([p[0] for p in pairs], dtype=np.int64)
    return rows, np.array([p[1] for p in pairs], dtype=np.int64)


def active_stage(store_path, cfg: ScoreConfig, feats: Features,
                 demoted: np.ndarray | None = None) -> StageGen:
    """Re-rank with AAD on the journal's labels; write ``/scores/active``.

    ``demoted``: rows ranked last (curves consistent with noise, see
    :func:`engine.anomaly.stats.ranks`)."""
    from ..store import Store

    # the AAD space, unless this run scored only the other one
    space = cfg.aad_space if cfg.aad_space in cfg.spaces else cfg.spaces[0]
    valid = feats.valid_for(space)
    rows, known = journal_known(store_path, valid)
    yield Progress("score-active", 0, 1, f"{len(rows)} labels, space {space}", "fit")
    n = len(valid)
    valid_rows = np.flatnonzero(valid)
    raw = np.full(n, np.nan)
    if len(rows):
        pos = np.searchsorted(valid_rows, rows)
        raw[valid] = aad_scores(feats.space(space)[valid], pos, known, cfg)
        method = "AAD (coniferest AADForest, Das et al. 2017)"
        message = f"re-ranked with {len(rows)} labels ({int((known > 0).sum())} anomalous)"
    else:
        with Store(store_path, "r") as st:
            raw = st.read(schema.score_path(space, "score")).astype(float)
        method = f"isolation forest ({space}); no usable labels"
        message = "no usable labels in the journal: the plain forest ranking is used"
    score = stats.minmax(raw)
    attrs = {"space": space, "n_labels": int(len(rows)), "n_anomalous": int((known > 0).sum()),
             "n_regular": int((known < 0).sum()), "method": method,
             "normalisation": "score = (raw - min) / (max - min): 1.0 most anomalous",
             "settings": {"aad_trees": cfg.aad_trees, "aad_budget": cfg.aad_budget,
                          "aad_prior_influence": cfg.aad_prior_influence, "seed": cfg.seed}}
    arrays = {"score": score, "rank": stats.ranks(score, demoted), "raw": raw}
    if demoted is not None:
        arrays["not_variable"] = np.asarray(demoted, np.uint8)
        attrs["n_not_variable"] = int((demoted & np.isfinite(score)).sum())
    from ..compare import remember

    with Store(store_path, "a") as st:
        remember(st, "active")           # the label-aware ranking this one replaces
        st.write_group(schema.score_group("active"), arrays, attrs)
        remember(st, "active")
    yield Progress("score-active", 1, 1, message, "fit")
    return {"space": space, "n_labels": int(len(rows)), "message": message}
