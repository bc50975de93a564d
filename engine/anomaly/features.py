"""Features of the isolation forests (paper sections 2.3 and 2.4).

Cartesian space: the 10 latent means ``mu_0..mu_9`` of the VAE, ``log10_period``
(period in days) and ``m_gr`` = <m_g> - <m_r> (mag). <m_g> and <m_r> are the
catalogue's mean magnitudes ``/objects/mean_g`` and ``mean_r``; where those are missing
the GP stage's per-band mean magnitude ``/interp/raw_mean_mag`` (the m-bar of eq. 6)
stands in.

Spherical space: the Blumenson (1960) transform of eq. 9 applied to the latent means
only, ``r, theta_1..theta_9``, then ``log10_period`` and ``m_gr`` appended unchanged.

Residual space (beyond the paper, off by default): the Cartesian features plus
``log10_recon_residual``, log10 of the appendix-C reconstruction residual
``/vae/recon_residual`` averaged over the two bands (dimensionless, a chi^2 per phase).
An autoencoder maps a curve unlike its training set onto the latent region of the
nearest familiar shape, so the latent means alone can hide it; its reconstruction
misses the GP curve by many GP sigmas, and the residual says so.

Diagnostic space (beyond the paper, off by default): questions a vetting astronomer
asks of every light curve, none answered from the class or the truth labels:

``log10_C_over_delta``
    Does the catalogue period fold the data? The GP's coherent variance C over its white
    noise delta (``/interp/hyper``, both mag^2): a wrong period, or an episode the fold
    cannot follow, leaves scatter the periodic kernel cannot fold, a small ratio.
``log10_l_lambda``
    Do g and r move together? The GP's length scale along normalised wavelength: small
    when the bands vary independently (a phase lag between bands, a blend).
``log10_fold_outlier_frac``
    Did something happen once? The fraction of raw points more than 4 robust sigma off
    the folded GP curve (:mod:`engine.anomaly.foldstats`, 1e-3 added before the log):
    fades, outbursts, flares.
``r``, ``log10_recon_residual``
    Is the folded shape one the autoencoder knows? The latent radius of eq. 9 and the
    appendix-C residual (band mean).

Each feature is one-sided: values on the unremarkable side of the median (a coherent
fold, bands in step, no outlying points, a familiar shape) are set to the median, so
the forest spends its cuts on the side that means something; a forest otherwise
isolates both tails, and the very coherent folds of bright EW stars would rank with the
scrambled ones. The period and colour are left out on purpose: they make the forest rank
the long-period red giants first (the paper's question, answered by the other spaces).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .. import schema
from ..errors import DamagedError, FeatureError, StoreError

logger = logging.getLogger(__name__)

TWO_PI = 2.0 * np.pi


def cartesian_names(n_latent: int = 10) -> list[str]:
    return [f"mu_{i}" for i in range(n_latent)] + ["log10_period", "m_gr"]


def spherical_names(n_latent: int = 10) -> list[str]:
    return ["r"] + [f"theta_{i}" for i in range(1, n_latent)] + ["log10_period", "m_gr"]


def residual_names(n_latent: int = 10) -> list[str]:
    return cartesian_names(n_latent) + ["log10_recon_residual"]


#: diagnostic features and the side of the median that is kept (-1 low, +1 high)
DIAGNOSTIC_SIDES = {"log10_C_over_delta": -1, "log10_l_lambda": -1,
                    "log10_fold_outlier_frac": +1, "r": +1, "log10_recon_residual": +1}
DIAGNOSTIC_NAMES = list(DIAGNOSTIC_SIDES)
#: added to the outlier fraction before the log (a tenth of a point in a typical fold)
OUTLIER_FLOOR = 1e-3


#: columns of /interp/hyper (attr hyper_names; C and delta may carry a unit suffix)
HYPER_NAMES = ["l_phi", "l_lambda", "C", "delta"]

#: every feature space :meth:`Features.space` knows; the paper's are the first two
SPACE_NAMES = schema.FEATURE_SPACES
#: spaces scored by isolation forests (vetting: tail probabilities, engine.anomaly.vetting)
FOREST_SPACES = schema.FOREST_SPACES


def to_spherical(x: np.ndarray, last_angle: str = "paper") -> np.ndarray:
    """Hyperspherical coordinates of eq. 9 (Blumenson 1960).

    With the latent means ``x_0..x_{n-1}`` (0-based, so the paper's ``x_8, x_9`` are
    the last two), ``r = sqrt(sum x_j^2)``, ``theta_{i+1} = arccos(x_i / sqrt(sum_{j>=i}
    x_j^2))`` for ``i = 0..n-3`` (in [0, pi]), and the last angle from ``x_{n-2}``,
    ``x_{n-1}``: ``arccos(x_{n-2} / sqrt(x_{n-2}^2 + x_{n-1}^2))``, or 2 pi minus it.

    Parameters
    ----------
    x : ndarray (N, n), n >= 2
        Cartesian coordinates.
    last_angle : {"paper", "blumenson"}
        Which half-plane takes the ``2 pi - arccos`` branch of the last angle. The paper
        writes ``arccos`` for ``x_9 <= 0`` and ``2 pi - arccos`` otherwise; Blumenson's
        convention is the mirror (``arccos`` for ``x_9 >= 0``). The two differ by
        ``theta_9 -> 2 pi - theta_9``, a reflection an isolation forest is blind to.

    Returns
    -------
    ndarray (N, n): ``r, theta_1..theta_{n-1}``; where a tail norm is zero the angle
    is 0 (the direction is undefined there).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 2:
        raise FeatureError(f"spherical transform needs (N, n>=2) coordinates, got {x.shape}")
    if last_angle not in ("paper", "blumenson"):
        raise FeatureError(f"last_angle must be 'paper' or 'blumenson', not {last_angle!r}")
    n = x.shape[1]
    # tail[:, i] = sqrt(sum_{j>=i} x_j^2), by a reversed cumulative sum
    tail = np.sqrt(np.cumsum((x ** 2)[:, ::-1], axis=1)[:, ::-1])
    out = np.empty_like(x)
    out[:, 0] = tail[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(tail[:, :n - 1] > 0, x[:, :n - 1] / tail[:, :n - 1], 1.0)
    angles = np.arccos(np.clip(cos, -1.0, 1.0))
    last = x[:, n - 1]
    flip = last > 0 if last_angle == "paper" else last < 0
    angles[:, -1] = np.where(flip, TWO_PI - angles[:, -1], angles[:, -1])
    out[:, 1:] = angles
    return out


def from_spherical(s: np.ndarray, last_angle: str = "paper") -> np.ndarray:
    """Inverse of :func:`to_spherical` (same ``last_angle`` convention)."""
    s = np.asarray(s, dtype=np.float64)
    r, ang = s[:, 0], s[:, 1:].copy()
    if last_angle == "paper":
        # the paper's theta_9 is Blumenson's mirrored: map back to sin(theta) >= 0 <=> x_9 >= 0
        ang[:, -1] = TWO_PI - ang[:, -1]
    n = s.shape[1]
    x = np.empty_like(s)
    sin_prod = r.copy()
    for i in range(n - 1):
        x[:, i] = sin_prod * np.cos(ang[:, i])
        sin_prod = sin_prod * np.sin(ang[:, i])
    x[:, n - 1] = sin_prod
    return x


@dataclass
class Features:
    """Feature matrices of one store.

    Attributes
    ----------
    cartesian, spherical : ndarray (N, 12), float64; rows of excluded objects are NaN
    valid : ndarray (N,), bool; objects with all features finite
    residual : ndarray (N, 13) or None; Cartesian + log10 reconstruction residual, None
        where the store has no ``/vae/recon_residual``; rows without a finite residual
        are NaN (and left out of that space only, see :meth:`valid_for`)
    diagnostic : ndarray (N, 5) or None; see the module docstring; None without
        ``/vae/recon_residual``, ``/interp/hyper`` or the fold statistics
        (``/foldstats``); rows with a missing feature are NaN
    names : dict space -> feature names
    m_gr_source : str; where m_gr came from
    log_period, m_gr : ndarray (N,) or None; log10 period and g - r of every object, also
        of those without latent means (NaN where missing), for the vetting questions that
        need no curve
    """

    cartesian: np.ndarray
    spherical: np.ndarray
    valid: np.ndarray
    names: dict[str, list[str]]
    m_gr_source: str
    residual: np.ndarray | None = None
    diagnostic: np.ndarray | None = None
    log_period: np.ndarray | None = None
    m_gr: np.ndarray | None = None

    def space(self, name: str) -> np.ndarray:
        if name not in SPACE_NAMES:
            raise FeatureError(f"unknown feature space {name!r} ({', '.join(SPACE_NAMES)})")
        if name not in FOREST_SPACES:
            raise FeatureError(f"space {name!r} has no forest feature matrix (its scores are "
                               f"tail probabilities, see engine.anomaly.vetting); use one of "
                               f"{', '.join(FOREST_SPACES)}")
        if name == "diagnostic":
            if self.diagnostic is None:
                raise FeatureError("feature space 'diagnostic' needs /vae/recon_residual "
                                   "(run encode with n_decode > 0), /interp/hyper and "
                                   "/foldstats (written by the score stage from /interp "
                                   "and /lightcurves)")
            return self.diagnostic
        if name == "residual":
            if self.residual is None:
                raise FeatureError("feature space 'residual' needs /vae/recon_residual "
                                   "(run encode with n_decode > 0)")
            return self.residual
        return self.cartesian if name == "cartesian" else self.spherical

    def valid_for(self, name: str) -> np.ndarray:
        """Rows with every feature of space ``name`` finite."""
        if name in ("residual", "diagnostic"):
            return self.valid & np.isfinite(self.space(name)).all(axis=1)
        return self.valid


def _require(store, name: str, what: str) -> np.ndarray:
    try:
        return store.read(name)
    except DamagedError:
        raise
    except StoreError:
        raise FeatureError(f"{store.path}: feature '{what}' is missing: no /{name} "
                           "(run the stage that writes it first)") from None


def _colour(store, n: int) -> tuple[np.ndarray, str]:
    cols = store.object_columns
    if "mean_g" in cols and "mean_r" in cols:
        o = store.read_objects(["mean_g", "mean_r"])
        m_gr = o["mean_g"].astype(np.float64) - o["mean_r"].astype(np.float64)
        source = "objects.mean_g - objects.mean_r"
    else:
        m_gr = np.full(n, np.nan)
        source = ""
    missing = ~np.isfinite(m_gr)
    if missing.any() and store.has(schema.INTERP_RAW_MEAN):
        raw = store.read(schema.INTERP_RAW_MEAN).astype(np.float64)
        m_gr[missing] = raw[missing, 0] - raw[missing, 1]
        source = (source + "; " if source else "") + f"interp.raw_mean_mag for {missing.sum()} rows"
    if not source:
        raise FeatureError(f"{store.path}: feature 'm_gr' is missing: no /objects/mean_g, "
                           "mean_r and no /interp/raw_mean_mag")
    return m_gr, source


def _hyper(store) -> np.ndarray:
    names = list(store.attrs(schema.INTERP).get("hyper_names", HYPER_NAMES))
    if names[:2] != HYPER_NAMES[:2] or [n.split("_")[0] for n in names[2:]] != ["C", "delta"]:
        raise FeatureError(f"{store.path}: /interp/hyper columns are {names}, expected "
                           "l_phi, l_lambda, C, delta")
    return store.read(schema.INTERP_HYPER).astype(np.float64)


def load_features(store_path, last_angle: str = "paper") -> Features:
    """Read the latent means, periods and colours of a store into feature matrices.

    Raises
    ------
    FeatureError
        When ``/vae/mu``, the period or the colour are missing, or no object has all
        features.
    """
    from ..store import Store

    with Store(store_path, "r") as store:
        mu = _require(store, schema.VAE_MU, "latent means").astype(np.float64)
        n = store.n_objects
        if mu.ndim != 2 or mu.shape[0] != n:
            raise FeatureError(f"{store.path}: /vae/mu has shape {mu.shape}, expected ({n}, k)")
        if "period" not in store.object_columns:
            raise FeatureError(f"{store.path}: feature 'log10_period' is missing: "
                               "no /objects/period")
        period = store.read_objects(["period"])["period"].astype(np.float64)
        m_gr, source = _colour(store, n)
        recon = (store.read(schema.VAE_RECON_RESIDUAL).astype(np.float64)
                 if store.has(schema.VAE_RECON_RESIDUAL) else None)
        hyper = _hyper(store) if store.has(schema.INTERP_HYPER) else None
        fold = (store.read(schema.FOLD_OUTLIER_FRAC).astype(np.float64)
                if store.has(schema.FOLD_OUTLIER_FRAC) else None)
    return build_features(mu, period, m_gr, last_angle, source, where=str(store_path),
                          recon_residual=recon, gp_hyper=hyper, outlier_frac=fold)


def build_features(mu: np.ndarray, period: np.ndarray, m_gr: np.ndarray,
                   last_angle: str = "paper", m_gr_source: str = "given",
                   where: str = "features",
                   recon_residual: np.ndarray | None = None,
                   gp_hyper: np.ndarray | None = None,
                   outlier_frac: np.ndarray | None = None) -> Features:
    """Assemble the feature spaces from arrays (see module docstring).

    ``recon_residual`` (N, 2), the appendix-C residual per band, adds the residual space;
    with ``gp_hyper`` (N, 4), the GP's l_phi, l_lambda, C, delta, and ``outlier_frac``
    (N,), the fraction of raw points off the fold, also the diagnostic one.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        logp = np.where(period > 0, np.log10(np.where(period > 0, period, 1.0)), np.nan)
    valid = np.isfinite(mu).all(axis=1) & np.isfinite(logp) & np.isfinite(m_gr)
    if not valid.any():
        raise FeatureError(f"{where}: no object has all features (latent means, period > 0, "
                           "g-r colour); nothing to score")
    k = mu.shape[1]
    extra = np.column_stack([logp, m_gr])
    cart = np.full((len(mu), k + 2), np.nan)
    sph = np.full_like(cart, np.nan)
    cart[valid] = np.column_stack([mu[valid], extra[valid]])
    sph[valid] = np.column_stack([to_spherical(mu[valid], last_angle), extra[valid]])
    n_bad = int((~valid).sum())
    if n_bad:
        logger.info("%s: %d of %d objects lack a feature and are excluded", where, n_bad, len(mu))
    names = {"cartesian": cartesian_names(k), "spherical": spherical_names(k),
             "residual": residual_names(k), "diagnostic": list(DIAGNOSTIC_NAMES)}
    return Features(cart, sph, valid, names, m_gr_source,
                    _residual_space(cart, recon_residual),
                    _diagnostic_space(sph[:, 0], recon_residual, gp_hyper, outlier_frac),
                    log_period=logp, m_gr=np.asarray(m_gr, np.float64))


def _residual_space(cart: np.ndarray, recon: np.ndarray | None) -> np.ndarray | None:
    if recon is None or recon.shape != (len(cart), 2):
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        # the residual is a chi^2 per phase spanning decades: its log separates better
        log_res = np.log10(np.mean(recon, axis=1))
    log_res[~np.isfinite(log_res)] = np.nan
    return np.column_stack([cart, log_res])


def diagnostic_raw(r: np.ndarray, recon: np.ndarray, hyper: np.ndarray,
                   outlier_frac: np.ndarray) -> np.ndarray:
    """The diagnostic features before the one-sided clip, columns :data:`DIAGNOSTIC_NAMES`."""
    l_phi, l_lam, amp, noise = hyper.T
    with np.errstate(invalid="ignore", divide="ignore"):
        # every feature spans decades: logs; a non-positive value gives NaN (row left out)
        x = np.column_stack([np.log10(amp / noise), np.log10(l_lam),
                             np.log10(outlier_frac + OUTLIER_FLOOR), r,
                             np.log10(np.mean(recon, axis=1))])
    x[~np.isfinite(x)] = np.nan
    return x


def one_sided(x: np.ndarray, sides) -> np.ndarray:
    """Set each column's values on the unremarkable side of its median to the median."""
    out = x.copy()
    for j, side in enumerate(sides):
        col = out[:, j]
        ok = np.isfinite(col)
        if ok.any():
            med = np.median(col[ok])
            col[ok] = np.minimum(col[ok], med) if side < 0 else np.maximum(col[ok], med)
    return out


def _diagnostic_space(r: np.ndarray, recon: np.ndarray | None, hyper: np.ndarray | None,
                      outlier_frac: np.ndarray | None) -> np.ndarray | None:
    n = len(r)
    if (recon is None or hyper is None or outlier_frac is None or recon.shape != (n, 2)
            or hyper.shape != (n, 4) or outlier_frac.shape != (n,)):
        return None
    x = diagnostic_raw(r, recon, hyper, outlier_frac)
    x[~np.isfinite(x).all(axis=1)] = np.nan
    return one_sided(x, DIAGNOSTIC_SIDES.values())
