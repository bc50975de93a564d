"""``pvsvet-engine run STORE --new-only``: score appended objects without retraining.

Objects only ever join a store at the end of ``/objects`` (``ingest``, ``fetch
lightcurves`` and ``fetch lightcurves --hats`` append), so the rows a scored store has
not seen yet are the rows past the end of ``/interp``. ``--new-only`` takes them
through the three stages that need no population:

1. interpolate: the same GP fit per object, in the work cache's resumable chunks
   (:func:`engine.gp.stage.compute_chunks`), appended to ``/interp``; they get split
   255 (not trained on, which is true);
2. encode: the stored VAE's latent means (and appendix-C residual), appended to ``/vae``;
3. score: each space's isolation forest scores them with the trees the score stage
   fitted on the original population and kept in ``/scores/<space>/forest_*`` (plain
   arrays, no pickled model). A store scored before the trees were kept has them grown
   again from the rows they were fitted on (``/scores/<space>/features`` up to
   ``fitted_rows``, the stored settings and seed): scikit-learn grows the same trees
   from the same rows and seed (tested), and keeps them from then on. Either way the
   forest must reproduce the stored raw scores of old rows before it scores a new one.
   The new rows' raw scores are appended; the old rows' are not touched, while the
   normalised score (raw / max raw) and the ranks are recomputed over everyone, since
   they compare objects.

Each step commits one store group atomically and the next run starts where the row
counts say, so a killed run resumes. ``/scores/<space>/added`` stamps every row: 0 for
the population the forests were fitted on, k for rows added by the k-th ``--new-only``
run (the GUI marks and filters them). At the end the four stages are recorded as up to
date (``train`` with ``kept_model``), so a plain ``run`` skips them; ``run --force``
retrains and refits everything, the advised step once the added rows are a sizeable
part of the population (:data:`RETRAIN_FRACTION`), because the model and the forests
only know the population they were fitted on.

The ``residual`` space is taken along, with one caveat: its feature, the appendix-C
residual, is a Monte-Carlo mean of ``n_decode`` decodes, so a new row's residual (and
raw score there) matches a one-go run only to that sampling noise; the paper's
``cartesian`` and ``spherical`` spaces match exactly.

The ``diagnostic`` and ``vetting`` spaces compare each object with the whole population
(the diagnostic features are one-sided about population medians; the vetting questions
are tail fractions among peers), so an added object changes everyone's figures there:
``--new-only`` rescores those two spaces whole, over old and new rows, as the score stage
does (a forest refitted on everyone for the diagnostic space, the tail probabilities for
the vetting one; seconds per 100,000 objects, no model is retrained), and stamps their
rows as it stamps the others. Not incremental: rows whose photometry, period or flags
changed after the fit (a re-ingested object): ``--new-only`` refuses them with one line
and a plain ``run`` (which then redoes everything) is the answer.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import Any

import numpy as np

from . import config as C
from . import provenance as prov
from .errors import StageError
from .progress import Progress, StageGen
from .store import Store, utc_now
from .workcache import ChunkCache, locked_stage

logger = logging.getLogger(__name__)

STAGE = "new-only"
#: spaces whose features are a function of the object alone, so a forest can score an
#: object that was not there when it was fitted
INCREMENTAL_SPACES = ("cartesian", "spherical", "residual")
#: spaces that compare each object with the whole population: rescored whole
POPULATION_SPACES = ("diagnostic", "vetting")
#: above this fraction of new rows (of the fitted population) a full retrain is advised
RETRAIN_FRACTION = 0.2
#: old rows rescored with the regrown forest as a check that it is the stored one
CHECK_ROWS = 2000
#: per-row datasets of the groups extended here (everything else is copied as it is)
ROW_DATASETS = {"interp": ("mean", "std", "raw_mean_mag", "raw_std_mag", "hyper", "nll",
                           "status", "status_msg", "split"),
                "vae": ("mu", "logvar", "recon_residual")}
_COPY_BLOCK = 16384


@dataclasses.dataclass
class Rows:
    """How far each stage's output reaches (rows ``0:n``)."""

    objects: int
    interp: int
    vae: int
    scores: dict[str, int]
    fitted: int

    @property
    def new(self) -> int:
        return self.objects - min(self.scores.values())


# -- checks -----------------------------------------------------------------------
def rows_of(store: Store, cfg: C.Config) -> Rows:
    """Row counts of a scored store; a one-line :class:`StageError` when it is not one."""
    need = ["interp/mean", "vae/mu", "vae/model"] + [f"scores/{s}/raw" for s in cfg.score.spaces]
    missing = [p for p in need if not store.has(p)]
    if missing:
        raise StageError(f"{store.path}: --new-only needs a scored store (/{missing[0]} is "
                         f"missing); run `pvsvet-engine run {store.path}` first")
    scores = {s: store.shape(f"scores/{s}/raw")[0] for s in cfg.score.spaces}
    # the population the model and the kept forests were fitted on (the population
    # spaces are refitted on everyone, and keep this number as theirs)
    fitted = min(int(store.attrs(f"scores/{s}").get("fitted_rows", scores[s]))
                 for s in cfg.score.spaces)
    rows = Rows(store.n_objects, store.shape("interp/mean")[0], store.shape("vae/mu")[0],
                scores, fitted)
    if not rows.objects >= rows.interp >= rows.vae >= max(scores.values()):
        raise StageError(f"{store.path}: /interp ({rows.interp} rows), /vae ({rows.vae}) and "
                         f"/scores ({max(scores.values())}) do not nest; run a full "
                         "`pvsvet-engine run --force`")
    return rows


def _check_settings(store: Store, cfg: C.Config) -> None:
    """The settings must be those the kept outputs were made with."""
    for name in ("interpolate", "train", "encode", "score"):
        section = prov.GRAPH[name].section
        _, rec = prov.last_ok(store, name)
        if rec is None:
            raise StageError(f"{store.path}: stage {name} has never run; run "
                             f"`pvsvet-engine run {store.path}` first")
        if rec.get("config_hash") != prov.settings_hash(name, prov.settings_of(cfg, name)):
            raise StageError(f"{store.path}: the [{section}] settings differ from those of the "
                             f"last {name} run; --new-only keeps its results, so it needs the "
                             "same settings (or run a full `pvsvet-engine run`)")


def prefix_digests(store: Store, n: int) -> set[str]:
    """The ingest fingerprint (:func:`engine.provenance.fingerprint`) of rows ``0:n``.

    Appending longer ids widens the id column, which changes its bytes but not its
    values: one digest per width the old ids could have been stored at.
    """
    cols = store.read_objects(["id", "period", "status"], rows=slice(0, n), decode=False)
    offsets = store.read("lightcurves/offsets")[:n + 1]
    ids = cols["id"]
    shortest = max(1, int(np.char.str_len(ids).max())) if n else 1
    return {prov.digest(np.int64(n), ids.astype(f"S{w}"), cols["period"], cols["status"], offsets)
            for w in range(shortest, ids.dtype.itemsize + 1)}


def _check_old_rows(store: Store, rows: Rows) -> None:
    """The rows the last recorded interpolation saw must be unchanged. That is ``/vae``'s
    or ``/interp``'s extent (a run killed after extending ``/interp`` recorded nothing)."""
    _, rec = prov.last_ok(store, "interpolate")
    seen = ((rec or {}).get("inputs") or {}).get("ingest")
    if not seen:
        logger.warning("%s: the last interpolate run recorded no ingest fingerprint; "
                       "cannot check that the old rows are unchanged", store.path)
        return
    if not any(seen in prefix_digests(store, n) for n in sorted({rows.vae, rows.interp})):
        raise StageError(f"{store.path}: objects among the first {rows.vae} rows changed "
                         "since they were interpolated (photometry, period or flags); --new-only only "
                         "adds rows: run a full `pvsvet-engine run`")


# -- the run --------------------------------------------------------------------------
def plan_new_only(store_path, cfg: C.Config) -> dict[str, Any]:
    """What ``run --new-only`` would do now (no work done)."""
    with Store(store_path, "r") as store:
        rows = rows_of(store, cfg)
        _check_settings(store, cfg)
        _check_old_rows(store, rows)
    return _summary(rows)


def _summary(rows: Rows) -> dict[str, Any]:
    frac = rows.new / max(rows.fitted, 1)
    out = {"rows": rows.objects, "fitted_rows": rows.fitted, "new_rows": rows.new,
           "interpolate": rows.objects - rows.interp, "encode": rows.objects - rows.vae,
           "score": rows.new, "new_fraction": round(frac, 4)}
    if rows.objects - rows.fitted > RETRAIN_FRACTION * rows.fitted:
        out["advice"] = (f"{rows.objects - rows.fitted} rows were added after the fit, more "
                         f"than {RETRAIN_FRACTION:.0%} of the {rows.fitted} the model and "
                         "forests know: a full retrain (`pvsvet-engine run --force`) is advised")
    return out


@locked_stage(STAGE)
def run_new_only(store_path, cfg: C.Config | None = None, executor=None) -> StageGen:
    """Interpolate, encode and score the rows added since the store was scored.

    Parameters
    ----------
    store_path : a scored store with rows appended
    cfg : all settings (must be those of the last full run, see module docs)
    executor : where interpolation chunks run; default from ``cfg.pipeline``

    Returns (as the generator's value) a dict: the row counts, ``seconds`` per step and
    ``advice`` when a full retrain is advised.
    """
    cfg = cfg or C.Config()
    with Store(store_path, "r") as store:
        rows = rows_of(store, cfg)
        _check_settings(store, cfg)
        _check_old_rows(store, rows)
    out = _summary(rows)
    out["seconds"] = {}
    if rows.new == 0:
        yield Progress(STAGE, 1, 1, "no new objects", "step")
        return out
    run_no = _next_increment(store_path, cfg)
    t = time.perf_counter()
    if rows.interp < rows.objects:
        yield from _interpolate(store_path, cfg, rows.interp, rows.objects, executor)
    yield from _fold_stats(store_path)
    for name in ("interpolate", "foldstats"):     # the population spaces read them as fresh
        _record(store_path, name, cfg, min(rows.scores.values()), rows.objects)
    out["seconds"]["interpolate"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    if rows.vae < rows.objects:
        yield from _encode(store_path, cfg.vae, rows.vae, rows.objects)
    out["seconds"]["encode"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    for space in cfg.score.spaces:
        if space in INCREMENTAL_SPACES and rows.scores[space] < rows.objects:
            yield from _score(store_path, cfg.score, space, rows.scores[space], run_no)
    population = tuple(s for s in cfg.score.spaces
                       if s in POPULATION_SPACES and rows.scores[s] < rows.objects)
    if population:
        yield from _rescore_whole(store_path, cfg.score, population, rows.fitted, run_no)
    out["seconds"]["score"] = round(time.perf_counter() - t, 2)
    for name in ("train", "encode", "score"):
        _record(store_path, name, cfg, min(rows.scores.values()), rows.objects)
    out["increment"] = run_no
    yield Progress(STAGE, 1, 1, f"{rows.new} new objects scored", "step")
    return out


def _next_increment(store_path, cfg: C.Config) -> int:
    """Number of this ``--new-only`` run: one more than the largest stamp so far (a
    resumed run keeps the number of the one it finishes)."""
    with Store(store_path, "r") as store:
        stamps = [int(store.attrs(f"scores/{s}").get("increments_done", 0))
                  for s in cfg.score.spaces]
        partial = len({store.shape(f"scores/{s}/raw")[0] for s in cfg.score.spaces}) > 1
    return max(stamps) + (0 if partial else 1)


def _record(store_path, name: str, cfg: C.Config, a: int, b: int) -> None:
    """Record stage ``name`` as up to date with its inputs as they are now (foldstats
    only where the store has it)."""
    extra: dict[str, Any] = {"via": "new-only", "rows": [a, b]}
    if name == "train":
        extra["kept_model"] = True
        extra["note"] = "not retrained: rows added by --new-only were encoded by this model"
    with Store(store_path, "a") as store:
        if name == "foldstats" and not store.has(name):
            return
        prov.record(store, name, prov.settings_of(cfg, name), **extra)


# -- interpolate ------------------------------------------------------------------------
def _interpolate(store_path, cfg: C.Config, a: int, n: int, executor) -> StageGen:
    from .executors import make_executor
    from .gp.stage import compute_chunks

    icfg = cfg.interp
    with Store(store_path, "r") as store:
        key = C.config_hash(icfg, a, n,
                            prov.fingerprint(store, "ingest"))
    cache = ChunkCache(store_path, "interpolate-new", key)
    starts = list(range(a, n, max(1, icfg.chunk_size)))
    done_before = cache.done_starts()
    todo = [s for s in starts if s not in done_before]
    done = sum(min(icfg.chunk_size, n - s) for s in starts if s in done_before)
    own = executor is None
    if own:
        p = cfg.pipeline
        executor = make_executor(p.workers, p.scheduler, p.dask_local)
    try:
        yield from compute_chunks(store_path, icfg, cache, todo, executor, done, n - a)
    finally:
        if own:
            executor.close()
    yield Progress("interpolate", n - a, n - a, "appending to /interp", "lc")
    parts = [cache.load(s) for s in starts]
    new = {k: np.concatenate([p[k] for p in parts]) for k in ROW_DATASETS["interp"]
           if k != "split" and k != "status_msg"}
    width = max(p["status_msg"].dtype.itemsize for p in parts)
    new["status_msg"] = np.concatenate([p["status_msg"].astype(f"S{width}") for p in parts])
    # not trained on: the model and the split are the old population's
    new["split"] = np.full(n - a, 255, "u1")
    extend_group(store_path, "interp", a, new)
    cache.clear()


def _fold_stats(store_path) -> StageGen:
    """Extend ``/foldstats`` (per-object statistics of the fold, e.g. the variability
    significance that demotes noise-like curves) to the new rows; recorded at the end
    as made from the extended ``/interp``, so the score stage does not recompute them."""
    from .anomaly.foldstats import GROUP, fold_stats_steps

    with Store(store_path, "r") as st:
        if not st.has(GROUP):
            return
        a = st.shape(f"{GROUP}/{st.group_keys(GROUP)[0]}")[0]
        if a >= st.shape("interp/mean")[0]:
            return
    new = yield from fold_stats_steps(store_path, start=a)
    extend_group(store_path, GROUP, a, new)


# -- encode -------------------------------------------------------------------------------
def _encode(store_path, cfg: C.VAEConfig, a: int, n: int) -> StageGen:
    from .vae.data import interp_info
    from .vae.encoding import _Coder, encode_rows, load_model

    info = interp_info(store_path)
    cod = _Coder(load_model(store_path, cfg), cfg.n_decode, cfg.seed, cfg.align)
    rows = a + np.flatnonzero(info.encodable[a:n])
    mu = np.full((n - a, cod.latent), np.nan, "f4")
    logvar, res = mu.copy(), np.full((n - a, 2), np.nan, "f4")
    yield from encode_rows(store_path, cod, rows, cfg.encode_batch, (mu, logvar, res), base=a)
    extend_group(store_path, "vae", a, {"mu": mu, "logvar": logvar, "recon_residual": res})


# -- score --------------------------------------------------------------------------------
def regrow_forest(features: np.ndarray, settings: dict, n_jobs: int = 1, block: int = 512):
    """The isolation forest of a scored space, grown again from its stored fit rows.

    ``features``: ``/scores/<space>/features`` up to ``fitted_rows`` (float32, NaN rows
    were not fitted); ``settings``: the group's ``settings`` attribute. The stage fitted
    ``float32`` copies of the same rows with the same seed (the forest converts its
    input to float32), and scikit-learn's trees are a function of rows and seed.
    """
    from .anomaly.forest import FastIsolationForest

    x = np.asarray(features, dtype=np.float32)
    x = x[np.isfinite(x).all(axis=1)]
    est = FastIsolationForest(int(settings["n_estimators"]), int(settings["max_samples"]),
                              int(settings["seed"]), n_jobs, block)
    return est.fit(x)


def _raw(est, x: np.ndarray) -> np.ndarray:
    """Liu et al.'s raw score of rows ``x`` (NaN where a feature is missing)."""
    raw = np.full(len(x), np.nan)
    ok = np.isfinite(x).all(axis=1)
    if ok.any():
        raw[ok] = 2.0 ** (-est.path_sums(x[ok]) / est.norm_)
    return raw


def _score(store_path, cfg: C.ScoreConfig, space: str, a: int, run_no: int) -> StageGen:
    from .anomaly import stats
    from .anomaly.features import load_features
    from .anomaly.forest import tree_arrays
    from .anomaly.stage import _rank_arrays, _variability_attrs

    from .anomaly.forest import TREE_KEYS, forest_from_arrays

    group = f"scores/{space}"
    with Store(store_path, "r") as st:
        attrs = st.attrs(group)
        old = {k: st.read(f"{group}/{k}") for k in st.group_keys(group)}
        classes = (st.read_objects(["class"])["class"] if "class" in st.object_columns
                   else None)
    added = old.pop("added", np.zeros(a, "i4"))
    fitted = int(attrs.get("fitted_rows", a))
    if all(k in old for k in TREE_KEYS):
        est = forest_from_arrays(old, cfg.n_jobs, cfg.block)
    else:   # scored before the trees were kept: grow them again from the same rows
        yield Progress("score", 0, 2, f"{space}: growing the fitted forest again", "forest")
        est = regrow_forest(old["features"][:fitted], attrs["settings"], cfg.n_jobs, cfg.block)
        old.update(tree_arrays(est))
    _check_regrown(store_path, space, est, old, fitted)
    feats = load_features(store_path, cfg.last_angle)
    x_new = np.asarray(feats.space(space)[a:], dtype=np.float32)
    yield Progress("score", 1, 2, f"{space}: scoring {len(x_new)} new objects", "forest")
    raw = np.concatenate([old["raw"], _raw(est, x_new)])
    score = stats.normalise(raw)
    demoted = _demoted(store_path, cfg, old, len(raw))
    cls = classes if classes is not None else np.full(len(raw), "", "U1")
    attrs.update({
        "fitted_rows": fitted, "increments_done": run_no,
        "n_scored": int(np.isfinite(raw).sum()), "n_excluded": int((~np.isfinite(raw)).sum()),
        "class_statistics": stats.class_statistics(score, cls),
        "class_mix": stats.class_mix(score, cls, cfg.top_overlap, demoted),
        "increments": list(attrs.get("increments") or []) + [
            {"run": run_no, "rows": [a, len(raw)], "finished": utc_now()}]})
    for k in ("written", "write_id"):
        attrs.pop(k, None)
    if "variability" in attrs:
        attrs["variability"] = _variability_attrs(cfg, demoted, np.isfinite(raw))
    arrays = {**old, "score": score, **_rank_arrays(score, demoted), "raw": raw,
              "features": np.concatenate([old["features"], x_new]).astype(np.float32),
              "added": np.concatenate([added, np.full(len(x_new), run_no, "i4")])}
    with Store(store_path, "a") as st:
        st.write_group(group, arrays, attrs)
    yield Progress("score", 2, 2, f"{space}: done", "forest")


def _rescore_whole(store_path, cfg: C.ScoreConfig, spaces: tuple[str, ...], fitted: int,
                   run_no: int) -> StageGen:
    """The population spaces scored again over every row (the score stage's own code and
    settings), their rows stamped as the incremental spaces' are."""
    from .anomaly.features import load_features
    from .anomaly.stage import _demoted as stage_demoted, _fold_stats as stage_fold_stats
    from .anomaly.stage import _plain

    sub = dataclasses.replace(cfg, spaces=spaces)
    fold = yield from stage_fold_stats(store_path, sub)   # extended and recorded above
    extra = {}
    with Store(store_path, "r") as st:
        n = st.shape("interp/mean")[0]
        for space in spaces:
            group = f"scores/{space}"
            attrs = st.attrs(group) if st.has(group) else {}
            a = st.shape(f"{group}/raw")[0] if st.has(f"{group}/raw") else 0
            added = (st.read(f"{group}/added") if st.has(f"{group}/added")
                     else np.zeros(a, "i4"))
            stamps = np.concatenate([added[:a], np.full(n - a, run_no, "i4")])
            extra[space] = ({"added": stamps}, {
                "fitted_rows": fitted, "increments_done": run_no, "rescored_whole": True,
                "increments": list(attrs.get("increments") or []) + [
                    {"run": run_no, "rows": [a, n], "finished": utc_now(),
                     "note": "population space: every row rescored"}]})
    yield Progress("score", 0, 1, f"{', '.join(spaces)}: rescoring every row (they compare "
                   "each object with the population)", "forest")
    feats = load_features(store_path, cfg.last_angle)
    yield from _plain(store_path, sub, feats, fold, stage_demoted(fold, sub), extra,
                      record=False)


def _demoted(store_path, cfg: C.ScoreConfig, old: dict, n: int) -> np.ndarray | None:
    """Rows ranked last (curves consistent with noise), as the score stage demoted them:
    only when it did (``not_variable`` stored), from ``/foldstats`` extended above."""
    from .anomaly.foldstats import GROUP

    if "not_variable" not in old or not cfg.demote_nonvariable:
        return None
    from .anomaly import stats

    with Store(store_path, "r") as st:
        sigma = st.read(f"{GROUP}/variability_sigma") if st.has(
            f"{GROUP}/variability_sigma") else None
    if sigma is None or len(sigma) != n:
        raise StageError(f"{store_path}: /foldstats does not cover the new rows; run a full "
                         "`pvsvet-engine run --force --stages score`")
    return stats.not_variable(sigma, cfg.variability_sigma_min)


def _check_regrown(store_path, space: str, est, old: dict, fitted: int) -> None:
    """The forest (stored or regrown) must give the stored raw scores of (a sample of)
    the old rows: it is then the one that scored them."""
    rows = np.flatnonzero(np.isfinite(old["raw"][:fitted]))
    if len(rows) > CHECK_ROWS:
        rows = rows[np.linspace(0, len(rows) - 1, CHECK_ROWS).astype(int)]
    got = _raw(est, np.asarray(old["features"][rows], dtype=np.float32))
    if not np.allclose(got, old["raw"][rows], rtol=1e-12, atol=0):
        worst = float(np.nanmax(np.abs(got - old["raw"][rows])))
        raise StageError(f"{store_path}: the {space} forest does not reproduce the stored "
                         f"scores (max difference {worst:.2g}; "
                         "another scikit-learn version?); run a full "
                         "`pvsvet-engine run --force --stages score`")


# -- store groups --------------------------------------------------------------------------
def extend_group(store_path, name: str, a: int, new: dict[str, np.ndarray],
                 attrs_update: dict | None = None) -> None:
    """Rewrite group ``name`` with its per-row datasets cut at row ``a`` and ``new``
    appended (one atomic commit); its other datasets and attributes are kept.

    The old rows are copied in blocks, so memory stays bounded for a 730k store.
    """
    with Store(store_path, "r") as st:
        keys = _datasets(st, name)
        attrs = st.attrs(name)
    for k in ("written", "write_id"):
        attrs.pop(k, None)
    attrs.update(attrs_update or {})
    with Store(store_path, "a") as st:
        with st.writing_group(name) as g:
            for key in keys:
                path = f"{name}/{key}"
                if key not in new:
                    g.create_dataset(key, data=st.read(path))
                    continue
                add = np.asarray(new[key])
                dtype = _wider(st.read(path, rows=slice(0, 0)).dtype, add.dtype)
                shape = (a + len(add),) + add.shape[1:]
                ds = g.create_dataset(key, shape=shape, dtype=dtype,
                                      chunks=(max(1, min(shape[0], 4096)),) + shape[1:]
                                      if shape[0] else None)
                for s in range(0, a, _COPY_BLOCK):
                    ds[s:min(a, s + _COPY_BLOCK)] = st.read(path, rows=slice(
                        s, min(a, s + _COPY_BLOCK))).astype(dtype)
                ds[a:] = add.astype(dtype)
            for key, val in attrs.items():
                g.attrs[key] = json.dumps(val) if isinstance(val, (dict, list)) else val


def _datasets(st: Store, name: str, prefix: str = "") -> list[str]:
    """Dataset paths under group ``name`` (relative), subgroups included."""
    out = []
    for key in st.group_keys(name):
        full = f"{name}/{key}"
        if not _is_dataset(st, full):
            out += [f"{key}/{k}" for k in _datasets(st, full)]
        else:
            out.append(key)
    return out


def _is_dataset(st: Store, path: str) -> bool:
    try:
        st.shape(path)
        return True
    except AttributeError:
        return False


def _wider(old: np.dtype, new: np.dtype) -> np.dtype:
    if old.kind == "S" and new.kind == "S":
        return np.dtype(f"S{max(old.itemsize, new.itemsize)}")
    return old



def copy_objects(src_path, dst_path, rows: slice) -> range:
    """Append rows of one store's ``/objects`` and light curves to another store (created
    when missing): a new list of objects arriving, for the tests and the benchmark."""
    with Store(src_path, "r") as src:
        cols = src.read_objects(rows=rows)
        start, stop, _ = rows.indices(src.n_objects)
        lcs = src.lightcurves(start, stop)
    with Store.open_or_create(dst_path) as dst:
        return dst.append_objects(cols, lcs)
