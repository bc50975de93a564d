"""Dust-shell SEDs for synthetic Mira/SR stars from the DESK model grids.

DESK (Goldman et al.; the ``desk`` package) ships DUSTY radiative-transfer grids:
``silicates`` for O-rich and ``amorphous-carbon`` for C-rich stars, parameters Teff
(2600-3400 K), inner dust temperature (600-1200 K) and optical depth at 10 micron
(0.1-30), with spectra lambda*F_lambda normalised to unit bolometric flux. We read them
with DESK's own loader, so the context stage's dust-shell fitter sees exactly the
models it fits.

Only models that ZTF can see are drawn: amorphous carbon is far more opaque in the
optical than at 10 micron, and the carbon grid's shells of tau10 >= 0.4 leave
lambda F_lambda / F_bol ~ 1e-14 in g and r, DUSTY's numerical floor, where the
optical colours are noise (g - r ~ 0.3 for a 3,000 K star). Drawn anyway, such a star
was placed at a few hundredths of a parsec to be bright enough for the catalogue,
with the floor's blue colour: normal carbon Miras bluer than the hot-Mira anomalies.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..errors import PvsvetError
from . import sed

logger = logging.getLogger(__name__)

GRIDS = {"O": "oxygen", "C": "carbon"}      # DESK names: silicates, amorphous-carbon
TAU_RANGE = {True: (0.1, 0.8), False: (0.1, 0.5)}   # Mira, SR: ZTF still sees them
#: ZTF g and r (micron), where a drawn model must carry optical flux
ZTF_UM = tuple(sed.wavelengths(["ztf_g", "ztf_r"]).tolist())
#: least log10 (lambda F_lambda / F_bol) in ZTF g and r of a model that is drawn; the
#: grids' physical models reach -5.6 (carbon, tau10 0.1), their floor is ~ -14
MIN_LOG_OPTICAL = -8.0


@dataclass
class _Grid:
    log_lam: np.ndarray      # log10 micron, (n_lam,)
    log_f: np.ndarray        # log10 (lambda F_lambda / F_bol), (n_models, n_lam)
    teff: np.ndarray         # K
    tinner: np.ndarray       # K
    tau10: np.ndarray

    def visible(self) -> np.ndarray:
        """Models with optical flux above DUSTY's floor in both ZTF bands."""
        at = np.array([[np.interp(np.log10(um), self.log_lam, row) for um in ZTF_UM]
                       for row in self.log_f])
        return (at > MIN_LOG_OPTICAL).all(axis=1)


class DustGrid:
    """The O-rich and C-rich DESK grids, ready to sample."""

    def __init__(self, grids: dict[str, _Grid]):
        self.grids = grids
        self.visible = {chem: g.visible() for chem, g in grids.items()}

    @classmethod
    def load(cls) -> "DustGrid":
        """Read both grids from the installed ``desk`` package."""
        try:
            from desk.set_up import get_models
        except ImportError as exc:
            raise PvsvetError(f"demo: the desk package is needed for dust shells ({exc}); "
                              "install it or pass --no-dust") from exc
        grids = {}
        for chem, name in GRIDS.items():
            models, outputs = get_models.get_model_grid(name, respond=False)
            lam = np.asarray(models["wavelength_um"][0], float)
            flux = np.asarray(models["flux_wm2"], float)
            grids[chem] = _Grid(np.log10(lam), np.log10(np.maximum(flux, 1e-30)),
                                np.asarray(outputs["teff"], float),
                                np.asarray(outputs["tinner"], float),
                                np.asarray(outputs["odep"], float))
        return cls(grids)

    def sample(self, teff: np.ndarray, chem: np.ndarray, is_mira: np.ndarray,
               lam_um: np.ndarray, rng: np.random.Generator):
        """L_nu / L_bol at ``lam_um`` for dusty stars, and their tau10 and grid Teff.

        The model of each star is the visible one (:data:`MIN_LOG_OPTICAL`) nearest
        the drawn optical depth at the star's grid Teff and a random inner temperature.

        Parameters
        ----------
        teff : ndarray, K (snapped to the grid's nearest Teff)
        chem : ndarray of 'O'/'C'
        is_mira : ndarray of bool (Mira: thicker shells)
        lam_um : ndarray, micron

        Returns
        -------
        shape : ndarray (n, len(lam_um)), per Hz
        tau10 : ndarray
        teff_grid : ndarray, K
        tinner : ndarray, K (dust temperature at the inner shell radius)
        """
        n = len(teff)
        shape = np.zeros((n, len(lam_um)))
        tau, t_grid, t_inner = np.zeros(n), np.zeros(n), np.zeros(n)
        nu = 2.99792458e14 / lam_um
        for i in range(n):
            g = self.grids[chem[i]]
            lo, hi = TAU_RANGE[bool(is_mira[i])]
            want = np.exp(rng.uniform(np.log(lo), np.log(hi)))
            t_near = g.teff[np.argmin(np.abs(g.teff - teff[i]))]
            t_in = rng.choice(np.unique(g.tinner))
            cand = np.flatnonzero((g.teff == t_near) & (g.tinner == t_in)
                                  & self.visible[chem[i]])
            k = cand[np.argmin(np.abs(g.tau10[cand] - want))]
            log_f = np.interp(np.log10(lam_um), g.log_lam, g.log_f[k])
            shape[i] = 10.0 ** log_f / nu          # lambda F_lambda = nu F_nu
            tau[i], t_grid[i], t_inner[i] = g.tau10[k], t_near, g.tinner[k]
        return shape, tau, t_grid, t_inner
