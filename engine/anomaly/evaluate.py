"""Figures on stores with ground truth (the demo catalogue's injected anomalies)."""
from __future__ import annotations

import logging

import numpy as np

from .. import schema
from ..config import ScoreConfig
from ..errors import StageError

logger = logging.getLogger(__name__)

#: Paper table 2: class mix of the top 100 (the bottom of the ranking is EW)
PAPER_TOP100 = {"cartesian": {"SR": 72, "Mira": 28},
                "spherical": {"SR": 85, "Mira": 14, "RSCVN": 1}}
PAPER_BOTTOM_CLASS = "EW"


def _truth(st) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cols = st.object_columns
    if "truth_anomaly" not in cols:
        raise StageError(f"{st.path}: no truth columns (only simulated stores have them)")
    o = st.read_objects(["truth_anomaly", "truth_kind", "class"])
    return o["truth_anomaly"].astype(bool), o["truth_kind"], o["class"]


def _recall(rank: np.ndarray, truth: np.ndarray, kinds: np.ndarray, frac: float) -> dict:
    scored = rank > 0
    cut = int(np.ceil(frac * scored.sum()))
    top = scored & (rank <= cut)
    out = {"n_top": cut, "all": _ratio(top & truth, scored & truth)}
    for kind in sorted(set(kinds[truth].tolist())):
        sel = truth & (kinds == kind)
        out[kind or "(unnamed)"] = _ratio(top & sel, scored & sel)
    return out


def _ratio(hit: np.ndarray, base: np.ndarray) -> dict:
    n = int(base.sum())
    return {"found": int(hit.sum()), "injected": n,
            "recall": round(float(hit.sum()) / n, 4) if n else None}


def recall_report(store_path, fractions=(0.01, 0.02), k: int = 100) -> dict:
    """Recall of injected anomalies in the top fractions, per space and kind, and class mix.

    Returns ``{space: {"recall": {"top1%": {...}, "top2%": {...}}, "class_mix": ...,
    "paper_top100": ..., "bottom_is_EW_share": ...}, "meets_target": bool}``, the target
    being a recall >= 0.8 of all injected anomalies in the top 2% of at least one space.
    """
    from ..store import Store
    from . import stats

    report: dict = {}
    with Store(store_path, "r") as st:
        truth, kinds, classes = _truth(st)
        spaces = [s for s in tuple(schema.SCORE_SPACES) if st.has(schema.score_group(s))]
        if not spaces:
            raise StageError(f"{st.path}: no /scores yet (run pvsvet-engine score)")
        ranks = {s: st.read(schema.score_path(s, "rank")) for s in spaces}
        scores = {s: st.read(schema.score_path(s, "score")) for s in spaces}
    for s in spaces:
        mix = stats.class_mix(scores[s], classes, k)
        bottom_ew = mix["bottom"].get(PAPER_BOTTOM_CLASS, 0) / max(1, mix["k"])
        report[s] = {"recall": {f"top{frac * 100:g}%": _recall(ranks[s], truth, kinds, frac)
                                for frac in fractions},
                     "class_mix": mix, "paper_top100": PAPER_TOP100.get(s, {}),
                     "bottom_EW_share": round(bottom_ew, 3),
                     "anomalies_in_top100": int((truth & (ranks[s] > 0) & (ranks[s] <= k)).sum())}
    key = f"top{fractions[-1] * 100:g}%"
    report["meets_target"] = any((report[s]["recall"][key]["all"]["recall"] or 0) >= 0.8
                                 for s in spaces if s != "active")
    return report


def feedback_experiment(store_path, rounds: int = 5, per_round: int = 20,
                        cfg: ScoreConfig | None = None) -> dict:
    """Simulated expert feedback with AAD against the plain forest.

    Each round inspects the ``per_round`` best-ranked objects not yet inspected, labels
    them from the truth flags (injected anomaly -> anomalous, else regular), and
    re-ranks with AAD on all labels so far. Returns the true anomalies found among the
    ``rounds * per_round`` inspected objects, against those among the plain forest's
    top ``rounds * per_round`` (space ``cfg.aad_space``). The journal is not touched.
    """
    from ..store import Store
    from . import stats
    from .active import aad_scores
    from .features import load_features

    cfg = cfg or ScoreConfig()
    space = cfg.aad_space
    with Store(store_path, "r") as st:
        truth, _, _ = _truth(st)
        if not st.has(schema.score_group(space)):
            raise StageError(f"{st.path}: no /scores/{space} (run pvsvet-engine score first)")
        plain_rank = st.read(schema.score_path(space, "rank"))
        flag = schema.score_path(space, "not_variable")
        demoted = st.read(flag).astype(bool) if st.has(flag) else None
    feats = load_features(store_path, cfg.last_angle)
    rows = np.flatnonzero(feats.valid_for(space))
    X, t = feats.space(space)[rows], truth[rows]
    budget = rounds * per_round
    order = np.argsort(np.where(plain_rank[rows] > 0, plain_rank[rows], np.inf))
    inspected: list[int] = []
    per_round_found = []
    for _ in range(rounds):
        seen = set(inspected)
        new = [int(i) for i in order if int(i) not in seen][:per_round]
        inspected += new
        per_round_found.append(int(t[new].sum()))
        known = np.array(inspected)
        aad = aad_scores(X, known, np.where(t[known], 1, -1), cfg)
        order = stats.rank_order(stats.ranks(aad, None if demoted is None else demoted[rows]))
    plain_found = int((truth & (plain_rank > 0) & (plain_rank <= budget)).sum())
    return {"space": space, "inspected": len(inspected), "rounds": rounds,
            "per_round": per_round, "found_with_feedback": int(sum(per_round_found)),
            "found_per_round": per_round_found, "found_plain_forest": plain_found,
            "n_injected": int(truth[rows].sum())}
