"""Dust-shell fits on DESK's model grids (section 3.4, eq. 11).

Grids
-----
The paper fits the GRAMS grids (2DUST models; Sargent et al. 2011, ApJ 728, 93 for O-rich
stars; Srinivasan et al. 2011, A&A 532, A54 for C-rich stars), which DESK calls
``grams-oxygen`` and ``grams-carbon``. The ``desk`` wheel does not ship them: DESK downloads
them from Zenodo (41 MB + 200 MB) the first time they are asked for. We never trigger that
download: :func:`grid_family` uses GRAMS when both files are already in DESK's model folder
(``desk grids`` or ``desk.set_up.get_models.get_model_grid("grams")`` puts them there) and
otherwise falls back to the DUSTY grids the wheel ships, with a note that is stored with the
fit (``/context`` attr ``grid_note``). The DUSTY grids span a narrower Teff (2,600-3,400 K)
and tau range than GRAMS, so some of the paper's anomalies fit worse on them.

``"oxygen"`` is the DUSTY silicate grid (Ossenkopf et al. 1992 O-rich silicates),
``"carbon"`` the DUSTY amorphous carbon grid (Zubko et al. 1996). Each DUSTY model is a
lambda F_lambda spectrum normalised so that its integral over ln(lambda) is 1 (checked:
0.99-1.02), i.e. an observed star of luminosity L at distance d has lambda F_lambda =
model * L L_sun / (4 pi d^2). GRAMS models are instead lambda F_lambda at 50 kpc for the
luminosity in the grid's ``lum`` column (DESK's ``scale_external``); :func:`load_grid`
brings them to the DUSTY normalisation.

The fit is our own, not DESK's ``fit`` (which ignores the photometric errors, clamps L
to 10^3-1.5x10^5 L_sun, assumes 50 kpc and writes files): chi^2 in log10 flux with the
errors propagated to log space, and for each model the luminosity solved analytically
as the best scale factor at the known distance (a weighted mean of the log residuals),
vectorised over the grid.

Derived quantities
------------------
R_in
    DUSTY fixes the dust temperature T_in at the inner shell radius; R_in then scales
    as L^(1/2). We use the optically thin radiative-equilibrium relation for grains
    with Q_abs ~ lambda^-beta (beta = 1): R_in = (R_*/2) (T_eff/T_in)^((4+beta)/2),
    with R_* = sqrt(L / (4 pi sigma T_eff^4)). It ignores the diffuse heating that
    DUSTY includes, so it underestimates R_in by tens of percent when tau_10 > 1.
Mdot_D
    4 pi (tau_10 / kappa_10) R_in v_exp (eq. 11, Srinivasan et al. 2010, A&A 524, A49),
    v_exp from the config (10 km/s in the paper), kappa_10 per dust chemistry from the
    config (sources at :data:`KAPPA_SOURCES`); the kappa used is stored with each fit.
Mdot
    Mdot_D times the gas-to-dust ratio (200).
"""
from __future__ import annotations

import contextlib
import functools
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import StageError

logger = logging.getLogger(__name__)

L_SUN_W = 3.828e26            # IAU 2015 nominal solar luminosity, W
PC_M = 3.0856775814913673e16  # parsec, m
SIGMA_SB = 5.670374419e-5     # erg s^-1 cm^-2 K^-4
L_SUN_ERG = 3.828e33
SECONDS_PER_YEAR = 3.15576e7
M_SUN_G = 1.98847e33
BETA = 1.0                    # emissivity index of the optically thin R_in relation

GRAMS_DISTANCE_PC = 50e3     # GRAMS fluxes are tabulated at the LMC's 50 kpc (DESK)

#: Grid key -> DESK's file name, which is also the label stored with each fit.
GRID_LABEL = {"oxygen": "silicates", "carbon": "amorphous-carbon",
              "grams-oxygen": "grams-oxygen", "grams-carbon": "grams-carbon"}
#: Grid key per (family, chemistry "O" | "C").
GRID_KEY = {("dusty", "O"): "oxygen", ("dusty", "C"): "carbon",
            ("grams", "O"): "grams-oxygen", ("grams", "C"): "grams-carbon"}
FAMILIES = ("auto", "grams", "dusty")
#: Where each kappa of the config comes from (quoted in /context attrs).
KAPPA_SOURCES = {
    "O": "kappa_10um = 3.0e3 cm^2/g for O-rich silicates (the Ossenkopf et al. 1992 optical "
         "constants of both the DUSTY silicate and the GRAMS O-rich grids): the order of their "
         "absorption at the 10 um feature for 0.1 um grains; not checked offline against "
         "Sargent et al. 2011, ApJ 728, 93",
    "C": "kappa_11.3um = 2.2e3 cm^2/g for amorphous carbon (the Zubko et al. 1996 grains of "
         "the DUSTY carbon and the GRAMS C-rich grids), as Srinivasan et al. 2010, A&A 524, "
         "A49 imply for eq. 11; the 1.5e3 used before was ~1.5x lower",
}


@dataclass(frozen=True)
class DustGrid:
    """A DESK model grid as numpy arrays (K models, W wavelengths)."""

    name: str                 # "oxygen" | "carbon"
    teff: np.ndarray          # (K,) K
    t_inner: np.ndarray       # (K,) K
    tau10: np.ndarray         # (K,) optical depth at 10 micron (11.3 for carbon)
    wavelength_um: np.ndarray  # (W,)
    lam_flam: np.ndarray      # (K, W) per L_sun at 1 m x 4 pi: see module docstring

    def __len__(self) -> int:
        return len(self.teff)

    def at(self, wavelength_um: np.ndarray) -> np.ndarray:
        """Model lambda F_lambda at given wavelengths, (K, B), log-log interpolation."""
        lw = np.log10(self.wavelength_um)
        with np.errstate(divide="ignore"):
            lf = np.log10(np.maximum(self.lam_flam, 1e-300))
        x = np.log10(np.asarray(wavelength_um, float))
        j = np.clip(np.searchsorted(lw, x) - 1, 0, len(lw) - 2)
        t = (x - lw[j]) / (lw[j + 1] - lw[j])
        return 10.0 ** (lf[:, j] * (1 - t) + lf[:, j + 1] * t)


def installed(name: str) -> bool:
    """True when DESK has grid ``name``'s two files locally (nothing is downloaded)."""
    from desk.set_up import config

    stem = Path(config.path) / "models" / GRID_LABEL[name]
    return all(Path(f"{stem}_{part}.hdf5").is_file() for part in ("models", "outputs"))


def grid_family(family: str = "auto") -> tuple[str, str]:
    """The grid family to fit (``"grams"`` | ``"dusty"``) and a note on the choice.

    ``"auto"``: GRAMS where DESK has both GRAMS grids installed, else the DUSTY grids the
    wheel ships (noted). ``"grams"`` without them installed is a :class:`StageError`.
    """
    if family not in FAMILIES:
        raise StageError(f"[context] grid_family = {family!r}: use one of {', '.join(FAMILIES)}")
    have = all(installed(k) for k in ("grams-oxygen", "grams-carbon"))
    if family == "dusty":
        return "dusty", "DUSTY grids (grid_family = dusty)"
    if have:
        return "grams", "GRAMS grids (Sargent et al. 2011; Srinivasan et al. 2011), as in the paper"
    if family == "grams":
        raise StageError("[context] grid_family = grams: DESK's GRAMS grids are not installed "
                         "(DESK downloads them, 241 MB: run `desk grids` online once)")
    return "dusty", ("GRAMS grids not installed with DESK: fitted on DESK's DUSTY grids "
                     "(Teff 2,600-3,400 K, narrower tau than the paper's GRAMS)")


@functools.lru_cache(maxsize=4)
def load_grid(name: str) -> DustGrid:
    """Load a DESK grid (a :data:`GRID_LABEL` key) through DESK's loader."""
    if name not in GRID_LABEL:
        raise StageError(f"unknown DESK grid {name!r} (known: {', '.join(GRID_LABEL)})")
    if not installed(name):     # DESK would download it: never from inside a fit
        raise StageError(f"DESK grid {GRID_LABEL[name]!r} is not installed")
    from desk.set_up.get_models import get_model_grid

    with contextlib.redirect_stdout(io.StringIO()):
        models, outputs = get_model_grid(name, respond=False)
    wl = np.asarray(models["wavelength_um"][0], float)
    flux = np.vstack([np.asarray(f, float) for f in models["flux_wm2"]])
    if name.startswith("grams"):
        flux = _grams_per_lsun(name, flux, outputs)
    return DustGrid(name, np.asarray(outputs["teff"], float), np.asarray(outputs["tinner"], float),
                    np.asarray(outputs["odep"], float), wl, flux)


def _grams_per_lsun(name: str, flux: np.ndarray, outputs) -> np.ndarray:
    """GRAMS fluxes (W m^-2 at 50 kpc for the model's L) in the DUSTY normalisation."""
    if "lum" not in outputs.colnames:
        raise StageError(f"DESK grid {name!r} has no 'lum' column to normalise its models by")
    lum = np.asarray(outputs["lum"], float)
    return flux / (lum[:, None] * flux_scale(GRAMS_DISTANCE_PC))


def flux_scale(distance_pc: float) -> float:
    """lambda F_lambda (W m^-2) of a 1 L_sun model at ``distance_pc``, per model unit."""
    return L_SUN_W / (4 * np.pi * (distance_pc * PC_M) ** 2)


@dataclass
class FitResult:
    """Best dust-shell model of one SED (units in the field comments)."""

    grid: str
    index: int
    teff: float          # K
    lum_lsun: float      # L_sun
    tau10: float
    t_inner: float       # K
    r_in_cm: float
    mdot_dust: float     # M_sun / yr
    mdot_total: float    # M_sun / yr
    chi2: float
    n_bands: int
    kappa10: float       # cm^2/g, the opacity eq. 11 used
    model_wavelength_um: np.ndarray
    model_lam_flam: np.ndarray   # W m^-2 at the object's distance

    @property
    def reduced_chi2(self) -> float:
        dof = self.n_bands - 4      # scale, Teff, T_in, tau
        return self.chi2 / dof if dof > 0 else float("nan")


def r_inner_cm(lum_lsun: float, teff: float, t_inner: float) -> float:
    """Inner dust radius (cm) from the optically thin equilibrium relation (module doc)."""
    with np.errstate(over="ignore", invalid="ignore"):   # absurd L of a failed fit -> inf
        r_star = np.sqrt(lum_lsun * L_SUN_ERG / (4 * np.pi * SIGMA_SB * teff ** 4))
        return float(0.5 * r_star * (teff / t_inner) ** ((4 + BETA) / 2))


def mass_loss(tau10: float, r_in_cm: float, kappa10: float, v_exp_kms: float,
              gas_to_dust: float) -> tuple[float, float]:
    """Dust and total mass-loss rates (M_sun/yr) of eq. 11; kappa10 in cm^2/g."""
    with np.errstate(over="ignore", invalid="ignore"):
        mdot_d = 4 * np.pi * tau10 / kappa10 * r_in_cm * v_exp_kms * 1e5   # g/s
        mdot_d = float(mdot_d * SECONDS_PER_YEAR / M_SUN_G)
    return mdot_d, mdot_d * gas_to_dust


def chi2_grid(model_at_bands: np.ndarray, lam_flam: np.ndarray, lam_flam_err: np.ndarray):
    """chi^2 in log10 flux and best log10 scale for every model at once.

    Parameters
    ----------
    model_at_bands : (K, B) model lambda F_lambda at the bands
    lam_flam, lam_flam_err : (B,) data and errors, W m^-2 (NaN bands are skipped)

    Returns
    -------
    chi2 : (K,), log_scale : (K,), n_bands : int
    """
    ok = np.isfinite(lam_flam) & (lam_flam > 0) & np.isfinite(lam_flam_err) & (lam_flam_err > 0)
    if not ok.any():
        nan = np.full(len(model_at_bands), np.nan)
        return nan, nan, 0
    y = np.log10(lam_flam[ok])
    sig = lam_flam_err[ok] / (lam_flam[ok] * np.log(10.0))
    w = 1.0 / sig ** 2
    lm = np.log10(np.maximum(model_at_bands[:, ok], 1e-300))
    resid = y[None, :] - lm
    log_s = (resid * w).sum(1) / w.sum()
    chi2 = (((resid - log_s[:, None]) ** 2) * w).sum(1)
    return chi2, log_s, int(ok.sum())


def fit_sed(lam_flam: np.ndarray, lam_flam_err: np.ndarray, wavelength_um: np.ndarray,
            distance_pc: float, grid: DustGrid, *, kappa10: float, v_exp_kms: float = 10.0,
            gas_to_dust: float = 200.0, min_bands: int = 5) -> FitResult:
    """Fit one SED with a DESK grid.

    Parameters
    ----------
    lam_flam, lam_flam_err : (B,) W m^-2, dereddened
    wavelength_um : (B,) micron
    distance_pc : pc
    grid : from :func:`load_grid`
    kappa10 : cm^2/g, dust opacity at 10 micron for eq. 11
    min_bands : fewer usable bands than this raise :class:`StageError`
    """
    if not np.isfinite(distance_pc) or distance_pc <= 0:
        raise StageError(f"no usable distance ({distance_pc} pc)")
    chi2, log_s, n = chi2_grid(grid.at(wavelength_um), np.asarray(lam_flam, float),
                               np.asarray(lam_flam_err, float))
    if n < min_bands:
        raise StageError(f"only {n} bands with flux and error (need {min_bands})")
    k = int(np.argmin(chi2))
    with np.errstate(over="ignore"):
        scale = 10.0 ** log_s[k]
    lum = scale / flux_scale(distance_pc)
    r_in = r_inner_cm(lum, grid.teff[k], grid.t_inner[k])
    mdot_d, mdot = mass_loss(grid.tau10[k], r_in, kappa10, v_exp_kms, gas_to_dust)
    return FitResult(GRID_LABEL[grid.name], k, float(grid.teff[k]), float(lum),
                     float(grid.tau10[k]), float(grid.t_inner[k]), float(r_in), float(mdot_d),
                     float(mdot), float(chi2[k]), n, float(kappa10), grid.wavelength_um,
                     grid.lam_flam[k] * scale)


def chemistry_of(label: str) -> str:
    """``"C"`` for a carbon-star label (``"C..."``), ``"O"`` for anything else."""
    return "C" if str(label).strip().upper().startswith("C") else "O"


def grid_for(chemistry: str, family: str = "dusty") -> str:
    """Grid key of a chemistry label in a family (``"grams"`` | ``"dusty"``)."""
    return GRID_KEY[(family, chemistry_of(chemistry))]
