"""One unit of interpolation work, run in a worker process: packed light curves in,
the rows of ``/interp`` out (plain numpy arrays both ways, so any executor can ship them)."""
from __future__ import annotations

import json
import logging
import time

import numpy as np

from ..config import InterpConfig, from_dict, to_dict
from ..fold import phase_grid, scale
from ..store import NOT_INTERPOLATED, Status
from .model import Band2, check_physical, prepare

logger = logging.getLogger(__name__)



def pack(start: int, lcs: list, period: np.ndarray, status: np.ndarray, ids: np.ndarray,
         cfg: InterpConfig) -> dict:
    """Task argument for :func:`run_piece` from store rows ``start:start+len(lcs)``."""
    lens = np.array([len(lc) for lc in lcs], dtype=np.int64)
    cat = lambda name, dt: (np.concatenate([getattr(lc, name) for lc in lcs]).astype(dt)
                            if len(lcs) and lens.sum() else np.zeros(0, dt))
    return {"start": start, "offsets": np.concatenate([[0], np.cumsum(lens)]),
            "time": cat("time", "f8"), "mag": cat("mag", "f8"), "magerr": cat("magerr", "f8"),
            "band": cat("band", "u1"), "period": np.asarray(period, "f8"),
            "status": np.asarray(status, "u4"), "ids": np.asarray(ids).astype("U"),
            "cfg": json.dumps(to_dict(cfg))}


def _empty(m: int, n_phase: int) -> dict:
    nan = np.nan
    return {"mean": np.full((m, 2, n_phase), nan, "f4"), "std": np.full((m, 2, n_phase), nan, "f4"),
            "raw_mean_mag": np.full((m, 2), nan), "raw_std_mag": np.full((m, 2), nan),
            "hyper": np.full((m, 4), nan), "nll": np.full(m, nan),
            "status": np.zeros(m, "u4"), "status_msg": [""] * m}


def run_piece(arg: dict) -> dict:
    """Interpolate the light curves of one task; never raises for one bad object."""
    t0, c0 = time.perf_counter(), time.process_time()
    cfg = from_dict({"interp": json.loads(arg["cfg"])}).interp
    phases = phase_grid(cfg.n_phase)
    off, m = arg["offsets"], len(arg["period"])
    out = _empty(m, cfg.n_phase)
    rows, data = [], []
    for i in range(m):
        st = int(arg["status"][i])
        out["status"][i] = st
        if st & NOT_INTERPOLATED:
            flags = Status(st & NOT_INTERPOLATED)
            out["status_msg"][i] = f"not interpolated: ingest flags {flags!s}"
            continue
        a, b = off[i], off[i + 1]
        d, flag, msg = prepare(arg["time"][a:b], arg["mag"][a:b], arg["magerr"][a:b],
                               arg["band"][a:b], float(arg["period"][i]), cfg.min_points)
        if d is None:
            out["status"][i] |= flag
            out["status_msg"][i] = f"{arg['ids'][i]}: {msg}"
            continue
        rows.append(i)
        data.append(d)
    if data:
        _fill(out, rows, data, cfg, phases, arg["ids"])
    out["status_msg"] = np.array([s.encode("utf-8") for s in out["status_msg"]] or [b""])[:m]
    out["seconds"] = np.float64(time.perf_counter() - t0)
    out["cpu_seconds"] = np.float64(time.process_time() - c0)   # robust on a busy machine
    out["n_fit"] = np.int64(len(data))
    return out


def _fit(data: list[Band2], cfg: InterpConfig, phases: np.ndarray, ids) -> list[tuple]:
    """(mean, std, hyper, nll, status, msg) per object, by the configured method."""
    if cfg.method == "george":
        from .george_ref import fit_george
        res = []
        for d, oid in zip(data, ids):
            try:
                f = fit_george(d, cfg, phases)
                res.append((f.mean, f.std, f.hyper, f.nll, f.status, f.msg))
            except Exception as exc:  # george raises LinAlgError & co for a singular fit
                res.append(_failed(cfg, phases, f"{oid}: george fit failed ({exc})"))
        return res
    from .fast_fit import fit_fast
    try:
        mean, std, hyper, nll, status, msgs = fit_fast(data, cfg, phases)
        return list(zip(mean, std, hyper, nll, status, msgs))
    except Exception as exc:
        if len(data) == 1:
            return [_failed(cfg, phases, f"{ids[0]}: fast fit failed ({exc})")]
        logger.warning("batched fit failed (%s); fitting one by one", exc)
        return [r for d, oid in zip(data, ids) for r in _fit([d], cfg, phases, [oid])]


def _failed(cfg, phases, msg):
    nan = np.full((2, len(phases)), np.nan)
    return nan, nan, np.full(4, np.nan), np.nan, int(Status.GP_FAILED), msg


def _fill(out: dict, rows: list[int], data: list[Band2], cfg, phases, ids) -> None:
    results = _fit(data, cfg, phases, [ids[i] for i in rows])
    for i, d, (mean, std, hyper, nll, status, msg) in zip(rows, data, results):
        out["hyper"][i], out["nll"][i] = hyper, nll
        if status:
            out["status"][i] |= status
            out["status_msg"][i] = msg if msg.startswith(str(ids[i])) else f"{ids[i]}: {msg}"
            continue
        smean, sstd, mbar, sigma = scale(mean + d.offset[:, None], std)
        if not (np.isfinite(smean).all() and np.isfinite(sstd).all()):
            # no usable curve: a failure, never a silent NaN row with status 0
            out["status"][i] |= int(Status.GP_FAILED)
            out["status_msg"][i] = f"{ids[i]}: non-finite interpolation (flat or degenerate band)"
            continue
        why = check_physical(mean, std, d, cfg.unphysical_tolerance)
        if why:
            out["status"][i] |= int(Status.GP_UNPHYSICAL)
            out["status_msg"][i] = f"{ids[i]}: {why}"
        out["mean"][i], out["std"][i] = smean, sstd
        out["raw_mean_mag"][i], out["raw_std_mag"][i] = mbar, sigma
