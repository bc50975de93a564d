"""The fast weight-space GP against the exact GP it claims to be, and against george."""
import numpy as np
import pytest

from engine.config import InterpConfig
from engine.fold import band_coordinates, phase_grid, scale
from engine.gp.fast import FastBatch
from engine.gp.fast_fit import fit_fast
from engine.gp.model import Band2, check_physical, prepare
from engine.gp.optim import minimize_batch
from engine.store import Status

from .gp_helpers import make_lc

CFG = InterpConfig()


def _data(rng, n=(30, 37)):
    ph = [rng.random(n[0]), rng.random(n[1])]
    y = [0.3 * np.sin(2 * np.pi * p) + 0.1 * np.sin(6 * np.pi * p) + 0.02 * rng.normal(size=len(p))
         for p in ph]
    var = [(0.01 + 0.02 * rng.random(len(p))) ** 2 for p in ph]
    return Band2(ph, y, var, np.zeros(2))


def _dense(d, x, phases=None):
    """Exact 2-D GP with the wrapped (periodic) kernel of eq. 2, by brute force."""
    lphi, llam, c, delta = np.exp(x)
    lam = band_coordinates(CFG.lambda_low, CFG.lambda_high)
    p = np.concatenate(d.phase)
    l = np.concatenate([np.full(len(d.phase[b]), lam[b]) for b in (0, 1)])

    def k(p1, l1, p2, l2):
        dp = p1[:, None] - p2[None, :]
        return c * sum(np.exp(-(dp + j) ** 2 / lphi ** 2) for j in range(-6, 7)) \
            * np.exp(-(l1[:, None] - l2[None, :]) ** 2 / llam ** 2)

    kd = k(p, l, p, l) + np.diag(np.concatenate(d.var) + delta)
    y = np.concatenate(d.y)
    sign, logdet = np.linalg.slogdet(kd)
    nll = 0.5 * (y @ np.linalg.solve(kd, y) + logdet + len(y) * np.log(2 * np.pi))
    if phases is None:
        return nll
    ps, ls = np.tile(phases, 2), np.repeat(lam, len(phases))
    ks = k(ps, ls, p, l)
    mean = ks @ np.linalg.solve(kd, y)
    var = np.diag(k(ps, ls, ps, ls)) - np.einsum("ij,ji->i", ks, np.linalg.solve(kd, ks.T))
    return nll, mean.reshape(2, -1), np.sqrt(var).reshape(2, -1)


def _dense_cov(d, x):
    """Covariance of the exact 2-D GP (wrapped kernel of eq. 2) at the data, brute force."""
    lphi, llam, c, delta = np.exp(x)
    lam = band_coordinates(CFG.lambda_low, CFG.lambda_high)
    p = np.concatenate(d.phase)
    l = np.concatenate([np.full(len(d.phase[b]), lam[b]) for b in (0, 1)])
    dp = p[:, None] - p[None, :]
    k = c * sum(np.exp(-(dp + j) ** 2 / lphi ** 2) for j in range(-6, 7)) \
        * np.exp(-(l[:, None] - l[None, :]) ** 2 / llam ** 2)
    return k + np.diag(np.concatenate(d.var) + delta)


# K = 20 inverts with numpy's batched LU, K = 40 with LAPACK's Cholesky routines per curve
@pytest.mark.parametrize("k", [20, 40])
def test_fast_nll_gradient_and_prediction_equal_exact_gp(k):
    rng = np.random.default_rng(1)
    data = [_data(rng), _data(rng, (50, 20))]
    fb = FastBatch(data, k, CFG)   # pi K l >= 3 for both l_phi below
    x = np.log(np.array([[0.15, 1.0, 0.05, 1e-3], [0.3, 0.5, 0.1, 3e-4]]))
    nll, grad = fb.evaluate(x)
    eps = 1e-6
    for i, d in enumerate(data):
        assert nll[i] == pytest.approx(_dense(d, x[i]), rel=1e-10)
        for j in range(4):
            xp, xm = x[i].copy(), x[i].copy()
            xp[j] += eps
            xm[j] -= eps
            assert grad[i, j] == pytest.approx((_dense(d, xp) - _dense(d, xm)) / (2 * eps),
                                               rel=1e-5, abs=1e-6)
    mean, std = fb.predict(x, phase_grid(40))
    _, m0, s0 = _dense(data[0], x[0], phase_grid(40))
    np.testing.assert_allclose(mean[0], m0, atol=1e-10)
    np.testing.assert_allclose(std[0], s0, atol=1e-10)


def test_batched_minimiser_respects_bounds_and_converges():
    target = np.array([[0.5, -1.0], [3.0, 0.2], [-2.0, 0.0]])

    def fun(x, idx):
        d = x - target[idx]
        return (d ** 2 * [1.0, 10.0]).sum(1), 2 * d * [1.0, 10.0]

    lo, hi = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    x, f, conv, _ = minimize_batch(fun, np.zeros((3, 2)), lo, hi)
    assert conv.all()
    np.testing.assert_allclose(x, np.clip(target, lo, hi), atol=1e-4)


def test_fast_matches_george_reference():
    """The paper's george fit (3x stacking, L-BFGS-B) and the fast path agree on curves."""
    pytest.importorskip("george")
    from engine.gp.george_ref import fit_george

    rng = np.random.default_rng(3)
    phases = phase_grid(160)
    data = []
    for period, kind in ((0.55, "rr"), (0.31, "sine")):
        lc = make_lc(rng, period, n=(30, 35), kind=kind)
        d, _, _ = prepare(lc.time, lc.mag, lc.magerr, lc.band, period, 10)
        data.append(d)
    mean, std, hyper, _, status, _ = fit_fast(data, CFG, phases)
    assert not status.any()
    for i, d in enumerate(data):
        ref = fit_george(d, CFG, phases)
        assert ref.status == 0
        a = scale(mean[i] + d.offset[:, None], std[i])[0]
        b = scale(ref.mean + d.offset[:, None], ref.std)[0]
        assert np.sqrt(np.mean((a - b) ** 2)) < 0.1
        assert hyper[i, 0] == pytest.approx(ref.hyper[0], rel=0.25)   # l_phi
        assert hyper[i, 2] == pytest.approx(ref.hyper[2], rel=0.5)    # C


def test_prepare_flags_bad_inputs():
    rng = np.random.default_rng(0)
    lc = make_lc(rng, 0.5, n=(30, 5))
    args = (lc.time, lc.mag, lc.magerr, lc.band)
    assert prepare(*args, 0.5, 10)[1] == Status.FEW_POINTS
    assert prepare(*args, -1.0, 10)[1] == Status.BAD_PERIOD
    only_g = lc.band == 0
    d, flag, msg = prepare(*(a[only_g] for a in args), 0.5, 10)
    assert d is None and flag == Status.MISSING_BAND and "r" in msg
    mag = lc.mag.copy()
    mag[:3] = np.nan   # dropped, not fatal
    d, flag, _ = prepare(lc.time, mag, lc.magerr, lc.band, 0.5, 3)
    assert flag == 0 and len(d.y[0]) == 27
    assert abs(d.y[0].mean()) < 1e-12 and d.offset[0] == pytest.approx(np.nanmean(mag[lc.band == 0]))


def test_divergent_lphi_is_restarted_then_flagged():
    """A smooth curve fitted in a box whose l_phi edge it runs into: restarts, then GP_FAILED."""
    rng = np.random.default_rng(5)
    lc = make_lc(rng, 0.5, n=(40, 40), kind="sine", err=0.005)
    d, _, _ = prepare(lc.time, lc.mag, lc.magerr, lc.band, 0.5, 10)
    cfg = InterpConfig(lphi_bounds=(0.01, 0.04), n_harmonics=48)
    _, _, hyper, _, status, msgs = fit_fast([d], cfg, phase_grid(160))
    assert status[0] == Status.GP_FAILED and "diverged" in msgs[0]
    assert hyper[0, 0] == pytest.approx(0.04, rel=0.03)
    ok = fit_fast([d], CFG, phase_grid(160))[4]
    assert ok[0] == 0


def test_check_physical_reasons():
    rng = np.random.default_rng(0)
    d = _data(rng)
    good_mean = np.vstack([0.3 * np.sin(2 * np.pi * phase_grid(160))] * 2)
    good_std = np.full((2, 160), 0.01)
    assert check_physical(good_mean, good_std, d) == ""
    assert "leaves the data range" in check_physical(good_mean * 10, good_std, d)
    assert "non-finite" in check_physical(good_mean * np.nan, good_std, d)
    assert "exploded" in check_physical(good_mean, good_std * 100, d)
    assert "collapsed" in check_physical(good_mean, good_std * 1e-5, d)


@pytest.mark.parametrize("k", [20, 40])
def test_fisher_information_equals_exact_gp(k):
    """1/2 tr(S^-1 dS_i S^-1 dS_j) of the brute-force GP, dS by central differences."""
    rng = np.random.default_rng(2)
    data = [_data(rng), _data(rng, (50, 20))]
    fb = FastBatch(data, k, CFG)
    x = np.log(np.array([[0.15, 1.0, 0.05, 1e-3], [0.3, 0.5, 0.1, 3e-4]]))
    _, _, fisher = fb.evaluate(x, fisher=True)
    for i, d in enumerate(data):
        sinv = np.linalg.inv(_dense_cov(d, x[i]))
        ds = []
        for j in range(4):
            xp, xm = x[i].copy(), x[i].copy()
            xp[j] += 1e-6
            xm[j] -= 1e-6
            ds.append(sinv @ (_dense_cov(d, xp) - _dense_cov(d, xm)) / 2e-6)
        exact = np.array([[0.5 * np.trace(a @ b) for b in ds] for a in ds])
        np.testing.assert_allclose(fisher[i], exact, rtol=1e-6, atol=1e-6 * np.abs(exact).max())


def test_nll_over_lphi_grid_and_nll_without_gradient_equal_evaluate():
    rng = np.random.default_rng(4)
    data = [_data(rng), _data(rng, (50, 20))]
    fb = FastBatch(data, 12, CFG)
    x = np.log(np.array([[0.15, 1.0, 0.05, 1e-3], [0.3, 0.5, 0.1, 3e-4]]))
    grid = [0.1, 0.2, 0.4]
    nll = fb.nll_lphi(x, grid)
    for j, v in enumerate(grid):
        xv = x.copy()
        xv[:, 0] = np.log(v)
        np.testing.assert_allclose(nll[j], fb.evaluate(xv)[0], rtol=1e-12)
        np.testing.assert_allclose(fb.evaluate(xv, grad=False), fb.evaluate(xv)[0], rtol=1e-12)
    # fewer harmonics for a long l_phi: the sub-block of the Gram is that basis's Gram
    few = fb.nll_lphi(x, [0.3, 0.5], harmonics=[4, 2])
    np.testing.assert_allclose(few[0], FastBatch(data, 4, CFG).nll_lphi(x, [0.3])[0], rtol=1e-12)
    np.testing.assert_allclose(few[1], FastBatch(data, 2, CFG).nll_lphi(x, [0.5])[0], rtol=1e-12)
    assert not np.allclose(few[0], fb.nll_lphi(x, [0.3])[0], rtol=1e-9, atol=0)


def test_scoring_steps_solve_an_ill_conditioned_quadratic_at_once():
    """With the exact curvature, scoring reaches the minimum in one step where BFGS from
    the identity needs many; the box still holds."""
    hess = np.diag([1e3, 1.0, 1e-2])
    target = np.array([[0.3, -0.5, 1.0], [-0.2, 0.4, 3.0]])
    calls = {"curv": 0, "plain": 0}

    def fun(x, idx, curvature=False):
        dx = x - target[idx]
        f, g = 0.5 * np.einsum("bi,ij,bj->b", dx, hess, dx), dx @ hess
        calls["curv" if curvature else "plain"] += 1
        return (f, g, np.tile(hess, (len(x), 1, 1))) if curvature else (f, g)

    lo, hi = np.full(3, -2.0), np.full(3, 2.0)
    x, _, conv, evals = minimize_batch(fun, np.zeros((2, 3)), lo, hi, scoring=2, max_step=5.0)
    assert conv.all() and evals <= 4
    np.testing.assert_allclose(x, np.clip(target, lo, hi), atol=1e-5)   # (F's tiny ridge)
    _, _, _, evals_bfgs = minimize_batch(fun, np.zeros((2, 3)), lo, hi, max_step=5.0)
    assert evals_bfgs > 3 * evals


def test_minimiser_stops_at_a_watched_lower_bound_and_on_a_flat_valley():
    # var 0 wants to go below its bound: the problem stops there, not converged
    def fun(x, idx):
        return (x[:, 0] + 3) ** 2 + (x[:, 1] - 0.5) ** 2, np.column_stack([2 * (x[:, 0] + 3),
                                                                         2 * (x[:, 1] - 0.5)])

    lo, hi = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    x, _, conv, evals = minimize_batch(fun, np.zeros((1, 2)), lo, hi,
                                       stop_at_lo=np.array([True, False]))
    assert x[0, 0] == -1.0 and not conv[0] and evals < 10
    # a valley that keeps falling by 1e-7 per unit: the stall test ends it
    def flat(x, idx):
        return x[:, 0] ** 2 - 1e-7 * x[:, 1], np.column_stack([2 * x[:, 0], np.full(len(x), -1e-7)])

    lo, hi = np.array([-1.0, -1e6]), np.array([1.0, 1e6])
    x, _, conv, evals = minimize_batch(flat, np.array([[0.5, 0.0]]), lo, hi, stall=1e-4)
    assert conv[0] and abs(x[0, 0]) < 1e-3 and evals < 30


def _eclipsing(rng, period=0.9, n=(90, 90), depth=0.8, width=0.015, err=0.01):
    """Detached eclipsing binary: flat out of eclipse, narrow Gaussian dips (mag)."""
    time, mag, magerr, band = [], [], [], []
    for b, nb in zip((0, 1), n):
        t = np.sort(rng.uniform(58000, 59000, nb))
        ph = t / period - np.floor(t / period)
        dip = sum(np.exp(-0.5 * ((ph - c + s) / width) ** 2) for c in (0.25, 0.75) for s in (-1, 0, 1))
        m = 15.0 + depth * dip * (1 - 0.3 * ((ph % 1) > 0.5)) + rng.normal(0, err, nb)
        time.append(t), mag.append(m), magerr.append(np.full(nb, err)), band.append(np.full(nb, b))
    return [np.concatenate(a) for a in (time, mag, magerr, band)], period


def test_each_curve_gets_the_harmonics_its_lphi_needs():
    """A narrow-eclipse curve is fitted with many harmonics, a sine with few, and both equal
    a fit made with the harmonics of the box's shortest l_phi for every curve."""
    from engine.gp.fast import k_needed
    from engine.gp.fast_fit import k_for
    from engine.gp.model import log_bounds

    lphi = np.geomspace(0.005, 2.0, 40)
    k = k_for(lphi, CFG)
    assert np.all(np.diff(k) <= 0) and k.max() == k_needed(CFG)
    assert np.all((np.pi * k * np.maximum(lphi, CFG.lphi_bounds[0]) >= 3) | (k == k_needed(CFG)))
    rng = np.random.default_rng(8)
    args, period = _eclipsing(rng)
    ea, _, _ = prepare(*args, period, 10)
    lc = make_lc(rng, 0.4, n=(60, 60), kind="sine")
    sine, _, _ = prepare(lc.time, lc.mag, lc.magerr, lc.band, 0.4, 10)
    phases = phase_grid(160)
    mean, _, hyper, nll, status, _ = fit_fast([ea, sine], CFG, phases)
    assert not status.any()
    assert hyper[0, 0] < 0.05 < 0.15 < hyper[1, 0]   # eclipse: short l_phi; sine: long
    kk = k_for(hyper[:, 0] * 0.99, CFG)
    assert kk[0] >= 24 and kk[1] <= 8
    # reference: every curve with K for l_phi >= 0.02, same start as the fast fit found
    k_ref = int(k_for(np.array([0.02]), CFG)[0])
    fb = FastBatch([ea, sine], k_ref, CFG)
    lo, hi = log_bounds(CFG)
    lo[0] = np.log(0.02)
    x, f, _, _ = minimize_batch(lambda xx, ii, c=False: fb.evaluate(xx, ii, fisher=c),
                                np.log(hyper), lo, hi, scoring=3, gtol=1e-7, ftol=1e-12)
    ref_mean, _ = fb.predict(x, phases)
    assert np.all(nll - f < 1e-3)              # the per-curve K loses no likelihood
    np.testing.assert_allclose(mean, ref_mean, atol=2e-3)


def test_batches_cover_every_curve_once_and_shrink_for_long_curves():
    from engine.gp.fast_fit import BATCH_BYTES, _batches

    def band2(n):
        return Band2([np.zeros(n)] * 2, [np.zeros(n)] * 2, [np.ones(n)] * 2, np.zeros(2))

    data = [band2(n) for n in [100] * 300 + [3000] * 50 + [20000] * 2]
    rows = np.arange(len(data))
    for k in (6, 12, 48):
        parts = list(_batches(rows, k, CFG, data))
        np.testing.assert_array_equal(np.concatenate(parts), rows)
        assert max(len(p) for p in parts) <= max(8, CFG.batch_size * CFG.n_harmonics / max(k, 12))
        for p in parts:
            longest = max(len(data[i].y[0]) for i in p)
            assert len(p) == 1 or len(p) * longest * (4 * k + 2) * 32 <= BATCH_BYTES
    assert len(list(_batches(rows[-2:], 96, CFG, data))) == 2   # too long to share a batch
