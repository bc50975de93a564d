"""The fast path: the same 2-D GP as the george reference, in weight space, batched.

Why this is the same model. The phase kernel exp(-dphi^2/l^2) made exactly periodic
(the wrapped Gaussian, which is what stacking the data 3x approximates in the middle
stack) has the Fourier series ``l sqrt(pi) [1 + 2 sum_n exp(-(pi n l)^2) cos(2 pi n dphi)]``
(Poisson summation). Truncated at K harmonics it is Bayesian linear regression on the
basis (1, cos 2 pi n phi, sin 2 pi n phi) with prior variances ``a_n``; the two bands share
it through the 2x2 coregionalisation ``C [[1, rho], [rho, 1]]``, rho = exp(-dlam^2/l_lam^2)
(eq. 2 with two wavelengths). The dropped harmonics carry a prior weight below
exp(-(pi K l)^2) ~ 1e-4 of the first one when ``pi K l >= 3``; each object gets the K
its l_phi needs (:mod:`engine.gp.fast_fit`).

Why it is fast. With D = diag(magerr^2 + delta) and P the weight prior, the NLL needs
only A = Phi^T D^-1 Phi, whose entries are weighted trigonometric moments
``S_k = sum_i w_i exp(2 pi i k phi_i)``, k = 0..2K (products of harmonics are harmonics):
O(n K) per likelihood instead of O(n^3) (O(n M^2) for a plain weight-space form). Then
everything is (2(2K+1))^2-sized: ``B = I + L^T A L`` with P = L L^T, and

    NLL = 1/2 [y^T D^-1 y - u^T B^-1 u + log|B| + log|D| + n log 2 pi],  u = L^T Phi^T D^-1 y

with v = B^-1 u. Gradients: for a prior parameter, with Omega = L^-1 dP L^-T (which is
I for C, kron(I, diag dlog a) for l_phi, kron(L_R^-1 dR L_R^-T, I) for l_lam, using
L^T Phi^T Sigma^-1 Phi L = I - B^-1 and L^T Phi^T alpha = v),
``dNLL = 1/2 tr((I - B^-1) Omega) - 1/2 v^T Omega v``; for delta,
``dNLL = delta/2 [tr Sigma^-1 - alpha^T alpha]`` with tr Sigma^-1 from the moments of w^2
and alpha = D^-1 (y - Phi L v). The Fisher information (the expected Hessian, for the
optimiser's scoring steps) comes from the same small matrices (:mod:`.fast_linalg`).
Many light curves are stacked into one batch and optimised together (one quasi-Newton
problem per curve, vectorised evaluations), so numpy's per-call overhead is shared by
hundreds of curves. The matrices are formed block by block (g and r, M x M each) with as
few passes over memory as possible: for small M those passes, not the O(M^3) algebra,
dominate the time.
"""
from __future__ import annotations

import logging

import numpy as np

from ..config import InterpConfig
from ..fold import band_coordinates
from .fast_linalg import band_blocks, dot, fisher_information, spd_inverse, spd_solve, whiten
from .model import Band2

logger = logging.getLogger(__name__)
_SQRT_PI = np.sqrt(np.pi)
_LOG_2PI = np.log(2 * np.pi)


def k_floor(k: int, cfg: InterpConfig) -> float:
    """Shortest l_phi that K harmonics represent faithfully (pi K l >= 3)."""
    return max(cfg.lphi_bounds[0], 3.0 / (np.pi * k))


def k_needed(cfg: InterpConfig) -> int:
    """Harmonics needed for the lower bound of l_phi."""
    return int(np.ceil(3.0 / (np.pi * cfg.lphi_bounds[0])))


class _Basis:
    """Index tables turning trigonometric moments S_k into A = Phi^T W Phi.

    Entry (p, q) of A is ``c1 S'_{|f_p - f_q|} + c2 S'_{f_p + f_q}`` where S' is the
    real or the imaginary part of S (cos x cos and sin x sin: real parts; mixed: imaginary),
    so A is two gathers from the stacked (real, imaginary) moments.
    """

    def __init__(self, k: int):
        self.k = k
        f = np.concatenate([np.arange(k + 1), np.arange(1, k + 1)])
        sin = np.concatenate([np.zeros(k + 1, bool), np.ones(k, bool)])
        self.freq, self.sin = f, sin
        fp, fq = f[:, None], f[None, :]
        sp, sq = sin[:, None], sin[None, :]
        mixed = sp ^ sq
        n = 2 * k + 1
        self.j1 = np.abs(fp - fq) + n * mixed       # index into [Re S, Im S]
        self.j2 = fp + fq + n * mixed
        sgn = np.sign(fp - fq)
        self.c1 = np.where(mixed, np.where(sp, 0.5, -0.5) * sgn, 0.5)
        self.c2 = np.where(mixed, 0.5, np.where(sp, -0.5, 0.5))

    @property
    def m(self) -> int:
        return 2 * self.k + 1

    def gram(self, s: np.ndarray) -> np.ndarray:
        """(..., 2(2K+1)) moments (real parts, then imaginary) -> (..., M, M) Gram matrix."""
        return s[..., self.j1] * self.c1 + s[..., self.j2] * self.c2

    def project(self, t: np.ndarray) -> np.ndarray:
        """(..., 2(2K+1)) moments of w y -> (..., M) real Phi^T W y."""
        n = 2 * self.k + 1
        return np.concatenate([t[..., :self.k + 1], t[..., n + 1:n + self.k + 1]], axis=-1)

    def prior(self, lphi: np.ndarray) -> np.ndarray:
        """Prior variances a_p of the basis functions, (b,) -> (b, M)."""
        f = self.freq[None, :]
        a = lphi[:, None] * _SQRT_PI * np.exp(-(np.pi * f * lphi[:, None]) ** 2)
        return np.where(f == 0, a, 2 * a)

    def design(self, phases: np.ndarray) -> np.ndarray:
        arg = 2 * np.pi * np.outer(phases, self.freq)
        return np.where(self.sin[None, :], np.sin(arg), np.cos(arg))


class _Prior:
    """Per-curve prior quantities at x, and the derivatives the gradient and Fisher need."""

    def __init__(self, x: np.ndarray, basis: _Basis, dlam2: float):
        self.lphi, llam, self.c = np.exp(x[:, 0]), np.exp(x[:, 1]), np.exp(x[:, 2])
        self.delta = np.exp(x[:, 3])
        self.rho = np.exp(-dlam2 / llam ** 2)
        self.s = np.sqrt(np.clip(1 - self.rho ** 2, 1e-12, None))
        self.sa = np.sqrt(basis.prior(self.lphi))
        # C sqrt(a_p a_q): the whitening of a Gram block (one pass instead of two)
        sca = np.sqrt(self.c)[:, None] * self.sa
        self.outer = sca[:, :, None] * sca[:, None, :]
        # d log a_p / d log l_phi, and d rho / d log l_lam
        self.gp = 1 - 2 * (np.pi * basis.freq[None, :] * self.lphi[:, None]) ** 2
        self.drho = self.rho * 2 * dlam2 / llam ** 2

    def col(self, name: str) -> np.ndarray:
        """rho, s, rho^2, s^2 or rho s as (b, 1, 1) for broadcasting over blocks."""
        v = {"rho": self.rho, "s": self.s, "rho2": self.rho ** 2, "s2": self.s ** 2,
             "rs": self.rho * self.s}[name]
        return v[:, None, None]


class FastBatch:
    """A batch of light curves, padded to a common length, ready for batched NLLs.

    Parameters
    ----------
    data : list of Band2
    k : int, Fourier harmonics
    cfg : InterpConfig
    """

    def __init__(self, data: list[Band2], k: int, cfg: InterpConfig):
        self.basis = _Basis(k)
        self.cfg = cfg
        b, nmax = len(data), max(max(len(d.y[0]), len(d.y[1])) for d in data)
        self.y = np.zeros((b, 2, nmax))
        self.var = np.ones((b, 2, nmax))
        self.mask = np.zeros((b, 2, nmax))
        ph = np.zeros((b, 2, nmax))
        for i, d in enumerate(data):
            for j in (0, 1):
                n = len(d.y[j])
                self.y[i, j, :n], self.var[i, j, :n], ph[i, j, :n] = d.y[j], d.var[j], d.phase[j]
                self.mask[i, j, :n] = 1.0
        self.n = self.mask.sum(axis=(1, 2))
        # cos and sin of 2 pi k phi side by side (real BLAS matmuls beat complex einsum)
        # powers of exp(2 pi i phi) by repeated products: far cheaper than 2(2K+1) trig calls
        z = np.empty(ph.shape + (2 * k + 1,), complex)
        z[..., 0] = 1.0
        z[..., 1:] = np.exp(2j * np.pi * ph)[..., None]
        np.cumprod(z, axis=-1, out=z)
        self.e = np.concatenate([z.real, z.imag], axis=-1)
        lam = band_coordinates(cfg.lambda_low, cfg.lambda_high)
        self.dlam2 = float(np.diff(lam)[0] ** 2)
        self._cache_key, self._cache = None, None

    def __len__(self) -> int:
        return len(self.y)

    def _rows(self, idx: np.ndarray | None):
        """e, y, mask, var, n of the rows ``idx``; the last selection is kept, because an
        optimiser asks for the same running rows for several rounds in a row (and copying
        e costs as much as using it)."""
        if idx is None or (len(idx) == len(self) and np.array_equal(idx, np.arange(len(self)))):
            return self.e, self.y, self.mask, self.var, self.n
        key = idx.tobytes()
        if self._cache_key != key:
            self._cache = (self.e[idx], self.y[idx], self.mask[idx], self.var[idx], self.n[idx])
            self._cache_key = key
        return self._cache

    def nll_lphi(self, x: np.ndarray, lphis, harmonics=None) -> np.ndarray:
        """NLL (len(lphis), b) at x with l_phi replaced by each value of ``lphis``.

        l_phi only enters the prior, so the moments of the data are computed once.
        ``harmonics``: for each l_phi, the K (<= this batch's) to use; the Gram matrix of
        fewer harmonics is a sub-block of this one (a long l_phi needs only a few).
        """
        w = self.mask / (self.var + np.exp(x[:, 3])[:, None, None])
        mom = np.stack([w, w * self.y], axis=2) @ self.e
        gram, u_raw = self.basis.gram(mom[:, :, 0]), self.basis.project(mom[:, :, 1])
        logdet_d = (np.log(self.var + np.exp(x[:, 3])[:, None, None]) * self.mask).sum(axis=(1, 2))
        const = (w * self.y ** 2).sum(axis=(1, 2)) + logdet_d + self.n * _LOG_2PI
        out = []
        ks = harmonics if harmonics is not None else [self.basis.k] * len(lphis)
        for lphi, k in zip(lphis, ks):
            k = min(int(k), self.basis.k)
            sub = np.r_[0:k + 1, self.basis.k + 1:self.basis.k + k + 1]
            xl = x.copy()
            xl[:, 0] = np.log(lphi)
            pr = _Prior(xl, _Basis(k), self.dlam2)
            u = self._whitened_rhs(u_raw[..., sub], pr)
            bmat = whiten(gram[:, :, sub][:, :, :, sub], pr, plus_identity=True)
            logdet, v = spd_solve(bmat, u)
            out.append(0.5 * (const - (u * v).sum(axis=1) + logdet))
        return np.array(out)

    @staticmethod
    def _whitened_rhs(u_raw: np.ndarray, pr: _Prior) -> np.ndarray:
        """u = L^T Phi^T D^-1 y from the per-band Phi^T D^-1 y (b, 2, M)."""
        sca = np.sqrt(pr.c)[:, None] * pr.sa
        return np.concatenate([sca * (u_raw[:, 0] + pr.rho[:, None] * u_raw[:, 1]),
                               sca * pr.s[:, None] * u_raw[:, 1]], axis=1)

    def evaluate(self, x: np.ndarray, idx: np.ndarray | None = None, grad: bool = True,
                 state: bool = False, fisher: bool = False):
        """NLL (b,) and its gradient (b, 4) in x = log(l_phi, l_lam, C, delta).

        With ``fisher``, also the Fisher information (b, 4, 4) in x (the expected Hessian
        of the NLL, 1/2 tr(Sigma^-1 dSigma_i Sigma^-1 dSigma_j)); with ``state``, a dict of
        what :meth:`predict` needs.
        """
        e, y, mask, var, n = self._rows(idx)
        pr = _Prior(x, self.basis, self.dlam2)
        m = self.basis.m
        dvar = var + pr.delta[:, None, None]
        w = mask / dvar
        # one pass over the basis for the moments of w, w y (and w^2, w^3 for d/d delta)
        rows = [w, w * y]
        if grad:
            rows += [w * w, w * w * y]
        if fisher:
            rows.append(rows[2] * w)
        mom = np.stack(rows, axis=2) @ e                 # (b, 2, q, 2(2K+1))
        u_raw = self.basis.project(mom[:, :, 1])
        bmat = whiten(self.basis.gram(mom[:, :, 0]), pr, plus_identity=True)
        u = self._whitened_rhs(u_raw, pr)
        if grad or state:
            logdet_b, binv = spd_inverse(bmat)
            v = (binv @ u[:, :, None])[:, :, 0]
        else:
            logdet_b, v = spd_solve(bmat, u)
        logdet_d = (np.log(dvar) * mask).sum(axis=(1, 2))
        quad = (w * y * y).sum(axis=(1, 2)) - (u * v).sum(axis=1)
        nll = 0.5 * (quad + logdet_b + logdet_d + n * _LOG_2PI)
        st = dict(binv=binv, v=v, pr=pr) if state else None
        if not grad:
            return (nll, st) if state else nll
        a2 = self.basis.gram(mom[:, :, 2])
        w2 = (a2[:, 0] * pr.outer, a2[:, 1] * pr.outer)
        wy2 = (rows[3] * y).sum(axis=(1, 2))
        g = self._gradient(mom, a2, wy2, w, binv, v, pr, w2)
        out = [nll, g]
        if fisher:
            a3 = self.basis.gram(mom[:, :, 4])
            w3 = (a3[:, 0] * pr.outer, a3[:, 1] * pr.outer)
            out.append(fisher_information(binv, w2, w3, pr, rows[2].sum(axis=(1, 2))))
        if state:
            out.append(st)
        return tuple(out)

    def _gradient(self, mom, a2, wy2, w, binv, v, pr: _Prior, w2) -> np.ndarray:
        m = self.basis.m
        d = np.diagonal(binv, axis1=1, axis2=2)
        dgg, drr = d[:, :m], d[:, m:]
        dgr = np.diagonal(binv[:, :m, m:], axis1=1, axis2=2)
        vg, vr = v[:, :m], v[:, m:]
        rho, s = pr.rho, pr.s
        out = np.empty((len(v), 4))
        out[:, 0] = 0.5 * (pr.gp * (2 - dgg - drr - vg ** 2 - vr ** 2)).sum(axis=1)
        tr_om = -2 * rho / s ** 2 * m
        tr_bom = 2 / s * dgr.sum(1) - 2 * rho / s ** 2 * drr.sum(1)
        v_om = 2 / s * (vg * vr).sum(1) - 2 * rho / s ** 2 * (vr ** 2).sum(1)
        out[:, 1] = 0.5 * pr.drho * (tr_om - tr_bom - v_om)
        out[:, 2] = 0.5 * (2 * m - d.sum(axis=1) - (v * v).sum(axis=1))
        ug, ur = band_blocks(binv, pr)
        tr_sinv = w.sum(axis=(1, 2)) - dot(ug, w2[0]) - dot(ur, w2[1])
        # alpha = W (y - Phi beta), beta the posterior-mean weights per band, so
        # alpha^T alpha = y^T W^2 y - 2 beta^T Phi^T W^2 y + beta^T (Phi^T W^2 Phi) beta
        # from the moments of w^2 and w^2 y (no second pass over the data)
        sca = np.sqrt(pr.c)[:, None] * pr.sa
        beta = np.stack([sca * vg, sca * (rho[:, None] * vg + s[:, None] * vr)], axis=1)
        r2 = self.basis.project(mom[:, :, 3])
        quad2 = ((a2 @ beta[..., None])[..., 0] * beta).sum(axis=(1, 2))
        alpha2 = wy2 - 2 * (beta * r2).sum(axis=(1, 2)) + quad2
        out[:, 3] = 0.5 * pr.delta * (tr_sinv - alpha2)
        return out

    def predict(self, x: np.ndarray, phases: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and sigma of the latent curve (b, 2, len(phases)), mag."""
        _, st = self.evaluate(x, grad=False, state=True)
        pr, v, binv, m = st["pr"], st["v"], st["binv"], self.basis.m
        psi = self.basis.design(phases)                        # (P, M)
        sca = np.sqrt(pr.c)[:, None] * pr.sa
        vg, vr = v[:, :m], v[:, m:]
        mean_g = (sca * vg) @ psi.T
        mean_r = (sca * (pr.rho[:, None] * vg + pr.s[:, None] * vr)) @ psi.T
        h = sca[:, None, :] * psi[None]                        # (b, P, M)
        # the r band's row of L is (rho h, s h): B^-1 folds to one M x M block per band
        var = [((h @ uu) * h).sum(axis=2) for uu in band_blocks(binv, pr)]
        return (np.stack([mean_g, mean_r], axis=1),
                np.sqrt(np.clip(np.stack(var, axis=1), 0, None)))
