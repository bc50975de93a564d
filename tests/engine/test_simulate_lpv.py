"""The demo's long-period variables and class mix against the real catalogues.

Irregular LPVs change amplitude and mean from cycle to cycle (measured on the generator's
own curves, noise-free so that the spread is the star's, not the photometry's); periods
and amplitudes follow the OGLE-III summaries; the class mix follows the CPVS counts.
"""
from __future__ import annotations

import numpy as np
import pytest

from engine.simulate import cadence, lightcurves, ogle3, shapes
from engine.simulate.classes import (CLASS_NAMES, CPVS_COUNTS, class_counts, draw_classes,
                                     draw_parameters)

BASELINE = cadence.MJD_END - cadence.MJD_START


def _curves(name: str, n: int, span: float, seed: int = 5, per_day: float = 4.0):
    """Noise-free r curves of ``n`` stars of class ``name`` drawn as the demo draws them."""
    rng = np.random.default_rng(seed)
    cls = np.full(n, CLASS_NAMES.index(name))
    par = draw_parameters(cls, rng)
    par.update(class_code=cls, t0=np.full(n, cadence.MJD_START), lag_g=np.zeros(n),
               mean_g=np.zeros(n), mean_r=np.zeros(n))
    tmpl = shapes.templates(list(CLASS_NAMES), cls, rng)
    k = int(span * per_day)
    t = np.tile(cadence.MJD_START + np.arange(k) / per_day, n)
    obj = np.repeat(np.arange(n), k)
    ep = cadence.Epochs(obj, t, np.ones(len(t), np.uint8), np.full(len(t), 30.0))
    return par, t[:k], lightcurves.model_mags(par, ep, tmpl, rng).reshape(n, k)


def _per_cycle(par, t, mags, min_cycles: int = 3):
    """Relative spread of the per-cycle peak-to-peak amplitude, and the spread of the
    per-cycle mean in units of the amplitude, for every star with ``min_cycles`` cycles."""
    amp_spread, mean_spread = [], []
    for i, p in enumerate(par["period"]):
        cyc = np.floor((t - t[0]) / p).astype(int)
        full = np.arange(cyc.max())            # the last cycle is incomplete
        if len(full) < min_cycles:
            continue
        amps = np.array([np.ptp(mags[i, cyc == c]) for c in full])
        means = np.array([mags[i, cyc == c].mean() for c in full])
        amp_spread.append(amps.std() / amps.mean())
        mean_spread.append(means.std() / par["amp_r"][i])
    return np.array(amp_spread), np.array(mean_spread)


@pytest.mark.parametrize("name, span", [("SR", BASELINE), ("Mira", 6 * BASELINE)])
def test_irregular_lpvs_change_amplitude_and_mean_from_cycle_to_cycle(name, span):
    par, t, mags = _curves(name, 60, span)
    amp_spread, mean_spread = _per_cycle(par, t, mags)
    assert len(amp_spread) >= 20
    assert np.median(amp_spread) > 0.05, np.median(amp_spread)   # >5% cycle to cycle
    assert np.median(mean_spread) > 0.03, np.median(mean_spread)
    # a regular pulsator on the same measure: only the sampling's few-0.1% remain
    par, t, mags = _curves("RR", 30, 60.0, per_day=50.0)
    amp_spread, mean_spread = _per_cycle(par, t, mags)
    assert np.median(amp_spread) < 0.02 and np.median(mean_spread) < 0.015


def test_longest_miras_cover_one_or_two_cycles_in_the_baseline():
    rng = np.random.default_rng(2)
    cls = np.full(4000, CLASS_NAMES.index("Mira"))
    period = draw_parameters(cls, rng)["period"]
    cycles = BASELINE / period
    assert np.percentile(cycles, 90) < 3.0            # most Miras: under three cycles
    assert np.percentile(cycles, 10) < 1.2            # the longest: about one
    assert (cycles < 2).mean() > 0.5


def test_lpvs_have_several_periods_and_long_secondary_periods():
    """The SR signal left after the primary period is large (second mode, LSP), and a
    share of SRs drifts on a time scale longer than the primary period."""
    par, t, mags = _curves("SR", 200, BASELINE, per_day=1.0)
    resid = []
    for i, p in enumerate(par["period"]):
        x = np.exp(2j * np.pi * t / p)
        coef = (mags[i] * x.conj()).mean() * 2          # first harmonic of the primary
        resid.append(np.std(mags[i] - (coef * x).real) / np.std(mags[i]))
    assert np.median(resid) > 0.3
    assert 0.2 < ogle3.LPV_EXTRA["SR"]["lsp_frac"] < 0.5      # OGLE-III: ~37% with an LSP


def test_period_amplitude_distributions_follow_ogle3():
    rng = np.random.default_rng(11)
    for name, (_, mp, sp, ma, sa, rho, *_) in ogle3.PULSATORS.items():
        cls = np.full(5000, CLASS_NAMES.index(name))
        par = draw_parameters(cls, rng)
        lp, la = np.log10(par["period"]), np.log10(par["amp_r"])
        assert abs(np.median(lp) - mp) < 0.05 and abs(np.median(la) - ma) < 0.05, name
        assert abs((np.percentile(lp, 84) - np.percentile(lp, 16)) / 2 - sp) < 0.25 * sp, name
        if abs(rho) > 0.3:                    # Mira, SR: +, RRab, DSCT: -
            assert np.sign(np.corrcoef(lp, la)[0, 1]) == np.sign(rho), name
        # the real tails are kept: ~1% beyond OGLE-III's 1% and 99% periods (a draw cut
        # at that range, or a log-normal of the same spread, has none or far fewer)
        p_lo, p_hi = ogle3.PULSATORS[name][6:8]
        for beyond in (np.mean(par["period"] < p_lo), np.mean(par["period"] > p_hi)):
            assert 0.004 < beyond < 0.02, (name, beyond)


def test_draws_follow_the_ogle3_quantiles():
    """The copula's draws reproduce the committed quantiles of period and amplitude."""
    rng = np.random.default_rng(5)
    for name, q in ogle3.QUANTILES.items():
        p, a = ogle3.draw(name, 40_000, rng)
        for knots, x in ((q["log_p"], np.log10(p)), (q["log_a"], np.log10(a))):
            for prob in (0.05, 0.25, 0.5, 0.75, 0.95):
                want = np.interp(prob, ogle3.PROBS, knots)
                assert abs(np.quantile(x, prob) - want) < 0.02, (name, prob)
            assert knots[0] <= x.min() and x.max() <= knots[-1] + 1e-12, name


def test_class_mix_follows_the_cpvs_counts():
    total = sum(CPVS_COUNTS.values())
    n = 100_000
    counts = dict(zip(CLASS_NAMES, class_counts(n)))
    for name, c in CPVS_COUNTS.items():
        assert abs(counts[name] - n * c / total) <= 1, name
    drawn = draw_classes(20_000, np.random.default_rng(4))       # before anomalies are injected
    share = np.bincount(drawn, minlength=len(CLASS_NAMES)) / len(drawn)
    np.testing.assert_allclose(share, [CPVS_COUNTS[c] / total for c in CLASS_NAMES], atol=1e-4)
