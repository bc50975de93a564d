"""The convolutional VAE of appendix A, built with Keras 3.

The Keras classes are defined inside :func:`keras_objects` (cached), so importing
this module does not import TensorFlow; every function that needs Keras calls it.

Layout (``H`` = 2 bands, ``W`` = 160 phases, 1 channel)::

    encoder: (2,160) -> reshape (2,160,1)
             -> [PeriodicPad -> Conv2D(f, (3,4), strides (1,2), relu) -> Dropout] x 3
             -> flatten -> dense 256 (linear) -> mu (10), logvar (10) -> Sampling -> z
    decoder: z -> dense (2*20*128, relu) -> reshape (2,20,128)
             -> Conv2DTranspose 64, 32 (relu) -> Conv2DTranspose 1 (linear) -> (2,160)

The periodic padding wraps the phase axis (a light curve is periodic in phase) and
zero-pads the two-row band axis so the (3, 4) kernel keeps both bands; with one
column of wrap on each side a stride-2 convolution halves the width exactly
(160 -> 80 -> 40 -> 20), so a circular shift of the input by 8 phase bins shifts
the last feature map by one column.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
from types import SimpleNamespace
from typing import Any

from ..config import VAEConfig

logger = logging.getLogger(__name__)

#: Bumped whenever the layer graph, the custom layers or the input convention change
#: incompatibly (2: the phase alignment of the input curves is part of the model).
MODEL_FORMAT = 2
N_BANDS = 2
N_PHASE = 160


def architecture(cfg: VAEConfig, n_phase: int = N_PHASE) -> dict[str, Any]:
    """The settings that define the network's weights (not how it is trained).

    ``align`` is among them: a model trained on phase-aligned curves does not describe
    curves in the catalogue's phases, and the other way round.
    """
    return {"model_format": MODEL_FORMAT, "n_bands": N_BANDS, "n_phase": int(n_phase),
            "align": str(cfg.align),
            "latent_dim": int(cfg.latent_dim), "filters": [int(f) for f in cfg.filters],
            "kernel": [int(k) for k in cfg.kernel], "strides": [int(s) for s in cfg.strides],
            "dense": int(cfg.dense), "dropout": float(cfg.dropout)}


def architecture_hash(arch: dict[str, Any]) -> str:
    """Short stable hash of :func:`architecture`; stored with every model (attr
    ``fingerprint``: which network this is, not a provenance record)."""
    return hashlib.sha256(json.dumps(arch, sort_keys=True).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def keras_objects() -> SimpleNamespace:
    """Define and register the custom Keras layers once; return them."""
    import keras
    from keras import layers, ops

    @keras.saving.register_keras_serializable(package="pvsvet")
    class PeriodicPad(layers.Layer):
        """Wrap ``phase_pad`` columns around the phase axis and zero-pad the band axis.

        Input and output are (batch, bands, phases, channels).
        """

        def __init__(self, phase_pad=(1, 1), band_pad=(1, 1), **kwargs):
            super().__init__(**kwargs)
            self.phase_pad = tuple(int(p) for p in phase_pad)
            self.band_pad = tuple(int(p) for p in band_pad)

        def call(self, x):
            left, right = self.phase_pad
            parts = ([x[:, :, -left:, :]] if left else []) + [x] + \
                    ([x[:, :, :right, :]] if right else [])
            x = ops.concatenate(parts, axis=2) if len(parts) > 1 else x
            top, bottom = self.band_pad
            return ops.pad(x, [[0, 0], [top, bottom], [0, 0], [0, 0]])

        def compute_output_shape(self, shape):
            b, h, w, c = shape
            grow_h, grow_w = sum(self.band_pad), sum(self.phase_pad)
            return (b, None if h is None else h + grow_h, None if w is None else w + grow_w, c)

        def get_config(self):
            return {**super().get_config(), "phase_pad": list(self.phase_pad),
                    "band_pad": list(self.band_pad)}

    @keras.saving.register_keras_serializable(package="pvsvet")
    class Sampling(layers.Layer):
        """Reparameterisation: z = mu + exp(logvar / 2) * eps, eps ~ N(0, 1)."""

        def __init__(self, seed=None, **kwargs):
            super().__init__(**kwargs)
            self.seed = seed
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, inputs):
            mu, logvar = inputs
            eps = keras.random.normal(ops.shape(mu), dtype=mu.dtype, seed=self.seed_generator)
            return mu + ops.exp(0.5 * logvar) * eps

        def get_config(self):
            return {**super().get_config(), "seed": self.seed}

    return SimpleNamespace(keras=keras, layers=layers, ops=ops,
                           PeriodicPad=PeriodicPad, Sampling=Sampling)


def _pads(kernel_w: int, stride_w: int, kernel_h: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Wrap so that a 'valid' conv gives width W / stride, and zero rows so height stays."""
    total_w = max(kernel_w - stride_w, 0)
    total_h = kernel_h - 1
    return (total_w // 2, total_w - total_w // 2), (total_h // 2, total_h - total_h // 2)


def build_encoder(arch: dict[str, Any], seed: int = 0):
    """Encoder model: (N, 2, 160) -> [mu, logvar, z], each (N, latent_dim)."""
    k = keras_objects()
    L = k.layers
    (kh, kw), (sh, sw) = arch["kernel"], arch["strides"]
    phase_pad, band_pad = _pads(kw, sw, kh)
    x_in = k.keras.Input((arch["n_bands"], arch["n_phase"]), name="curves")
    x = L.Reshape((arch["n_bands"], arch["n_phase"], 1), name="as_image")(x_in)
    for i, f in enumerate(arch["filters"], start=1):
        x = k.PeriodicPad(phase_pad, band_pad, name=f"pad{i}")(x)
        x = L.Conv2D(f, (kh, kw), strides=(sh, sw), padding="valid", activation="relu",
                     name=f"conv{i}")(x)
        x = L.Dropout(arch["dropout"], seed=seed + i, name=f"drop{i}")(x)
    x = L.Flatten(name="flatten")(x)
    h = L.Dense(arch["dense"], activation="linear", name="dense")(x)
    mu = L.Dense(arch["latent_dim"], name="mu")(h)
    logvar = L.Dense(arch["latent_dim"], name="logvar")(h)
    z = k.Sampling(seed=seed, name="z")([mu, logvar])
    return k.keras.Model(x_in, [mu, logvar, z], name="encoder")


def build_decoder(arch: dict[str, Any]):
    """Decoder model: (N, latent_dim) -> (N, 2, 160); transposed convs, no padding trick."""
    k = keras_objects()
    L = k.layers
    (kh, kw), (sh, sw) = arch["kernel"], arch["strides"]
    filters = list(arch["filters"])
    n_conv = len(filters)
    h0, w0 = arch["n_bands"] // sh ** n_conv, arch["n_phase"] // sw ** n_conv
    z_in = k.keras.Input((arch["latent_dim"],), name="z")
    x = L.Dense(h0 * w0 * filters[-1], activation="relu", name="dense")(z_in)
    x = L.Reshape((h0, w0, filters[-1]), name="as_map")(x)
    for i, f in enumerate(reversed(filters[:-1]), start=1):
        x = L.Conv2DTranspose(f, (kh, kw), strides=(sh, sw), padding="same",
                              activation="relu", name=f"deconv{i}")(x)
    x = L.Conv2DTranspose(1, (kh, kw), strides=(sh, sw), padding="same",
                          activation="linear", name=f"deconv{n_conv}")(x)
    out = L.Reshape((arch["n_bands"], arch["n_phase"]), name="curves")(x)
    return k.keras.Model(z_in, out, name="decoder")


def build_vae(arch: dict[str, Any], seed: int = 0):
    """The whole VAE as one functional model: x -> [reconstruction, mu, logvar].

    ``model.get_layer("encoder")`` and ``model.get_layer("decoder")`` are the halves.
    """
    _check_arch(arch)
    k = keras_objects()
    encoder = build_encoder(arch, seed)
    decoder = build_decoder(arch)
    x_in = k.keras.Input((arch["n_bands"], arch["n_phase"]), name="curves")
    mu, logvar, z = encoder(x_in)
    recon = decoder(z)
    return k.keras.Model(x_in, [recon, mu, logvar], name="pvsvet_vae")


def _check_arch(arch: dict[str, Any]) -> None:
    from ..errors import ConfigError

    sh, sw = arch["strides"]
    n = len(arch["filters"])
    if sh != 1:
        raise ConfigError("[vae] strides: the band axis has 2 rows; its stride must be 1")
    if arch["n_phase"] % sw ** n:
        raise ConfigError(f"[vae] strides: {arch['n_phase']} phases are not divisible by "
                          f"{sw}^{n} (stride^number of conv layers)")
    if not 0 <= arch["dropout"] < 1:
        raise ConfigError(f"[vae] dropout must be in [0, 1), got {arch['dropout']}")
    from .data import ALIGN_MODES

    if arch["align"] not in ALIGN_MODES:
        raise ConfigError(f"[vae] align must be one of {', '.join(ALIGN_MODES)}, "
                          f"not {arch['align']!r}")


def conv_stack(model):
    """The padded conv stack of the encoder (input -> last conv, before flatten/dense)."""
    k = keras_objects()
    enc = model.get_layer("encoder") if model.name != "encoder" else model
    n = sum(1 for layer in enc.layers if layer.name.startswith("conv"))
    return k.keras.Model(enc.input, enc.get_layer(f"conv{n}").output, name="conv_stack")
