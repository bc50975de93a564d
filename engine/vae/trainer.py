"""The VAE's loss and compiled train/eval steps (no store access here).

Loss per light curve (eqs. 7-8): the squared error summed over the D = 2 x 160
pixels (eq. 7's D/N * sum over all samples is D times the per-pixel mean) plus
``kl_weight`` times the KL divergence of N(mu, exp(logvar)) from N(0, 1); the
batch loss is the mean over light curves.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..config import VAEConfig
from . import nets, serial
from .runtime import tensorflow

logger = logging.getLogger(__name__)

EVAL_BATCH = 8192


class VAETrainer:
    """Model, optimiser and compiled steps for one architecture.

    Parameters
    ----------
    arch : dict, :func:`engine.vae.nets.architecture`
    cfg : VAEConfig (learning rate, KL weight, seed)
    """

    def __init__(self, arch: dict[str, Any], cfg: VAEConfig):
        import keras

        tf = tensorflow()
        self.arch, self.cfg = arch, cfg
        self.model = nets.build_vae(arch, seed=cfg.seed)
        self.encoder = self.model.get_layer("encoder")
        self.decoder = self.model.get_layer("decoder")
        self.optimizer = keras.optimizers.Adam(learning_rate=cfg.learning_rate)
        self.optimizer.build(self.model.trainable_variables)
        spec = [tf.TensorSpec([None, arch["n_bands"], arch["n_phase"]], tf.float32)]
        self._train_step = tf.function(self._train_step_py, input_signature=spec)
        self._eval_step = tf.function(self._eval_step_py, input_signature=spec)

    def _losses(self, x, recon, mu, logvar):
        tf = tensorflow()
        rec = tf.reduce_sum(tf.square(x - recon), axis=[1, 2])
        kl = -0.5 * tf.reduce_sum(1.0 + logvar - tf.square(mu) - tf.exp(logvar), axis=1)
        return tf.reduce_mean(rec), tf.reduce_mean(kl)

    def _train_step_py(self, x):
        tf = tensorflow()
        with tf.GradientTape() as tape:
            mu, logvar, z = self.encoder(x, training=True)
            recon = self.decoder(z, training=True)
            rec, kl = self._losses(x, recon, mu, logvar)
            loss = rec + self.cfg.kl_weight * kl
        weights = self.model.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return loss, rec, kl

    def _eval_step_py(self, x):
        # Validation decodes the latent mean (no sampling, no dropout): a deterministic
        # loss is a steadier early-stopping signal than a sampled one.
        mu, logvar, _ = self.encoder(x, training=False)
        recon = self.decoder(mu, training=False)
        rec, kl = self._losses(x, recon, mu, logvar)
        return rec + self.cfg.kl_weight * kl, rec, kl

    # -- steps -------------------------------------------------------------------
    def set_learning_rate(self, value: float) -> None:
        self.optimizer.learning_rate.assign(float(value))

    def train_batch(self, x: np.ndarray) -> tuple[float, float, float]:
        """One Adam step on a batch (n, 2, phases); returns (loss, recon, kl)."""
        return tuple(float(v) for v in self._train_step(x))

    def evaluate(self, x: np.ndarray) -> tuple[float, float, float]:
        """Mean (loss, recon, kl) over ``x`` in inference mode."""
        sums, n = np.zeros(3), 0
        for a in range(0, len(x), EVAL_BATCH):
            xb = x[a:a + EVAL_BATCH]
            sums += len(xb) * np.array([float(v) for v in self._eval_step(xb)])
            n += len(xb)
        return tuple(sums / max(n, 1))

    # -- state -------------------------------------------------------------------
    def get_arrays(self) -> dict[str, np.ndarray]:
        out = {f"model/{k}": v for k, v in serial.variables_to_arrays(self.model.variables).items()}
        out.update({f"optimizer/{k}": v for k, v in
                    serial.variables_to_arrays(self.optimizer.variables).items()})
        return out

    def set_arrays(self, model: dict, optimizer: dict, where: str) -> None:
        serial.assign_arrays(self.model.variables, model, where)
        serial.assign_arrays(self.optimizer.variables, optimizer, where)

    def weights(self) -> dict[str, np.ndarray]:
        return serial.variables_to_arrays(self.model.variables)

    def set_weights(self, arrays: dict[str, np.ndarray], where: str) -> None:
        serial.assign_arrays(self.model.variables, arrays, where)
