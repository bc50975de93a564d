"""The ``train`` stage: fit the VAE on the train split, early-stop on validation.

Resumable: every finished epoch is checkpointed (:mod:`engine.vae.checkpoint`); a
rerun with the same settings and inputs continues the epoch count, the loss curve,
Adam's moments, the learning-rate schedule and the random streams where the last run
stopped. ``epochs`` caps the total epochs over all runs; ``minutes`` is the wall-clock
budget of one run.

The cosine schedule (``lr_schedule``) plans a number of epochs, the *horizon*: the
epoch cap without a budget, else the epochs the budget holds at the speed of the
run's second epoch (the first two run at the peak step). The horizon is kept in the checkpoint, so a killed run resumes on the same
schedule, and training ends when it is reached (``stopped == "schedule"``).
"""
from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import provenance as prov
from ..config import VAEConfig, config_hash, to_dict
from ..errors import StageError
from ..progress import Progress, StageGen, Throttle
from ..store import Store
from ..workcache import locked_stage
from . import checkpoint as ckpt
from . import nets, serial
from .data import (ALIGN_MODES, TRAIN, VAL, finite_rows, interp_info, phase_shifts,
                   read_curves, rotate, split_rows)

logger = logging.getLogger(__name__)

STAGE = "train"


def resume_key(cfg: VAEConfig, input_hash: str) -> str:
    """Work-cache key of the checkpoint: which training a run may continue. The epoch
    cap and budget are left out (a longer run continues a shorter one); whether the
    stage is up to date is :mod:`engine.provenance`'s."""
    return config_hash(cfg, input_hash, ignore=("epochs", "minutes", "patience", "n_decode",
                                                "encode_batch", "deterministic"))


@locked_stage("train")
def train(store_path: str | Path, cfg: VAEConfig | None = None, force: bool = False) -> StageGen:
    """Train (or continue training) the VAE of ``store_path``.

    ``force``: train even when the model is up to date (:mod:`engine.provenance`),
    and when the stored training is done (its schedule ended, or early stopping),
    start a new schedule from the trained weights instead of returning.

    Yields
    ------
    Progress
        ``done``/``total`` in epochs; the message has the losses.

    Returns
    -------
    dict
        ``epoch``, ``best_epoch``, ``best_val_loss``, ``stopped`` (why it stopped),
        ``samples_per_s`` and ``run_s`` of this run.
    """
    t_start = time.monotonic()
    cfg = cfg or VAEConfig()
    _check_cfg(cfg)
    up = prov.fresh(store_path, STAGE, cfg, force)
    if up:
        return (yield from prov.skipped(STAGE, up))
    info = interp_info(store_path)
    arch = nets.architecture(cfg, info.n_phase)
    key = resume_key(cfg, info.input_hash)
    state = ckpt.load(store_path, key) or ckpt.TrainState(key=key)
    if force and _finished(state, cfg) and state.epoch < cfg.epochs:
        logger.info("a new learning-rate schedule from epoch %d", state.epoch)
        state.horizon, state.cycle_start, state.wait, state.stopped = 0, state.epoch, 0, ""
    if _finished(state, cfg):
        if ckpt.has_work(store_path, key):   # stopped after the last epoch, before the commit
            state.stopped = state.stopped or _stop_reason(state, cfg, 0.0, 0.0, 0.0)
            _commit(store_path, _make_trainer(arch, cfg, state, store_path), state, arch, cfg,
                    info)
            ckpt.clear_work(store_path, key)
        else:   # the stored model is what these settings train (e.g. only minutes changed)
            with Store(store_path, "a") as st:
                prov.record(st, STAGE, cfg, epoch=state.epoch, best_epoch=state.best_epoch,
                            stopped=state.stopped, reused="stored checkpoint")
        yield Progress(STAGE, state.epoch, _total(state, cfg), f"already done ({state.stopped})",
                       "epoch")
        return _result(state, 0.0, 0)
    yield Progress(STAGE, state.epoch, _total(state, cfg), "reading curves", "epoch")
    x_tr, x_va = _read_splits(store_path, info, cfg)
    trainer = _make_trainer(arch, cfg, state, store_path)
    run = yield from _epochs(trainer, state, cfg, x_tr, x_va, store_path, t_start)
    _commit(store_path, trainer, run["state"], arch, cfg, info)
    ckpt.clear_work(store_path, key)
    return _result(run["state"], run["seconds"], run["samples"])


SCHEDULES = ("cosine", "constant")
#: the cosine schedule ends at this fraction of the peak learning rate, not at zero
LR_FLOOR = 0.02


def _check_cfg(cfg: VAEConfig) -> None:
    if cfg.batch_size < 1 or cfg.epochs < 0 or cfg.minutes < 0 or cfg.patience < 0:
        raise StageError(f"[vae] batch_size must be >= 1 and epochs, minutes, patience >= 0 "
                         f"(got {cfg.batch_size}, {cfg.epochs}, {cfg.minutes}, {cfg.patience})")
    if cfg.lr_schedule not in SCHEDULES:
        raise StageError(f"[vae] lr_schedule must be one of {', '.join(SCHEDULES)}, "
                         f"not {cfg.lr_schedule!r}")
    if cfg.align not in ALIGN_MODES:
        raise StageError(f"[vae] align must be one of {', '.join(ALIGN_MODES)}, not {cfg.align!r}")
    if not cfg.learning_rate > 0 or cfg.kl_weight < 0:
        raise StageError(f"[vae] learning_rate must be > 0 and kl_weight >= 0 "
                         f"(got {cfg.learning_rate}, {cfg.kl_weight})")


def learning_rate(cfg: VAEConfig, progress: float) -> float:
    """The Adam step at ``progress`` (epochs done / horizon, 0..1) of the schedule."""
    if cfg.lr_schedule == "constant":
        return cfg.learning_rate
    u = min(max(progress, 0.0), 1.0)
    return cfg.learning_rate * (LR_FLOOR + (1.0 - LR_FLOOR) * 0.5 * (1.0 + np.cos(np.pi * u)))


def _finished(state: ckpt.TrainState, cfg: VAEConfig) -> bool:
    return bool(state.epoch >= cfg.epochs or (cfg.patience and state.wait >= cfg.patience)
                or _schedule_done(state, cfg))


def _schedule_done(state: ckpt.TrainState, cfg: VAEConfig) -> bool:
    return 0 < state.horizon <= state.epoch


def _read_splits(store_path, info, cfg: VAEConfig) -> tuple[np.ndarray, np.ndarray]:
    tr = split_rows(info, TRAIN, cfg.max_train, cfg.seed)
    va = split_rows(info, VAL, cfg.max_train // 3 if cfg.max_train else 0, cfg.seed)
    if len(tr) == 0 or len(va) == 0:
        raise StageError(f"{store_path}: /interp/split has {len(tr)} train and {len(va)} "
                         "validation objects; both are needed to train")
    x_tr, x_va = read_curves(store_path, tr), read_curves(store_path, va)
    x_tr, x_va = x_tr[finite_rows(store_path, tr, x_tr)], x_va[finite_rows(store_path, va, x_va)]
    return (rotate(x_tr, phase_shifts(x_tr, cfg.align)),
            rotate(x_va, phase_shifts(x_va, cfg.align)))


def _make_trainer(arch, cfg: VAEConfig, state: ckpt.TrainState, store_path):
    from .runtime import device_name, seed_everything
    from .trainer import VAETrainer

    seed_everything(cfg.seed, cfg.deterministic)
    trainer = VAETrainer(arch, cfg)
    where = f"{store_path} /{ckpt.GROUP}"
    if state.arrays:
        trainer.set_arrays(state.part("model"), state.part("optimizer"), where)
        logger.info("resuming training at epoch %d", state.epoch)
    logger.info("training on %s", device_name())
    return trainer


def _epochs(trainer, state: ckpt.TrainState, cfg: VAEConfig, x_tr, x_va, store_path,
            t0: float) -> StageGen:
    """Run epochs until a stop condition; the state returned is the last finished epoch.

    The budget counts from ``t0`` (the start of the run). Every run finishes at least
    one epoch, so repeated short runs always progress; after that an epoch that would
    end past the budget (timed on the previous one, from the second epoch on) is not
    started, and one that runs past it is abandoned.
    """
    samples, cycle_s, run_epochs = 0, 0.0, 0
    budget, t_train = cfg.minutes * 60.0, time.monotonic()
    planned = cfg.lr_schedule != "constant"
    best = state.part("best") or trainer.weights()
    while True:
        stop = _stop_reason(state, cfg, time.monotonic() - t0, cycle_s, budget)
        if stop:
            state.stopped = stop
            break
        te = time.monotonic()
        if planned and not state.horizon and not budget:
            state.horizon = cfg.epochs
        losses = yield from _one_epoch(trainer, state, cfg, x_tr, t0, budget if samples else 0)
        if losses is None:   # budget ran out mid-epoch: keep the last finished epoch
            state.stopped = "budget"
            break
        epoch_s = time.monotonic() - te
        samples += len(x_tr)
        val = trainer.evaluate(x_va)
        best = _update(state, trainer, losses, val, epoch_s, best)
        run_epochs += 1
        # plan the schedule on what the budget holds, timed on this run's second epoch
        # (the first one also traces the TensorFlow functions)
        if planned and not state.horizon and run_epochs >= 2:
            _plan(state, cfg, budget - (time.monotonic() - t0), time.monotonic() - te)
        state.arrays = {**trainer.get_arrays(), **{f"best/{k}": v for k, v in best.items()}}
        ckpt.save_work(store_path, state)
        # with validation and checkpoint: the next epoch's cost; not from the run's first
        # epoch, whose tracing can take longer than many epochs (the second one still
        # stops at the budget, mid-epoch if need be)
        cycle_s = time.monotonic() - te if run_epochs >= 2 else 0.0
        yield Progress(STAGE, state.epoch, _total(state, cfg), _message(state), "epoch")
    return {"state": state, "seconds": time.monotonic() - t_train, "samples": samples}


def _plan(state, cfg: VAEConfig, left_s: float, epoch_s: float) -> None:
    """Horizon of the schedule: the epochs that ``left_s`` more seconds hold (5% margin
    for the checkpoint), at most the epoch cap."""
    fit = int(left_s // max(1.05 * epoch_s, 1e-6))
    state.horizon = int(min(cfg.epochs, state.epoch + max(fit, 0)))
    logger.info("learning-rate schedule planned over %d epochs", state.horizon)


def _total(state, cfg: VAEConfig) -> int:
    return state.horizon or cfg.epochs


def _stop_reason(state, cfg: VAEConfig, elapsed: float, epoch_s: float, budget: float) -> str:
    if state.epoch >= cfg.epochs:
        return "epochs"
    if cfg.patience and state.wait >= cfg.patience:
        return "early_stopping"
    if _schedule_done(state, cfg):
        return "schedule"
    if budget and epoch_s and elapsed + epoch_s > budget:
        return "budget"
    return ""


def _one_epoch(trainer, state, cfg: VAEConfig, x_tr, t0: float, budget: float) -> StageGen:
    """One shuffled pass; returns mean (loss, recon, kl), or None if past ``budget`` (s)."""
    # The shuffle depends only on (seed, epoch), so a resumed run sees the same order.
    order = np.random.default_rng([cfg.seed, state.epoch]).permutation(len(x_tr))
    sums, throttle = np.zeros(3), Throttle(0.5)
    n_batches = -(-len(x_tr) // cfg.batch_size)
    for b in range(n_batches):
        if budget and time.monotonic() - t0 > budget:
            return None
        idx = np.sort(order[b * cfg.batch_size:(b + 1) * cfg.batch_size])
        if state.horizon:   # (an unplanned first epoch runs at the peak step)
            trainer.set_learning_rate(learning_rate(
                cfg, (state.epoch - state.cycle_start + b / n_batches)
                / max(state.horizon - state.cycle_start, 1)))
        sums += len(idx) * np.array(trainer.train_batch(x_tr[idx]))
        if throttle():
            yield Progress(STAGE, state.epoch, _total(state, cfg),
                           f"epoch {state.epoch + 1} batch {b + 1}/{n_batches} "
                           f"loss {sums[0] / min((b + 1) * cfg.batch_size, len(x_tr)):.3f}", "epoch")
    return tuple(sums / len(x_tr))


def _update(state, trainer, losses, val, epoch_s: float, best: dict) -> dict:
    state.epoch += 1
    state.train_time_s += epoch_s
    row = (state.epoch, *losses, *val, state.train_time_s)
    for k, v in zip(ckpt.HISTORY_KEYS, row):
        state.history[k].append(float(v))
    if val[0] < state.best_val:
        state.best_val, state.best_epoch, state.wait = float(val[0]), state.epoch, 0
        return trainer.weights()
    state.wait += 1
    return best


def _message(state) -> str:
    h = state.history
    return (f"loss {h['loss'][-1]:.3f} val {h['val_loss'][-1]:.3f} "
            f"(best {state.best_val:.3f} @ {state.best_epoch})"
            + (f" of {state.horizon} planned" if state.horizon else ""))


def _commit(store_path, trainer, state, arch, cfg: VAEConfig, info) -> None:
    """``/vae_train`` (checkpoint) and ``/vae`` (best model + history) in the store."""
    if state.epoch == 0:
        raise StageError(f"{store_path}: the time budget ({cfg.minutes} min) ended before "
                         "the first epoch finished; give --minutes more time")
    trainer.set_weights(state.part("best"), f"{store_path} /{ckpt.GROUP}")
    blob = serial.model_to_bytes(trainer.model)
    attrs = {**serial.model_attrs(arch), "model_id": hashlib.sha1(blob.tobytes()).hexdigest()[:16],
             "config": to_dict(cfg), "epoch": state.epoch,
             "best_epoch": state.best_epoch, "best_val_loss": state.best_val,
             "input_hash": info.input_hash, "stopped": state.stopped,
             "horizon": state.horizon}
    hist = {f"history/{k}": np.asarray(v) for k, v in state.history.items()}
    with Store(store_path, "a") as st:
        ckpt.commit(st, state, {"architecture": arch, "config": to_dict(cfg)})
        st.write_group("vae", {"model": blob, **hist}, attrs=attrs)
        prov.record(st, STAGE, cfg, epoch=state.epoch, best_epoch=state.best_epoch,
                    stopped=state.stopped)


def _result(state, seconds: float, samples: int) -> dict[str, Any]:
    return {"epoch": state.epoch, "best_epoch": state.best_epoch,
            "best_val_loss": state.best_val, "stopped": state.stopped, "horizon": state.horizon,
            "run_s": round(seconds, 2),
            "samples_per_s": round(samples / seconds, 1) if seconds else 0.0}
