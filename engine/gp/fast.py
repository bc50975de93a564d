"""The fast path: the same 2-D GP as the george reference, in weight space, batched.

Why this is the same model. The phase kernel exp(-dphi^2/l^2) made exactly periodic
(the wrapped Gaussian, which is what stacking the data 3x approximates in the middle
stack) has the Fourier series ``l sqrt(pi) [1 + 2 sum_n exp(-(pi n l)^2) cos(2 pi n dphi)]``
(Poisson summation). Truncated at K harmonics it is Bayesian linear regression on the
basis (1, cos 2 pi n phi, sin 2 pi n phi) with prior variances ``a_n``; the two bands share
it through the 2x2 coregionalisation ``C [[1, rho], [rho, 1]]``, rho = exp(-dlam^2/l_lam^2)
(eq. 2 with two wavelengths). The dropped harmonics carry a prior weight below
exp(-(pi K l)^2) ~ 1e-4 of the first one when ``pi K l >= 3``; where the fit needs a
shorter l_phi, K is doubled for that object.

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
and alpha = D^-1 (y - Phi L v). Many light curves are stacked into one batch and optimised together
(projected BFGS per curve, vectorised line search), so numpy's per-call overhead is
shared by hundreds of curves.
"""
from __future__ import annotations

import logging

import numpy as np

from ..config import InterpConfig
from ..fold import band_coordinates
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
    """Index tables turning trigonometric moments S_k into A = Phi^T W Phi."""

    def __init__(self, k: int):
        self.k = k
        f = np.concatenate([np.arange(k + 1), np.arange(1, k + 1)])
        sin = np.concatenate([np.zeros(k + 1, bool), np.ones(k, bool)])
        self.freq, self.sin = f, sin
        fp, fq = f[:, None], f[None, :]
        sp, sq = sin[:, None], sin[None, :]
        self.i1, self.i2 = np.abs(fp - fq), fp + fq
        sgn = np.sign(fp - fq)
        cc, ss = ~sp & ~sq, sp & sq
        self.cr1 = 0.5 * (cc | ss)
        self.cr2 = 0.5 * cc - 0.5 * ss
        self.ci1 = np.where(~sp & sq, -0.5 * sgn, 0.0) + np.where(sp & ~sq, 0.5 * sgn, 0.0)
        self.ci2 = 0.5 * ((~sp & sq) | (sp & ~sq))

    @property
    def m(self) -> int:
        return 2 * self.k + 1

    def gram(self, s: np.ndarray) -> np.ndarray:
        """(..., 2K+1) complex moments -> (..., M, M) real Gram matrix."""
        re, im = s.real, s.imag
        return (re[..., self.i1] * self.cr1 + re[..., self.i2] * self.cr2
                + im[..., self.i1] * self.ci1 + im[..., self.i2] * self.ci2)

    def project(self, t: np.ndarray) -> np.ndarray:
        """(..., K+1) complex sums of w y e^{ikphi} -> (..., M) real Phi^T W y."""
        return np.concatenate([t.real, t.imag[..., 1:]], axis=-1)

    def prior(self, lphi: np.ndarray) -> np.ndarray:
        """Prior variances a_p of the basis functions, (b,) -> (b, M)."""
        f = self.freq[None, :]
        a = lphi[:, None] * _SQRT_PI * np.exp(-(np.pi * f * lphi[:, None]) ** 2)
        return np.where(f == 0, a, 2 * a)

    def design(self, phases: np.ndarray) -> np.ndarray:
        arg = 2 * np.pi * np.outer(phases, self.freq)
        return np.where(self.sin[None, :], np.sin(arg), np.cos(arg))


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

    def __len__(self) -> int:
        return len(self.y)

    def _prior(self, x: np.ndarray):
        lphi, llam, c = np.exp(x[:, 0]), np.exp(x[:, 1]), np.exp(x[:, 2])
        rho = np.exp(-self.dlam2 / llam ** 2)
        s = np.sqrt(np.clip(1 - rho ** 2, 1e-12, None))
        return lphi, rho, s, c, np.sqrt(self.basis.prior(lphi))

    def _whiten(self, a: np.ndarray, sa, rho, s, c) -> np.ndarray:
        """L^T blockdiag(a_g, a_r) L for L = sqrt(C) kron(chol[[1,rho],[rho,1]], diag sqrt a)."""
        at = a * sa[:, None, :, None] * sa[:, None, None, :]
        g, r = at[:, 0], at[:, 1]
        rs = (rho * s)[:, None, None] * r
        top = np.concatenate([g + (rho ** 2)[:, None, None] * r, rs], axis=2)
        bot = np.concatenate([rs, (s ** 2)[:, None, None] * r], axis=2)
        return c[:, None, None] * np.concatenate([top, bot], axis=1)

    def evaluate(self, x: np.ndarray, idx: np.ndarray | None = None, grad: bool = True,
                 state: bool = False):
        """NLL (b,) and its gradient (b, 4) in x = log(l_phi, l_lam, C, delta)."""
        sl = slice(None) if idx is None else idx
        e, y, mask = self.e[sl], self.y[sl], self.mask[sl]
        lphi, rho, s, c, sa = self._prior(x)
        delta = np.exp(x[:, 3])
        w = mask / (self.var[sl] + delta[:, None, None])
        k, m = self.basis.k, self.basis.m
        # one pass over the basis for the moments of w, w*y and w^2 (the last for d/d delta)
        mom = self._moments(np.stack([w, w * y, w * w], axis=2), e)
        a = self.basis.gram(mom[:, :, 0])
        r = self.basis.project(mom[:, :, 1, :k + 1])
        bmat = self._whiten(a, sa, rho, s, c) + np.eye(2 * m)
        sc = np.sqrt(c)[:, None]
        u = np.concatenate([sc * sa * (r[:, 0] + rho[:, None] * r[:, 1]),
                            sc * sa * s[:, None] * r[:, 1]], axis=1)
        chol = np.linalg.cholesky(bmat)
        binv = np.linalg.inv(bmat)
        v = np.einsum("bij,bj->bi", binv, u)
        logdet_b = 2 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
        with np.errstate(divide="ignore"):
            logdet_d = -np.where(mask > 0, np.log(np.where(mask > 0, w, 1.0)), 0).sum(axis=(1, 2))
        quad = (w * y * y).sum(axis=(1, 2)) - (u * v).sum(axis=1)
        nll = 0.5 * (quad + logdet_b + logdet_d + self.n[sl] * _LOG_2PI)
        if not grad:
            return nll
        g = self._gradient(x, e, y, w, binv, v, lphi, rho, s, c, sa, delta, mom[:, :, 2])
        if state:
            return nll, g, dict(binv=binv, v=v, rho=rho, s=s, c=c, sa=sa)
        return nll, g

    @staticmethod
    def _moments(weights: np.ndarray, e: np.ndarray) -> np.ndarray:
        """(b, 2, q, n) weights x (b, 2, n, 2(2K+1)) cos|sin -> (b, 2, q, 2K+1) complex sums."""
        prod = weights @ e
        half = e.shape[-1] // 2
        return prod[..., :half] + 1j * prod[..., half:]

    def _gradient(self, x, e, y, w, binv, v, lphi, rho, s, c, sa, delta, s2) -> np.ndarray:
        m, k = self.basis.m, self.basis.k
        d = np.diagonal(binv, axis1=1, axis2=2)
        dgg, drr = d[:, :m], d[:, m:]
        dgr = np.diagonal(binv[:, :m, m:], axis1=1, axis2=2)
        vg, vr = v[:, :m], v[:, m:]
        out = np.empty((len(x), 4))
        gp = 1 - 2 * (np.pi * self.basis.freq[None, :] * lphi[:, None]) ** 2
        out[:, 0] = 0.5 * (gp * (2 - dgg - drr - vg ** 2 - vr ** 2)).sum(axis=1)
        drho = rho * 2 * self.dlam2 / np.exp(2 * x[:, 1])
        tr_om = -2 * rho / s ** 2 * m
        tr_bom = 2 / s * dgr.sum(1) - 2 * rho / s ** 2 * drr.sum(1)
        v_om = 2 / s * (vg * vr).sum(1) - 2 * rho / s ** 2 * (vr ** 2).sum(1)
        out[:, 1] = 0.5 * drho * (tr_om - tr_bom - v_om)
        out[:, 2] = 0.5 * (2 * m - d.sum(axis=1) - (v * v).sum(axis=1))
        a2 = self.basis.gram(s2)
        tr_sinv = w.sum(axis=(1, 2)) - (binv * self._whiten(a2, sa, rho, s, c)).sum(axis=(1, 2))
        sc = np.sqrt(c)[:, None]
        mw = np.stack([sc * sa * vg, sc * sa * (rho[:, None] * vg + s[:, None] * vr)], axis=1)
        half = e.shape[-1] // 2
        f = (e[..., :k + 1] @ mw[..., :k + 1, None])[..., 0] \
            + (e[..., half + 1:half + k + 1] @ mw[..., k + 1:, None])[..., 0]
        alpha = w * (y - f)
        out[:, 3] = 0.5 * delta * (tr_sinv - (alpha ** 2).sum(axis=(1, 2)))
        return out

    def predict(self, x: np.ndarray, phases: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and sigma of the latent curve (b, 2, len(phases)), mag."""
        _, _, st = self.evaluate(x, grad=True, state=True)
        psi = self.basis.design(phases)                        # (P, M)
        sc, sa, rho, s = np.sqrt(st["c"])[:, None], st["sa"], st["rho"], st["s"]
        v, m = st["v"], self.basis.m
        vg, vr = v[:, :m], v[:, m:]
        mean_g = (sc * sa * vg) @ psi.T
        mean_r = (sc * sa * (rho[:, None] * vg + s[:, None] * vr)) @ psi.T
        h = sc[:, :, None] * sa[:, None, :] * psi[None]          # (b, P, M)
        zero = np.zeros_like(h)
        hg = np.concatenate([h, zero], axis=2)
        hr = np.concatenate([rho[:, None, None] * h, s[:, None, None] * h], axis=2)
        var = [np.einsum("bpi,bij,bpj->bp", hh, st["binv"], hh) for hh in (hg, hr)]
        return (np.stack([mean_g, mean_r], axis=1),
                np.sqrt(np.clip(np.stack(var, axis=1), 0, None)))
