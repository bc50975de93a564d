"""Training checkpoints: where a killed or budget-stopped training run resumes from.

A checkpoint is a flat dict of arrays (``model/NNN`` every model variable including
the dropout/sampling seed states, ``optimizer/NNN`` Adam's moments and step,
``best/NNN`` the best weights so far, ``history/<key>`` the loss curves) plus a small
JSON ``meta`` (epoch, best epoch, patience counter, schedule horizon, resume key).

Every epoch it is written to ``<store>.work/vae_train-<key>/`` (one ~20 MB file,
replaced atomically with ``os.replace``); at the end of a run it is committed to the
store group ``/vae_train`` with :meth:`Store.write_group` and the work file removed.
Why not every epoch into the store: HDF5 does not reuse the space of a replaced
group once the file is closed, so a ~20 MB group rewritten every epoch would grow
the store by that much per epoch (measured: +16 MB per rewrite of a 16 MB group).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..store import Store
from ..workcache import ChunkCache

logger = logging.getLogger(__name__)

GROUP = "vae_train"
HISTORY_KEYS = ("epoch", "loss", "recon", "kl", "val_loss", "val_recon", "val_kl", "time_s")
_PARTS = ("model", "optimizer", "best")


@dataclass
class TrainState:
    """Where training stands; ``arrays`` hold the variables of the last finished epoch."""

    key: str
    epoch: int = 0                      # epochs finished in all runs
    best_epoch: int = 0
    best_val: float = float("inf")
    wait: int = 0                       # epochs since the best validation loss
    train_time_s: float = 0.0           # wall time spent training in all runs
    stopped: str = ""                   # "", "early_stopping", "epochs", "budget", ...
    horizon: int = 0                    # epoch at which the learning-rate schedule ends (0: unset)
    cycle_start: int = 0                # epoch at which it began
    history: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in HISTORY_KEYS})
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def meta(self) -> dict[str, Any]:
        return {"key": self.key, "epoch": self.epoch, "best_epoch": self.best_epoch,
                "best_val": self.best_val, "wait": self.wait,
                "train_time_s": self.train_time_s, "stopped": self.stopped,
                "horizon": self.horizon, "cycle_start": self.cycle_start}

    def flat(self) -> dict[str, np.ndarray]:
        out = dict(self.arrays)
        for k, v in self.history.items():
            out[f"history/{k}"] = np.asarray(v, dtype="f8")
        return out

    def part(self, name: str) -> dict[str, np.ndarray]:
        prefix = name + "/"
        return {k[len(prefix):]: v for k, v in self.arrays.items() if k.startswith(prefix)}


def _from_flat(meta: dict[str, Any], flat: dict[str, np.ndarray]) -> TrainState:
    st = TrainState(key=str(meta["key"]), epoch=int(meta["epoch"]),
                    best_epoch=int(meta["best_epoch"]), best_val=float(meta["best_val"]),
                    wait=int(meta["wait"]), train_time_s=float(meta["train_time_s"]),
                    stopped=str(meta.get("stopped", "")), horizon=int(meta.get("horizon", 0)),
                    cycle_start=int(meta.get("cycle_start", 0)))
    st.history = {k: [float(x) for x in flat.get(f"history/{k}", [])] for k in HISTORY_KEYS}
    st.arrays = {k: v for k, v in flat.items() if k.split("/")[0] in _PARTS}
    return st


def _cache(store_path: str | Path, key: str) -> ChunkCache:
    return ChunkCache(store_path, GROUP, key)


def save_work(store_path: str | Path, state: TrainState) -> None:
    """Per-epoch checkpoint beside the store (atomic replace)."""
    flat = {k.replace("/", "__"): v for k, v in state.flat().items()}
    _cache(store_path, state.key).save(0, meta=np.array(json.dumps(state.meta())), **flat)


def _load_work(store_path: str | Path, key: str) -> TrainState | None:
    cache = _cache(store_path, key)
    if not cache.has(0):
        return None
    try:
        raw = cache.load(0)
    except (OSError, ValueError, EOFError) as exc:   # a damaged file: start from the store
        logger.warning("%s: ignoring unreadable training checkpoint (%s)", cache.dir, exc)
        return None
    meta = json.loads(str(raw.pop("meta")))
    return _from_flat(meta, {k.replace("__", "/"): v for k, v in raw.items()})


def _load_store(store_path: str | Path, key: str) -> TrainState | None:
    with Store(store_path, "r") as st:
        if not st.has(GROUP):
            return None
        attrs = st.attrs(GROUP)
        if attrs.get("key") != key:
            return None
        flat = {}
        for part in _PARTS + ("history",):
            for name in st.group_keys(f"{GROUP}/{part}"):
                flat[f"{part}/{name}"] = st.read(f"{GROUP}/{part}/{name}")
    return _from_flat(attrs, flat)


def load(store_path: str | Path, key: str) -> TrainState | None:
    """The most advanced checkpoint for ``key`` (work file or store), or None."""
    found = [s for s in (_load_work(store_path, key), _load_store(store_path, key)) if s]
    return max(found, key=lambda s: s.epoch) if found else None


def has_work(store_path: str | Path, key: str) -> bool:
    """Whether a per-epoch checkpoint not yet committed to the store exists."""
    return _cache(store_path, key).has(0)


def clear_work(store_path: str | Path, key: str) -> None:
    _cache(store_path, key).clear()


def commit(store: Store, state: TrainState, extra_attrs: dict[str, Any]) -> None:
    """Write the checkpoint to ``/vae_train`` in one atomic group replace."""
    store.write_group(GROUP, state.flat(), attrs={**state.meta(), **extra_attrs})
