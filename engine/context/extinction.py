"""Interstellar extinction A(lambda) = E(B-V) R(lambda) (eq. 10) from Bayestar19.

E(B-V) at (ra, dec, distance) comes from the 3-D map Bayestar19 (Green et al. 2019, ApJ
887, 93) through ``dustmaps.bayestar.BayestarQuery`` (mean or median of the posterior
samples; the paper adopts the mean). R(lambda) for PS1 and 2MASS is Table 1 of Green et
al. 2019 (R_V = 3.3); WISE follows A_Wi = alpha_i A_Ks (Xue et al. 2016).

Bayestar19 values are in the map's own reddening unit, which Table 1's R converts to
extinction directly; that is what the whole stage calls E(B-V).

Without a Bayestar19 file (the map is ~0.7 GB and needs a download) the stage falls
back to the 2-D Burstein & Heiles (1982) map that ships inside dustmaps: the whole line
of sight, so an upper bound for stars inside the dust layer, and empty near the
Galactic plane. Every value carries its source (:data:`SOURCES`), never a silent zero.
"""
from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import numpy as np

from ..errors import StageError
from .sed import BAND_NAMES

logger = logging.getLogger(__name__)

#: Green et al. 2019, Table 1 (extinction per unit of Bayestar19 reddening).
R_GREEN19 = {"g": 3.518, "r": 2.617, "i": 1.971, "z": 1.549, "y": 1.263,
             "J": 0.7927, "H": 0.4690, "Ks": 0.3026}
#: Xue et al. 2016: A_Wi / A_Ks.
ALPHA_WISE = {"W1": 0.591, "W2": 0.463, "W3": 0.537, "W4": 0.364}
#: Bayestar19 unit per SFD E(B-V) (Green et al. 2019, sect. 2: E_SFD = 0.884 E_B19).
SFD_PER_B19 = 0.884

#: Values of ``ebv_source``.
SOURCES = ("bayestar2019", "bh1982-2d", "synthetic", "none")


def r_vector() -> np.ndarray:
    """A(lambda)/E(B-V) for the 12 SED bands (PS1 grizy, 2MASS JHKs, WISE W1-W4)."""
    out = []
    for name in BAND_NAMES:
        if name in R_GREEN19:
            out.append(R_GREEN19[name])
        else:
            out.append(ALPHA_WISE[name] * R_GREEN19["Ks"])
    return np.array(out)


def extinction(ebv: float) -> np.ndarray:
    """A(lambda) in mag for the 12 SED bands."""
    return float(ebv) * r_vector()


class ExtinctionMap:
    """E(B-V) lookups with a flagged fallback.

    Parameters
    ----------
    bayestar_path : str
        A Bayestar19 HDF5 file; empty or missing: the fallback.
    mode : {"mean", "median"}
        How the posterior samples are reduced.
    fallback : {"bh", "none"}
        ``"bh"``: the 2-D Burstein & Heiles map that ships with dustmaps;
        ``"none"``: no correction (flagged ``"none"``).
    """

    def __init__(self, bayestar_path: str = "", mode: str = "mean", fallback: str = "bh"):
        if mode not in ("mean", "median"):
            raise StageError(f"extinction mode must be 'mean' or 'median', not {mode!r}")
        self.mode = mode
        self.fallback = fallback
        self.note = ""
        self._bayestar = None
        self._bh = None
        if bayestar_path:
            self._bayestar = self._load_bayestar(Path(bayestar_path))
        if self._bayestar is None and fallback == "bh":
            self._bh = self._load_bh()

    def _load_bayestar(self, path: Path):
        if not path.is_file():
            self.note = f"{path}: Bayestar19 map not found; using the fallback"
            logger.warning(self.note)
            return None
        with warnings.catch_warnings():   # dustmaps warns that ~/.dustmapsrc is absent
            warnings.filterwarnings("ignore", message="Configuration file not found")
            from dustmaps.bayestar import BayestarQuery
        try:
            with contextlib.redirect_stdout(io.StringIO()):   # dustmaps prints its progress
                return BayestarQuery(map_fname=str(path), version="bayestar2019")
        except (OSError, KeyError, ValueError) as exc:
            self.note = f"{path}: not a Bayestar19 map ({exc}); using the fallback"
            logger.warning(self.note)
            return None

    def _load_bh(self):
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Configuration file not found")
                from dustmaps.bh import BHQuery
            with contextlib.redirect_stdout(io.StringIO()):
                return BHQuery()
        except Exception as exc:  # a broken dustmaps install must not stop the stage
            self.note += f"; Burstein-Heiles map unavailable ({exc})"
            logger.warning("Burstein-Heiles map unavailable: %s", exc)
            return None

    @property
    def source(self) -> str:
        """The map that :meth:`query` uses first."""
        if self._bayestar is not None:
            return "bayestar2019"
        return "bh1982-2d" if self._bh is not None else "none"

    def query(self, ra: np.ndarray, dec: np.ndarray, distance_pc: np.ndarray):
        """E(B-V) and its source for each position.

        Parameters
        ----------
        ra, dec : arrays, deg (ICRS)
        distance_pc : array, pc (NaN: the whole line of sight)

        Returns
        -------
        ebv : array, mag (NaN where no map covers the position)
        source : array of str, one of :data:`SOURCES`
        """
        ra, dec = np.atleast_1d(ra).astype(float), np.atleast_1d(dec).astype(float)
        dist = np.atleast_1d(distance_pc).astype(float)
        ebv = np.full(ra.shape, np.nan)
        src = np.full(ra.shape, "none", dtype=object)
        if self._bayestar is not None:
            ok = np.isfinite(dist) & (dist > 0)
            if ok.any():
                ebv[ok] = self._query_bayestar(ra[ok], dec[ok], dist[ok])
                src[ok & np.isfinite(ebv)] = "bayestar2019"
        if self._bh is not None:
            todo = ~np.isfinite(ebv)
            if todo.any():
                ebv[todo] = self._query_bh(ra[todo], dec[todo])
                src[todo & np.isfinite(ebv)] = "bh1982-2d"
        return ebv, src.astype(str)

    def _query_bayestar(self, ra, dec, dist):
        from astropy.coordinates import SkyCoord
        import astropy.units as u

        coords = SkyCoord(ra * u.deg, dec * u.deg, distance=dist * u.pc, frame="icrs")
        return np.asarray(self._bayestar.query(coords, mode=self.mode), float)

    def _query_bh(self, ra, dec):
        from astropy.coordinates import SkyCoord
        import astropy.units as u

        coords = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs")
        val = np.asarray(self._bh.query(coords), float)
        return val / SFD_PER_B19
