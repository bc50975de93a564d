"""Recovery check of the dust-shell fitter: ``python -m engine.context.recovery [N]``.

DESK grid models are turned into 12-band photometry (PS1 grizy, 2MASS JHKs, WISE
W1-W4) at random luminosities (10^3-10^5 L_sun) and distances (0.5-5 kpc) with 5%
Gaussian noise, converted to magnitudes and back through :mod:`.sed`, and fitted.
Reports the fraction with Teff within one grid step (200 K), L within 10% and tau_10
within 20%, and the median time per fit.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np

from . import dusty, sed

TEFF_STEP = 200.0   # K, the DESK grids' Teff spacing


def recovery(name: str, n: int = 60, seed: int = 3, noise: float = 0.05) -> dict:
    """Fit ``n`` noisy grid models of grid ``name``; return the recovery fractions."""
    grid = dusty.load_grid(name)
    rng = np.random.default_rng(seed)
    at_bands = grid.at(sed.WAVELENGTH_UM)
    ok = np.zeros(3)
    elapsed = []
    for k in rng.choice(len(grid), n, replace=False):
        lum, dist = 10 ** rng.uniform(3, 5), rng.uniform(500, 5000)
        mag = sed.jy_to_mag(sed.lam_flam_to_jy(at_bands[k] * lum * dusty.flux_scale(dist)))
        err = np.full(len(mag), 2.5 / np.log(10) * noise)
        table = sed.build_sed(mag + rng.normal(0, err), err, None)
        t0 = time.perf_counter()
        fit = dusty.fit_sed(table["lam_flam"], table["lam_flam_err"], sed.WAVELENGTH_UM, dist,
                            grid, kappa10=3000.0)
        elapsed.append(time.perf_counter() - t0)
        ok += [abs(fit.teff - grid.teff[k]) <= TEFF_STEP, abs(fit.lum_lsun / lum - 1) <= 0.10,
               abs(fit.tau10 / grid.tau10[k] - 1) <= 0.20]
    return {"grid": name, "n": n, "teff_within_step": ok[0] / n, "lum_within_10pc": ok[1] / n,
            "tau10_within_20pc": ok[2] / n, "ms_per_fit": 1e3 * float(np.median(elapsed))}


def main(argv: list[str] | None = None) -> int:
    n = int((argv or sys.argv[1:] or ["60"])[0])
    for name in ("oxygen", "carbon"):
        print(json.dumps(recovery(name, n)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
