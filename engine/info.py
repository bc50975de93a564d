"""``pvsvet-engine info STORE [--json]``: what a store holds.

Object and class counts, ingest status flags, injected-anomaly truth (demo stores),
which stage groups exist with a summary of their attributes (settings, convergence
figures), the ``/runs`` provenance and failures per stage (flags and the most common
messages). Works on any store, including one where no stage has run yet.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
from collections import Counter
from typing import Any

import numpy as np

from . import schema
from .store import Status, Store

logger = logging.getLogger(__name__)

#: Stage groups reported, in pipeline order ("scores" is expanded to its spaces).
STAGE_GROUPS = (schema.SIM, schema.INTERP, schema.VAE_TRAIN, schema.VAE, schema.SCORES,
                schema.CONTEXT)
TOP_MESSAGES = 5
_MAX_STR = 160
_MAX_ITEMS = 12


def _flag_kinds(group: str) -> tuple[type, int]:
    """The flag enum a group's ``status`` is written with, and which of its bits mean the
    stage failed for the object (the others are notes: a demo's synthetic photometry, a
    fallback extinction map, points in other bands kept out).

    ``/context/status`` holds :class:`engine.context.objects.ContextStatus` bits, not the
    ingest :class:`Status` ones: decoding it with ``Status`` reported every synthetic
    context (bit 1) as ``REJECTED_CUT``.
    """
    if group == schema.CONTEXT:
        from .context.objects import ContextStatus as C

        return C, int(C.QUERY_FAILED | C.NOT_CACHED | C.FIT_FAILED)
    if group == "objects":
        from .store import NOT_INTERPOLATED

        return Status, int(NOT_INTERPOLATED)
    return Status, int(Status.GP_FAILED | Status.GP_UNPHYSICAL)


def flag_counts(status: np.ndarray, flags: type = Status) -> dict[str, int]:
    """Objects carrying each flag of ``flags`` (name -> count), only flags present."""
    status = np.asarray(status, dtype=np.uint64)
    out = {}
    for flag in flags:
        if flag.value and (n := int(np.count_nonzero(status & np.uint64(flag.value)))):
            out[flag.name] = n
    return out


def _summarise(value: Any, depth: int = 0) -> Any:
    """Shorten an attribute for display: long strings cut, long lists and dicts trimmed."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value if len(value) <= _MAX_STR else value[:_MAX_STR] + "..."
    if isinstance(value, dict):
        if depth > 2:
            return f"{{{len(value)} keys}}"
        items = list(value.items())
        out = {str(k): _summarise(v, depth + 1) for k, v in items[:_MAX_ITEMS]}
        if len(items) > _MAX_ITEMS:
            out["..."] = f"{len(items) - _MAX_ITEMS} more"
        return out
    if isinstance(value, (list, tuple)):
        if len(value) > _MAX_ITEMS:
            return [_summarise(v, depth + 1) for v in value[:_MAX_ITEMS]] + [
                f"... {len(value) - _MAX_ITEMS} more"]
        return [_summarise(v, depth + 1) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    return value


def _failures(status: np.ndarray, msgs: np.ndarray | None, group: str) -> dict[str, Any]:
    flags, failing = _flag_kinds(group)
    status = np.asarray(status, dtype=np.uint64)
    bad = (status & np.uint64(failing)) != 0
    out: dict[str, Any] = {"n_failed": int(bad.sum()), "n_flagged": int((status != 0).sum()),
                           "flags": flag_counts(status, flags)}
    if msgs is not None and bad.any():
        common = Counter(str(m) for m in np.asarray(msgs)[bad] if str(m)).most_common(TOP_MESSAGES)
        out["messages"] = [[m, int(c)] for m, c in common]
    return out


def _group_names(store: Store) -> list[str]:
    names = []
    for g in STAGE_GROUPS:
        if g == schema.SCORES:
            names += [schema.score_group(k) for k in store.group_keys(schema.SCORES)
                      if not k.startswith("_")]
        elif store.has(g):
            names.append(g)
    return names


def _is_dataset(store: Store, name: str) -> bool:
    try:
        store.shape(name)
        return True
    except (AttributeError, TypeError):
        return False


def _group_info(store: Store, name: str) -> dict[str, Any]:
    info: dict[str, Any] = {"attrs": _summarise(store.attrs(name)), "datasets": {}}
    for key in store.group_keys(name):
        full = f"{name}/{key}"
        if _is_dataset(store, full):
            info["datasets"][key] = list(store.shape(full))
        else:
            info["datasets"][key] = {k: (list(store.shape(f"{full}/{k}"))
                                         if _is_dataset(store, f"{full}/{k}") else "group")
                                     for k in store.group_keys(full)}
    keys = store.group_keys(name)
    if "status" in keys and _is_dataset(store, f"{name}/status"):
        msgs = store.read(f"{name}/status_msg") if "status_msg" in keys else None
        if msgs is not None and msgs.dtype.kind == "S":
            msgs = np.char.decode(msgs, "utf-8", "replace")
        info["failures"] = _failures(store.read(f"{name}/status"), msgs, name)
    return info


def _objects_info(store: Store) -> dict[str, Any]:
    n = store.n_objects
    cols = set(store.object_columns)
    want = [c for c in ("class", "status", "status_msg", "truth_anomaly", "truth_kind")
            if c in cols]
    o = store.read_objects(want) if n else {c: np.array([]) for c in want}
    out: dict[str, Any] = {"n_objects": n}
    if "class" in o:
        out["classes"] = {str(k): int(v) for k, v in
                          sorted(Counter(o["class"].tolist()).items(), key=lambda kv: -kv[1])}
    if "status" in o:
        out["ingest"] = _failures(o["status"], o.get("status_msg"), "objects")
    if "truth_anomaly" in o and n:
        anomalous = np.asarray(o["truth_anomaly"]) != 0
        kinds = o.get("truth_kind", np.full(n, ""))[anomalous]
        if anomalous.any() or store.has(schema.SIM):
            out["truth"] = {"n_anomalies": int(anomalous.sum()),
                            "kinds": dict(sorted(Counter(kinds.tolist()).items()))}
    return out


def _variability_info(store: Store) -> dict[str, Any]:
    """How many curves are consistent with noise (constant-model significance below the
    threshold of the last score run, else the default) and whether the rankings put them
    last; {} before the fold statistics exist."""
    from .config import ScoreConfig

    if not store.has(schema.VARIABILITY_SIGMA):
        return {}
    sigma = np.asarray(store.read(schema.VARIABILITY_SIGMA), dtype=np.float64)
    spaces = ([schema.score_group(k) for k in store.group_keys(schema.SCORES)]
              if store.has(schema.SCORES) else [])
    used = next((store.attrs(g)["variability"] for g in spaces
                 if isinstance(store.attrs(g).get("variability"), dict)), {})
    sigma_min = float(used.get("variability_sigma_min", ScoreConfig().variability_sigma_min))
    return {"n_not_variable": int((np.isfinite(sigma) & (sigma < sigma_min)).sum()),
            "n_with_significance": int(np.isfinite(sigma).sum()),
            "variability_sigma_min": sigma_min,
            "ranked_last": bool(used.get("demote_nonvariable", False))}


def collect(store_path: str | os.PathLike) -> dict[str, Any]:
    """Everything ``info`` reports, as a JSON-serialisable dict.

    Raises
    ------
    engine.errors.StoreError
        ``store_path`` does not exist or is not a pvsvet store.
    """
    with Store(store_path, "r") as store:
        meta = store.meta
        out: dict[str, Any] = {
            "store": str(store_path),
            "schema_version": int(meta.get("schema_version", 0)),
            "pvsvet_version": str(meta.get("pvsvet_version", "")),
            "created": str(meta.get("created", "")),
            "file_size_mb": round(os.path.getsize(store_path) / 2 ** 20, 1),
        }
        out.update(_objects_info(store))
        variability = _variability_info(store)
        if variability:
            out["variability"] = variability
        out["groups"] = {g: _group_info(store, g) for g in _group_names(store)}
        out["runs"] = [{k: r.get(k, "") for k in ("stage", "status", "started", "finished",
                                                   "config_hash")}
                       | {k: _summarise(v) for k, v in r.items()
                          if k not in ("stage", "status", "started", "finished", "config_hash",
                                       "input_hash", "code_version")}
                       for r in store.runs()]
    out["failures"] = {"ingest": out.get("ingest", {}).get("n_failed", 0)} | {
        g: v["failures"]["n_failed"] for g, v in out["groups"].items() if "failures" in v}
    return out


def _fmt_counts(counts: dict[str, int], total: int) -> list[str]:
    return [f"  {k:<22s} {v:>9,d}  {100.0 * v / max(total, 1):5.1f}%" for k, v in counts.items()]


def _fmt_group(name: str, g: dict[str, Any]) -> list[str]:
    lines = [f"  /{name}"]
    by_shape: dict[str, list[str]] = {}
    for key, shape in g["datasets"].items():
        label = "group" if isinstance(shape, dict) else str(shape)
        by_shape.setdefault(label, []).append(key)
    for label, keys in by_shape.items():
        text = " ".join(keys)
        lines.append(f"      {label}: {text if len(text) <= 100 else text[:97] + '...'}")
    for key, val in g["attrs"].items():
        text = json.dumps(val, default=str) if not isinstance(val, str) else val
        lines.append(f"      @{key} = {text if len(text) <= 100 else text[:97] + '...'}")
    if "failures" in g:
        lines += _fmt_failures(g["failures"], "      ")
    return lines


def _fmt_failures(f: dict[str, Any], indent: str) -> list[str]:
    flagged = f.get("n_flagged", f["n_failed"])
    lines = [f"{indent}failed: {f['n_failed']:,d}"
             + (f" (flagged, failed or not: {flagged:,d})" if flagged != f["n_failed"] else "")]
    lines += [f"{indent}  {k}: {v:,d}" for k, v in f.get("flags", {}).items()]
    lines += [f"{indent}  {c:>7,d} x {m}" for m, c in f.get("messages", [])]
    return lines


def format_text(info: dict[str, Any]) -> str:
    """Human-readable report of :func:`collect`."""
    n = info["n_objects"]
    lines = [f"{info['store']}: pvsvet store, schema {info['schema_version']}, "
             f"written by pvsvet {info['pvsvet_version']}, created {info['created']}, "
             f"{info['file_size_mb']} MB",
             f"objects: {n:,d}"]
    if info.get("classes"):
        lines += ["classes:"] + _fmt_counts(info["classes"], n)
    if "ingest" in info:
        lines += ["ingest status:"] + _fmt_failures(info["ingest"], "  ")
    if "variability" in info:
        v = info["variability"]
        lines.append(f"not significantly variable (constant-model chi^2 < "
                     f"{v['variability_sigma_min']:g} sigma): {v['n_not_variable']:,d} of "
                     f"{v['n_with_significance']:,d}"
                     + ("; ranked last in every space" if v["ranked_last"] else
                        "; not demoted in the rankings"))
    if "truth" in info:
        lines += [f"injected anomalies (ground truth): {info['truth']['n_anomalies']:,d}"]
        lines += _fmt_counts(info["truth"]["kinds"], n)
    lines.append("stage groups:" if info["groups"] else "stage groups: none yet")
    for name, g in info["groups"].items():
        lines += _fmt_group(name, g)
    lines.append("runs:" if info["runs"] else "runs: none")
    for r in info["runs"]:
        extra = {k: v for k, v in r.items()
                 if k not in ("stage", "status", "started", "finished", "config_hash")}
        lines.append(f"  {r['stage']:<12s} {r['status']:<9s} {r['started']} -> {r['finished']}"
                     f"  config {r['config_hash'] or '-'}"
                     + (f"  {json.dumps(extra, default=str)}" if extra else ""))
    return "\n".join(lines)


def configure_info(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="a pvsvet store (HDF5)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def cli_info(args: argparse.Namespace) -> int:
    info = collect(args.store)
    print(json.dumps(info, indent=2, default=str) if args.json else format_text(info))
    return 0
