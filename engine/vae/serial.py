"""Keras models to and from bytes in the store, loaded in Keras safe mode.

A model is stored as the bytes of a ``.keras`` file (a zip of JSON config and
weights) with attrs ``fingerprint`` (:func:`engine.vae.nets.architecture_hash` of its
architecture), ``architecture`` (JSON) and ``keras_version``. Loading uses
``safe_mode=True``: Keras then refuses ``Lambda`` layers and any other way of
running stored Python code; only the registered ``pvsvet>`` layers are resolved.
"""
from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

import numpy as np

from ..errors import ModelError
from . import nets

logger = logging.getLogger(__name__)


def model_to_bytes(model) -> np.ndarray:
    """The ``.keras`` file of ``model`` as a uint8 array (without optimiser state)."""
    with tempfile.TemporaryDirectory(prefix="pvsvet-vae-") as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path, include_optimizer=False)
        with open(path, "rb") as fh:
            return np.frombuffer(fh.read(), dtype="u1").copy()


def model_attrs(arch: dict[str, Any]) -> dict[str, Any]:
    """Attributes stored next to the model bytes."""
    import keras

    return {"fingerprint": nets.architecture_hash(arch), "architecture": arch,
            "keras_version": keras.__version__, "model_format": nets.MODEL_FORMAT}


def check_compatible(attrs: dict[str, Any], arch: dict[str, Any] | None, where: str) -> None:
    """Raise :class:`ModelError` when a stored model is not one this code can use."""
    fmt = int(attrs.get("model_format", -1))
    if fmt != nets.MODEL_FORMAT:
        raise ModelError(f"{where}: model format {fmt} was written by another pvsvet version "
                         f"(this one reads format {nets.MODEL_FORMAT}); retrain with "
                         "`pvsvet-engine train`")
    stored = attrs.get("architecture") or {}
    if arch is not None and attrs.get("fingerprint") != nets.architecture_hash(arch):
        diff = {k: (stored.get(k), v) for k, v in arch.items() if stored.get(k) != v}
        detail = ", ".join(f"{k}: stored {a} vs configured {b}" for k, (a, b) in diff.items())
        raise ModelError(f"{where}: the stored model has another architecture ({detail}); "
                         "retrain with `pvsvet-engine train` or use the stored settings")


def model_from_bytes(blob: np.ndarray | bytes, attrs: dict[str, Any],
                     arch: dict[str, Any] | None, where: str):
    """Load a stored model in safe mode after checking its version and architecture.

    Parameters
    ----------
    blob : the ``.keras`` file bytes
    attrs : the stored attrs (:func:`model_attrs`)
    arch : the architecture the caller expects; ``None`` accepts the stored one
    where : store path and group, for messages
    """
    check_compatible(attrs, arch, where)
    nets.keras_objects()   # registers the custom layers
    import keras

    data = blob.tobytes() if isinstance(blob, np.ndarray) else bytes(blob)
    with tempfile.TemporaryDirectory(prefix="pvsvet-vae-") as tmp:
        path = os.path.join(tmp, "model.keras")
        with open(path, "wb") as fh:
            fh.write(data)
        try:
            model = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as exc:  # Keras raises ValueError/TypeError/zip errors alike
            raise ModelError(f"{where}: cannot load the stored model ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:200]})") from exc
    _check_layers(model, attrs, where)
    return model


def _check_layers(model, attrs: dict[str, Any], where: str) -> None:
    """The loaded graph must be the VAE its architecture claims (bytes can be swapped)."""
    arch = attrs.get("architecture") or {}
    try:
        enc, dec = model.get_layer("encoder"), model.get_layer("decoder")
        latent = enc.get_layer("mu").units
        n_phase = dec.output.shape[-1]
    except (ValueError, AttributeError) as exc:
        raise ModelError(f"{where}: the stored model is not a pvsvet VAE ({exc})") from exc
    if latent != arch.get("latent_dim") or n_phase != arch.get("n_phase"):
        raise ModelError(f"{where}: the stored model (latent {latent}, {n_phase} phases) does "
                         f"not match its recorded architecture {arch}")


def variables_to_arrays(variables) -> dict[str, np.ndarray]:
    """Keras variables -> ``{"000": array, ...}`` in order (weights, seeds, optimiser)."""
    return {f"{i:03d}": np.asarray(v.numpy()) for i, v in enumerate(variables)}


def assign_arrays(variables, arrays: dict[str, np.ndarray], where: str) -> None:
    """Inverse of :func:`variables_to_arrays`, checking count and shapes."""
    keys = sorted(arrays)
    if len(keys) != len(variables):
        raise ModelError(f"{where}: checkpoint has {len(keys)} variables, the model has "
                         f"{len(variables)}")
    for key, var in zip(keys, variables):
        arr = arrays[key]
        if tuple(arr.shape) != tuple(var.shape):
            raise ModelError(f"{where}: checkpoint variable {key} ({var.path}) has shape "
                             f"{arr.shape}, the model has {tuple(var.shape)}")
        var.assign(arr.astype(var.dtype))
