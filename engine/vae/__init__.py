"""The encoding stage: the convolutional VAE of section 2.2 and appendices A and C.

Public API (TensorFlow is imported only when one of these runs):

- :func:`train` (stage ``train``): fit on the train split, early stopping on the
  validation split, resumable checkpoints; writes ``/vae_train`` and ``/vae/model``.
- :func:`encode` (stage ``encode``): ``/vae/mu``, ``/vae/logvar``, ``/vae/recon_residual``.
- :func:`reconstruct`: decoded latent-mean curves for the GUI overlay.
- :func:`load_model`: the stored model, loaded in Keras safe mode.
- :func:`latent_classifier_report`: random forest on the latent space (appendix B).
- CLI: ``pvsvet-engine train`` and ``pvsvet-engine encode`` (:mod:`engine.vae.cli`).
"""
from __future__ import annotations

from .cli import cli_encode, cli_train, configure_encode, configure_train
from .encoding import encode, load_model, reconstruct, residual
from .report import latent_classifier_report
from .training import train

__all__ = ["train", "encode", "reconstruct", "load_model", "residual",
           "latent_classifier_report", "configure_train", "cli_train",
           "configure_encode", "cli_encode"]
