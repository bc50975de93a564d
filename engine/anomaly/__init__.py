"""The score stage: isolation forests on the VAE latent space (paper sections 2.3-2.4).

Public API
----------
:func:`score`
    The stage generator; writes ``/scores/cartesian``, ``/scores/spherical`` and, with
    labels, ``/scores/active``.
:func:`to_spherical`, :func:`from_spherical`, :func:`load_features`
    The features and the Blumenson transform of eq. 9.
:class:`FastIsolationForest`
    scikit-learn's forest with exact, faster scoring.
:func:`recall_report`, :func:`feedback_experiment`
    Figures on stores with injected anomalies (truth columns).
``configure_score`` / ``cli_score``, ``configure_foldstats`` / ``cli_foldstats``
    ``pvsvet-engine score`` and ``pvsvet-engine foldstats``.

Heavy libraries (scikit-learn, numba, coniferest) are imported where used.
"""
from __future__ import annotations

from .cli import cli_foldstats, cli_score, configure_foldstats, configure_score
from .evaluate import feedback_experiment, recall_report
from .features import from_spherical, load_features, to_spherical
from .forest import FastIsolationForest
from .stage import score

__all__ = ["score", "to_spherical", "from_spherical", "load_features", "FastIsolationForest",
           "recall_report", "feedback_experiment", "configure_score", "cli_score",
           "configure_foldstats", "cli_foldstats"]
