"""Reading what the GUI shows from the store, in short read-only blocks (no Qt).

Every function opens the store, reads, and closes it again: the engine opens the
file for writing only at commits, and a handle held by the GUI would block them.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine import schema
from engine.errors import StoreError
from engine.store import Store

from .catalog import OPTIONAL, SCORE_SPACES, Catalog

logger = logging.getLogger(__name__)

#: Store paths whose presence the panes care about.
KNOWN_GROUPS = (schema.INTERP, schema.INTERP_MEAN, schema.VAE, schema.VAE_MU, schema.VAE_MODEL,
                schema.CONTEXT, schema.SIM) + tuple(schema.score_group(sp) for sp in SCORE_SPACES)
MODEL_GROUPS = {schema.VAE_MODEL}


@dataclass
class ObjectDetail:
    """What the panes show of one object (read in one store access)."""

    row: int
    object_id: str = ""
    period: float = float("nan")
    lightcurve: Any = None            # engine.store.LightCurve
    interp: dict | None = None        # mean, std (2,160) scaled; raw_mean_mag, raw_std_mag; phase
    context: dict | None = None       # engine.context.load_context(...)
    context_message: str = ""
    busy: bool = False                # the store was being written; try again
    error: str = ""


def file_signature(path: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime in ns) of the store file, None when it is gone: a cheap test
    of whether anything wrote it (a replaced file has a new inode)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def store_stamp(path: Path, wait: float = 0.0) -> tuple:
    """What every commit changes: the store-wide group write counter (each atomic group
    replace), the object and light-curve counts (ingest, fetch appends), the run records
    (every stage ends with one) and the /meta digest (saved settings). A store that is
    being written raises StoreError("busy") at once with ``wait=0``."""
    with Store(path, "r", wait=wait) as s:
        counts = tuple(s.shape(n)[0] if s.has(n) else 0
                       for n in (schema.LC_OFFSETS, schema.RUN_RECORDS))
        return (s.group_writes, s.n_objects, *counts,
                str(s.attrs(schema.META).get("digest", "")))


def load_catalog(path: Path, wait: float = 5.0) -> tuple[Catalog, set[str]]:
    """The table's arrays and the set of stage groups present."""
    with Store(path, "r", wait=wait) as s:
        n = s.n_objects
        have = set(s.object_columns)
        cols = s.read_objects(["id", "name", "class", "period", "mean_g", "mean_r"],
                              decode=False)
        extra = s.read_objects([k for k in OPTIONAL if k in have], decode=False)
        groups = {g for g in KNOWN_GROUPS if s.has(g)}
        spaces = schema.scored_spaces(s, SCORE_SPACES)
        cat = Catalog(
            ids=cols["id"], names=cols["name"], classes=cols["class"],
            period=cols["period"].astype("f8"),
            gr=(cols["mean_g"] - cols["mean_r"]).astype("f4"),
            scores={sp: schema.padded(s, schema.score_path(sp, "score"), n) for sp in spaces},
            ranks={sp: schema.padded(s, schema.score_path(sp, "rank"), n, "i4")
                   for sp in schema.scored_spaces(s, spaces, need="rank")},
            flags=(schema.padded(s, schema.INTERP_STATUS, n, "u4")
                   | schema.padded(s, schema.OBJECTS_STATUS, n, "u4")),
            extra=extra,
            runs={sp: schema.written(s, schema.score_group(sp)) for sp in spaces},
            added=_added(s, spaces, n))
        if s.has(schema.score_path("vetting", "surprise")):
            _read_vetting(s, cat, n)
            cat.vet_surprise[~np.isfinite(cat.score("vetting"))] = np.nan   # unscored rows
        if s.has(schema.INTERP_STATUS_MSG):
            cat.flag_msgs = s.read(schema.INTERP_STATUS_MSG)[:n]
        _read_variability(s, cat, spaces, n)
    return cat, groups


def _read_variability(s: Store, cat: Catalog, spaces: list[str], n: int) -> None:
    """The engine's not-variable flag (same in every space) and the significance."""
    flagged = schema.scored_spaces(s, spaces, need="not_variable")
    if flagged:
        cat.not_variable = schema.padded(s, schema.score_path(flagged[0], "not_variable"), n,
                                         "u1").astype(bool)
    if s.has(schema.VARIABILITY_SIGMA):
        cat.variability_sigma = schema.padded(s, schema.VARIABILITY_SIGMA, n)


def _added(s: Store, spaces: list[str], n: int) -> np.ndarray:
    """Per-row stamp of ``run --new-only`` (``/scores/<space>/added``: 0 the fitted
    population, k the k-th run); -1 for rows appended after the last scoring."""
    out = np.zeros(n, dtype="i4")
    scored = max((s.shape(schema.score_path(sp, "score"))[0] for sp in spaces), default=n)
    stamped = next((sp for sp in spaces if s.has(schema.score_path(sp, "added"))), None)
    if stamped:
        data = s.read(schema.score_path(stamped, "added"))[:n]
        out[:len(data)] = data
    out[min(scored, n):] = -1
    return out


def _read_vetting(s: Store, cat: Catalog, n: int) -> None:
    """The per-question −log10 p of the vetting space and the questions' texts."""
    data = np.asarray(s.read(schema.score_path("vetting", "surprise")), dtype="f4")[:n]
    surprise = np.full((n, data.shape[1]), np.nan, "f4")
    surprise[:len(data)] = data
    attrs = s.attrs(schema.score_group("vetting"))
    cat.vet_surprise = surprise
    cat.question_names = [str(q) for q in attrs.get("features", [])]
    cat.question_text = {str(k): str(v) for k, v in (attrs.get("questions") or {}).items()}


#: Score spaces whose forest feature matrix a viewer can plot, in chooser order.
FEATURE_SPACES = schema.FOREST_SPACES


def feature_columns(path: Path, wait: float = 5.0) -> dict[str, tuple[str, int]]:
    """Plot axis name -> (space, column) of the feature matrices the score stage stored
    (``/scores/<space>/features``, column names in its ``features`` attribute). Names
    are the store's (mu_0…, r, theta_1…, log10_period, m_gr); a name already given by an
    earlier space (the same numbers) is not repeated; later spaces' own features are
    prefixed with the space."""
    out: dict[str, tuple[str, int]] = {}
    with Store(path, "r", wait=wait) as s:
        for space in FEATURE_SPACES:
            if not s.has(schema.score_path(space, "features")):
                continue
            for j, name in enumerate(schema.feature_names(s, space)):
                if name in out:
                    continue
                key = name if schema.SCORE_SPACES[space].latent else f"{space}: {name}"
                out.setdefault(key, (space, j))
    return out


def read_feature(path: Path, space: str, column: int, wait: float = 5.0) -> np.ndarray:
    """One column of ``/scores/<space>/features`` for every object (float64)."""
    with Store(path, "r", wait=wait) as s:
        return np.asarray(s.read(schema.score_path(space, "features"))[:, column], dtype="f8")


def last_angle(path: Path, wait: float = 5.0) -> str:
    """The last-angle convention the spherical space was scored with ('paper' default)."""
    with Store(path, "r", wait=wait) as s:
        if s.has(schema.score_group("spherical")):
            settings = s.attrs(schema.score_group("spherical")).get("settings") or {}
            return str(settings.get("last_angle", "paper"))
    return "paper"


@dataclass(frozen=True)
class BandNames:
    """Legend names of the two pipeline bands: ``simulated`` for the first
    ``n_simulated`` rows (the demo's own objects), ``observed`` for the rest (objects a
    user's ingest appended to the demo, or every object of an ingested store)."""

    observed: tuple[str, str] = ("g", "r")
    simulated: tuple[str, str] = ("g (simulated ZTF)", "r (simulated ZTF)")
    n_simulated: int = 0

    def for_row(self, row: int | None) -> tuple[str, str]:
        return self.simulated if row is not None and 0 <= row < self.n_simulated else self.observed


def band_labels(path: Path, groups: set[str], wait: float = 5.0) -> BandNames:
    """Names of the two pipeline bands for the legend: "simulated ZTF" for the demo's
    objects (all rows of a simulated store, or the first ``n_objects`` the demo made, by
    /sim's attribute or its run's, when ingest appended real photometry after them), the
    survey for the others when the store records one (``survey`` in /meta or in the ingest
    run), else plain g and r (ingest maps ZTF, SDSS and PS1 g/r alike onto them)."""
    with Store(path, "r", wait=wait) as s:
        run = s.last_run("ingest") or {}
        survey = str(s.meta.get("survey") or run.get("survey") or "").strip()
        n_sim = 0
        if schema.SIM in groups:
            made = (s.attrs(schema.SIM).get("n_objects")
                    or (s.last_run("demo") or {}).get("n_objects"))
            n_sim = min(int(made or s.n_objects), s.n_objects)
    observed = (f"{survey} g", f"{survey} r") if survey else ("g", "r")
    return BandNames(observed=observed, n_simulated=n_sim)


def load_latent(path: Path, groups: set[str], wait: float = 5.0) -> tuple[np.ndarray | None,
                                                                           dict | None]:
    """VAE latent means (N, 10) and the HR-diagram data, each None when absent."""
    latent, hr = None, None
    with Store(path, "r", wait=wait) as s:
        if schema.VAE_MU in groups:
            latent = np.asarray(s.read(schema.VAE_MU), dtype="f4")[:s.n_objects]
        if schema.CONTEXT in groups:
            hr = _load_hr(s)
    return latent, hr


def _load_hr(store: Store) -> dict:
    try:
        from engine import context
    except ImportError:
        return {"message": "engine.context is not installed"}
    out: dict[str, Any] = {}
    for key, fn in (("points", "hr_points"), ("background", "hr_background")):
        try:
            out[key] = getattr(context, fn)(store)
        except Exception as exc:  # a broken /context must not stop the GUI
            logger.warning("%s: %s failed: %s", store.path, fn, exc)
            out[key] = None
    try:
        out["mowlavi"] = context.mowlavi_line(store)
    except Exception as exc:
        logger.warning("mowlavi_line failed: %s", exc)
    return out


def read_detail(path: Path, row: int, catalog: Catalog, groups: set[str],
                wait: float = 0.3) -> ObjectDetail:
    """Light curve, interpolation and context of one object in one read-only block."""
    det = ObjectDetail(row=row, object_id=catalog.object_id(row),
                       period=float(catalog.period[row]))
    try:
        with Store(path, "r", wait=wait) as s:
            det.lightcurve = s.lightcurve(row)
            if schema.INTERP_MEAN in groups:
                det.interp = _read_interp(s, row)
            if schema.CONTEXT in groups:
                det.context, det.context_message = _read_context(s, row)
            else:
                det.context_message = "no cross-match yet — Run ▸ Context"
    except StoreError as exc:
        if "busy" in str(exc):
            det.busy = True
        else:
            det.error = str(exc)
    return det


def _read_interp(s: Store, row: int) -> dict:
    out = {k: np.asarray(s.read(schema.dataset(schema.INTERP, k), rows=row))
           for k in ("mean", "std", "raw_mean_mag", "raw_std_mag")}
    out["phase"] = (np.asarray(s.read(schema.INTERP_PHASE)) if s.has(schema.INTERP_PHASE)
                    else np.linspace(0, 1, out["mean"].shape[-1], endpoint=False))
    out["status"] = (int(s.read(schema.INTERP_STATUS, rows=row))
                     if s.has(schema.INTERP_STATUS) else 0)
    msg = s.read(schema.INTERP_STATUS_MSG, rows=row) if s.has(schema.INTERP_STATUS_MSG) else b""
    out["status_msg"] = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else str(msg)
    return out


def _read_context(s: Store, row: int) -> tuple[dict | None, str]:
    try:
        from engine.context import load_context
    except ImportError:
        return None, "engine.context is not installed"
    try:
        ctx = load_context(s, row)
    except Exception as exc:  # show the reason in the pane, keep the GUI alive
        logger.warning("%s: context of row %d unreadable: %s", s.path, row, exc)
        return None, f"context unreadable: {exc}"
    if ctx is None:
        return None, "not in the context sample (Run ▸ Context covers the top-ranked objects)"
    return ctx, str(ctx.get("message", "") or "")


def read_lightcurves(path: Path, rows, wait: float = 0.3) -> list:
    """Raw photometry of several objects in one read-only block (the similar-objects
    grid); raises engine.errors.StoreError (``busy`` while a stage commits)."""
    with Store(path, "r", wait=wait) as s:
        return [s.lightcurve(int(r)) for r in rows]
