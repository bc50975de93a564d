"""The score stage: isolation forests on both feature spaces, committed to /scores."""
from __future__ import annotations

import logging
import time

import numpy as np

from .. import provenance as prov
from ..config import ScoreConfig, to_dict
from ..errors import FeatureError, StageError
from .. import schema
from ..schema import NOT_INTERPOLATED, Status
from ..progress import Progress, StageGen
from . import stats
from ..workcache import locked_stage
from .features import FOREST_SPACES, Features, load_features
from .foldstats import INSTRUMENT, ensure_fold_stats
from .runner import run_forests
from .vetting import NEEDS as VETTING_NEEDS

logger = logging.getLogger(__name__)

NORMALISATION = ("raw = 2**(-E[h]/c(max_samples)) (Liu et al. 2008; = -score_samples of "
                 "scikit-learn); score = raw / max(raw), so the most anomalous object is 1.0")
IMPLEMENTATION = ("scikit-learn IsolationForest (fit); scores from the same fitted trees by "
                  "engine.anomaly._kernels (exact: equals score_samples to rounding)")


@locked_stage("score")
def score(store_path, cfg: ScoreConfig | None = None, use_labels: bool = False,
          force: bool = False) -> StageGen:
    """Score every object with isolation forests; write ``/scores/<space>``.

    Parameters
    ----------
    store_path : path of the store (needs ``/vae/mu`` and ``/objects``)
    cfg : ScoreConfig
    use_labels : bool
        Also re-rank with active anomaly detection on the label journal
        (``/scores/active``, see :mod:`engine.anomaly.active`).
    force : bool
        Recompute even when the scores are up to date (:mod:`engine.provenance`).

    Yields
    ------
    Progress per phase and forest. Returns a dict of figures (timings, convergence).
    """
    cfg = cfg or ScoreConfig()   # validated when built (engine.config)
    fold = yield from _fold_stats(store_path, cfg)   # first: its record is an input here
    demoted = _demoted(fold, cfg)
    yield Progress("score", 0, 0, "reading features", "forest")
    feats = load_features(store_path, cfg.last_angle)
    result: dict = {"n_objects": int(len(feats.valid)), "n_scored": int(feats.valid.sum())}
    up = prov.fresh(store_path, "score", cfg, force)
    if up:
        result["skipped"] = f"forest scores {up.reason} (same science settings and inputs)"
    else:
        result.update((yield from _plain(store_path, cfg, feats, fold, demoted)))
    if use_labels:
        from .active import active_stage
        result["active"] = yield from active_stage(store_path, cfg, feats, demoted)
    return result


def _fold_stats(store_path, cfg: ScoreConfig) -> StageGen:
    """The fold statistics this run needs (None when none): all of them for the vetting
    space, the outlier fraction for the diagnostic one, and the variability significance
    for the demotion of curves consistent with noise. The spaces that need them fail
    without /interp; the demotion alone is left out there (nothing to say it is noise)."""
    need: tuple[str, ...] = ()
    if "vetting" in cfg.spaces:
        need = VETTING_NEEDS
    elif "diagnostic" in cfg.spaces:
        need = ("fold_outlier_frac",)
    inputs = bool(need or cfg.demote_nonvariable) and _has_fold_inputs(store_path)
    if cfg.demote_nonvariable and inputs:
        need += ("variability_sigma",)
    if "vetting" in cfg.spaces and cfg.like_with_like and inputs:
        need += INSTRUMENT
    if not need:
        return None
    try:
        return (yield from ensure_fold_stats(store_path, need=need))
    except FeatureError as e:
        # latent means first: without them nothing can be scored (missing or damaged)
        load_features(store_path, cfg.last_angle)
        spaces = [s for s in cfg.spaces if s in ("diagnostic", "vetting")]
        if not spaces:
            raise
        raise FeatureError(f"{e}; the {' and '.join(spaces)} space"
                           f"{'s use' if len(spaces) > 1 else ' uses'} them (or score only "
                           "the paper's spaces: score --space both)") from None


def _has_fold_inputs(store_path) -> bool:
    from ..store import Store

    with Store(store_path, "r") as st:
        return all(st.has(d) for d in ("interp/mean", "interp/raw_mean_mag",
                                       "interp/raw_std_mag", "lightcurves/offsets"))


def _demoted(fold: dict | None, cfg: ScoreConfig):
    """Rows ranked last in every space (curves consistent with noise), or None."""
    if not cfg.demote_nonvariable or not fold:
        return None
    return stats.not_variable(fold.get("variability_sigma"), cfg.variability_sigma_min)


def _variability_attrs(cfg: ScoreConfig, demoted, valid) -> dict:
    """What the demotion did, for the attrs of every space."""
    n = None if demoted is None else int((demoted & valid).sum())
    return {"demote_nonvariable": bool(cfg.demote_nonvariable and demoted is not None),
            "variability_sigma_min": float(cfg.variability_sigma_min),
            "n_not_variable": n,
            "source": "/foldstats/variability_sigma (constant-model chi^2, Gaussian sigma)"
            if demoted is not None else "not computed (no /interp or demotion off)"}


def _rank_arrays(score, demoted) -> dict:
    """The ranking arrays every space stores: rank (noise last) and the flag."""
    out = {"rank": stats.ranks(score, demoted)}
    if demoted is not None:
        out["not_variable"] = np.asarray(demoted, np.uint8)
    return out


def _jobs(cfg: ScoreConfig, feats: Features) -> dict:
    jobs = {}
    for space in (s for s in cfg.spaces if s in FOREST_SPACES):
        x = feats.space(space)[feats.valid_for(space)]
        common = {"X": x, "n_trees": cfg.n_estimators, "max_samples": cfg.max_samples,
                  "block": cfg.block}
        # the main forest's trees are kept, so objects added later (run --new-only) are
        # scored by the same forest without refitting it
        jobs[(space, "main")] = {**common, "seed": cfg.seed, "keep_trees": True}
        if cfg.convergence_check:
            # a second, independent forest: together with the first, a forest of 2n trees
            jobs[(space, "twin")] = {**common, "seed": cfg.seed + 1_000_003}
    return jobs


def _plain(store_path, cfg, feats, fold=None, demoted=None, extra=None,
           record: bool = True) -> StageGen:
    """Fit and score every space of ``cfg.spaces`` over all rows and commit their groups.

    ``extra``: space -> (arrays, attrs) merged into that space's group; ``record``: write
    the stage's provenance record (``run --new-only`` rescores the population spaces
    with both: its row stamps kept, and its own record of the whole score stage)."""
    from ..compare import remember
    from ..store import Store

    started = time.time()
    t0 = time.perf_counter()
    jobs = _jobs(cfg, feats)
    results = (yield from run_forests(jobs, cfg.n_jobs)) if jobs else {}
    forest_s = time.perf_counter() - t0
    yield Progress("score", 0, 0, "ranking and statistics", "forest")
    with Store(store_path, "r") as st:
        classes = st.read_objects(["class"])["class"] if "class" in st.object_columns \
            else np.full(len(feats.valid), "", dtype="U1")
    groups, figures = {}, {"forest_seconds": round(forest_s, 2)}
    for space in cfg.spaces:
        if space == "vetting":
            groups[space] = yield from _vetting_group(store_path, cfg, feats, fold, classes,
                                                      demoted)
        else:
            groups[space] = _space_group(space, cfg, feats, results, classes, demoted)
        figures[space] = {k: groups[space][1][k] for k in ("convergence", "timing", "class_mix")}
    for space, (arrays, attrs) in (extra or {}).items():
        if space in groups:
            groups[space][0].update(arrays)
            groups[space][1].update(attrs)
    with Store(store_path, "a") as st:
        for space, (arrays, attrs) in groups.items():
            remember(st, space)        # the ranking this run replaces (run comparison)
            st.write_group(f"scores/{space}", arrays, attrs)
        if record:
            prov.record(st, "score", cfg, spaces=list(cfg.spaces),
                        started=time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started)))
        for space in groups:           # the new rankings, with this run's record
            remember(st, space)
    return figures


def _space_group(space, cfg, feats, results, classes, demoted=None):
    main = results[(space, "main")]
    n = len(feats.valid)
    valid = feats.valid_for(space)
    raw = np.full(n, np.nan)
    raw[valid] = 2.0 ** (-main["sums"] / main["norm"])
    score = stats.normalise(raw)
    attrs = {
        "space": space, "features": feats.names[space], "normalisation": NORMALISATION,
        "implementation": IMPLEMENTATION, "m_gr_source": feats.m_gr_source,
        "settings": {**to_dict(cfg), "max_samples_used": main["max_samples"]},
        "n_scored": int(valid.sum()), "n_excluded": int((~valid).sum()),
        "timing": {"fit_s": round(main["fit_s"], 2), "score_s": round(main["score_s"], 2)},
        "class_statistics": stats.class_statistics(score, classes),
        "class_mix": stats.class_mix(score, classes, cfg.top_overlap, demoted),
        "variability": _variability_attrs(cfg, demoted, valid),
        "convergence": {"checked": False},
    }
    if space == "residual":
        attrs["note"] = ("beyond the paper: Cartesian features + log10 of the appendix-C "
                         "reconstruction residual (band mean)")
    if space == "diagnostic":
        attrs["note"] = ("beyond the paper: fold coherence log10 C/delta, band coherence "
                         "log10 l_lambda, log10 fraction of raw points off the fold, latent "
                         "radius, log10 reconstruction residual; each one-sided (the "
                         "unremarkable side of the median set to the median); no period, "
                         "colour or class")
    if space == "spherical":
        attrs["transform"] = f"Blumenson (eq. 9), last angle convention '{cfg.last_angle}'"
    if cfg.convergence_check:
        twin = results[(space, "twin")]
        raw2 = np.full(n, np.nan)
        raw2[valid] = 2.0 ** (-(main["sums"] + twin["sums"]) / (2 * main["norm"]))
        attrs["convergence"] = {"checked": True, **stats.convergence(
            score, stats.normalise(raw2), cfg.n_estimators, cfg.top_k, cfg.top_overlap,
            demoted)}
    arrays = {"score": score.astype(np.float64), **_rank_arrays(score, demoted),
              "raw": raw.astype(np.float64),
              # the matrix the forest scored (columns: attrs "features"), so a viewer plots
              # these numbers instead of recomputing them (float32: plotting precision)
              "features": np.asarray(feats.space(space), dtype=np.float32),
              **main.get("trees", {})}
    return arrays, attrs


def _vetting_group(store_path, cfg, feats, fold, classes, demoted=None) -> StageGen:
    from ..store import Store
    from . import vetting

    with Store(store_path, "r") as st:
        if not st.has("interp/hyper"):
            raise StageError(f"{st.path}: the vetting space needs /interp/hyper "
                             "(run interpolate first)")
        hyper = st.read("interp/hyper").astype(np.float64)
        status = (st.read(schema.INTERP_STATUS).astype(np.int64)
                  if st.has(schema.INTERP_STATUS) else np.zeros(len(feats.valid), np.int64))
    # the latent means of the Cartesian features (NaN rows: no curve was encoded); the
    # period and colour of every object
    mu = feats.cartesian[:, :-2]
    log_period, m_gr = feats.log_period, feats.m_gr
    # a GP that found no curve at the catalogue period answers the fold question itself
    unfolded = (((status & Status.GP_FAILED) != 0) & ((status & NOT_INTERPOLATED) == 0)
                & ~feats.valid)
    surprise, seconds = yield from vetting.vetting_steps(log_period, m_gr, hyper, fold, mu,
                                                         cfg.seed, cfg.like_with_like,
                                                         classes, unfolded)
    like = cfg.like_with_like and vetting.instrument_covariates(fold) is not None
    unfolded &= np.isfinite(log_period) & np.isfinite(m_gr)
    valid = feats.valid | unfolded
    raw, question = vetting.combine(surprise, valid)
    score = stats.normalise(raw)
    counts = {q: int((question == i).sum()) for i, q in enumerate(vetting.QUESTION_NAMES)}
    top = stats.top_rows(score, cfg.top_overlap, demoted)
    attrs = {
        "space": "vetting", "features": vetting.QUESTION_NAMES,
        "questions": vetting.QUESTIONS, "note": vetting.NOTE,
        "normalisation": "raw = largest -log10 p over the questions (+ 1e-3 x their mean); "
                         "score = raw / max(raw), so the most anomalous object is 1.0",
        "implementation": "engine.anomaly.vetting (tail probabilities; no forest)",
        "m_gr_source": feats.m_gr_source,
        "settings": {"like_with_like": bool(like), "n_like": vetting.N_LIKE,
                     "n_tail_like": vetting.N_TAIL_LIKE if like else 0,
                     "like_covariates": list(INSTRUMENT) if like else [],
                     "period_bin_dex": vetting.PERIOD_BIN_DEX, "min_group": vetting.MIN_GROUP,
                     "n_peers": vetting.N_PEERS, "peer_reference": vetting.PEER_REFERENCE,
                     "min_class": vetting.MIN_CLASS, "dip_max_width": vetting.DIP_MAX_WIDTH,
                     "tail": {"model": "generalised Pareto (quantile match)" if vetting.TAIL_MODEL
                              else "ranks only", "fraction": vetting.TAIL_FRACTION,
                              "min_group": vetting.MIN_TAIL, "max_shape": vetting.MAX_SHAPE},
                     "seed": cfg.seed},
        "n_scored": int(valid.sum()), "n_excluded": int((~valid).sum()),
        "n_gp_failed_scored": int(unfolded.sum()),
        "timing": {"fit_s": 0.0, "score_s": round(seconds, 2)},
        "class_statistics": stats.class_statistics(score, classes),
        "class_mix": stats.class_mix(score, classes, cfg.top_overlap, demoted),
        "variability": _variability_attrs(cfg, demoted, valid),
        "question_counts": {"flagged (p < 0.1)": counts,
                            f"top{cfg.top_overlap}": {q: int((question[top] == i).sum())
                                                      for i, q in enumerate(vetting.QUESTION_NAMES)}},
        "convergence": {"checked": False, "note": "no forest: the tail probabilities are exact"},
    }
    arrays = {"score": score.astype(np.float64), **_rank_arrays(score, demoted),
              "raw": raw.astype(np.float64), "question": question,
              "surprise": surprise.astype(np.float32)}
    return arrays, attrs
