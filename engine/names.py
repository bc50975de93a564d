"""IAU-style object names from coordinates: the one writer of ``ZTF Jhhmmss.ss+ddmmss.s``.

Ingest names objects its catalogue left unnamed, exports fill empty names, and the demo
names its stars, all through :func:`iau_names`.
"""
from __future__ import annotations

import numpy as np

#: the IAU form: the survey's acronym, a space, then J and the J2000 position
IAU_PREFIX = "ZTF J"
#: how Chen et al. (2020) spell the same names in their catalogue's ID column
CHEN_PREFIX = "ZTFJ"


def iau_names(ra, dec, prefix: str = IAU_PREFIX) -> list[str]:
    """``<prefix>hhmmss.ss+ddmmss.s`` for each position (deg), '' where one is not finite.

    Truncated, not rounded, as the IAU convention asks: in integer units of 0.01 s of
    time and 0.1 arcsec, the 1e-6 absorbing float error (``62.10161`` deg is 223565.8
    tenths of an arcsec, not 223565.7999...).
    """
    ra, dec = np.atleast_1d(np.asarray(ra, float)), np.atleast_1d(np.asarray(dec, float))
    ok = np.isfinite(ra) & np.isfinite(dec)
    cs = np.floor(np.where(ok, ra % 360.0, 0) / 15.0 * 360000 + 1e-6).astype(np.int64)
    ds = np.floor(np.abs(np.where(ok, dec, 0)) * 36000 + 1e-6).astype(np.int64)
    names = []
    for c, d, neg, good in zip(cs.tolist(), ds.tolist(), (dec < 0).tolist(), ok.tolist()):
        if not good:
            names.append("")
            continue
        names.append(f"{prefix}{c // 360000:02d}{c // 6000 % 60:02d}{c % 6000 // 100:02d}."
                     f"{c % 100:02d}{'-' if neg else '+'}{d // 36000:02d}{d // 600 % 60:02d}"
                     f"{d % 600 // 10:02d}.{d % 10}")
    return names


def iau_name(ra: float, dec: float, prefix: str = IAU_PREFIX) -> str:
    """The name of one position (see :func:`iau_names`); '' if it is not finite."""
    return iau_names([ra], [dec], prefix)[0]
