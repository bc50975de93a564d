"""The small-matrix algebra of the fast path (:mod:`engine.gp.fast`): whitening of the
per-band Gram blocks, inverses of B = I + L^T A L, and the Fisher information.

Everything is batched over light curves (leading axis b) and formed block by block (g and
r, M x M each) with as few passes over memory as possible: for small M those passes, not
the O(M^3) algebra, dominate the time. ``pr`` is the per-curve prior of
:class:`engine.gp.fast._Prior` (outer = C sqrt(a_p a_q), rho, s, gp, drho, delta).
"""
from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

#: Matrices of at least this order are inverted through LAPACK's Cholesky routines one by
#: one (half the flops of numpy's batched LU inverse, which wins below it on call overhead).
CHOLESKY_INVERSE_FROM = 96


def whiten(a: np.ndarray, pr, plus_identity: bool = False) -> np.ndarray:
    """L^T blockdiag(A_g, A_r) L (+ I), L = sqrt(C) kron(chol [[1, rho], [rho, 1]], diag sqrt a)."""
    b, _, m, _ = a.shape
    g, r = a[:, 0] * pr.outer, a[:, 1] * pr.outer
    out = np.empty((b, 2 * m, 2 * m))
    np.multiply(r, pr.col("rho2"), out=out[:, :m, :m])
    out[:, :m, :m] += g
    np.multiply(r, pr.col("rs"), out=out[:, :m, m:])
    out[:, m:, :m] = out[:, :m, m:]          # r is symmetric
    np.multiply(r, pr.col("s2"), out=out[:, m:, m:])
    if plus_identity:
        out[:, np.arange(2 * m), np.arange(2 * m)] += 1.0
    return out


def band_blocks(u: np.ndarray, pr) -> tuple[np.ndarray, np.ndarray]:
    """U folded onto the g and r blocks of a whitened Gram (M x M each).

    For W = _whiten of blocks (G, R): sum(U * W) = sum(U_g * G) + sum(U_r * R), with
    U_g = U_gg and U_r = rho^2 U_gg + rho s (U_gr + U_rg) + s^2 U_rr.
    """
    m = u.shape[1] // 2
    ug = u[:, :m, :m]
    ur = pr.col("rho2") * ug + pr.col("rs") * (u[:, :m, m:] + u[:, m:, :m]) \
        + pr.col("s2") * u[:, m:, m:]
    return ug, ur


def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sum(a * b) per batch row, without the temporary."""
    return np.einsum("bij,bij->b", a, b)


def spd_inverse(bmat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log|B| and B^-1 of symmetric positive-definite matrices (b, n, n)."""
    n = bmat.shape[1]
    if n < CHOLESKY_INVERSE_FROM:
        chol = np.linalg.cholesky(bmat)
        logdet = 2 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
        return logdet, np.linalg.inv(bmat)
    from scipy.linalg import lapack

    inv, logdet = np.empty_like(bmat), np.empty(len(bmat))
    low = np.tril_indices(n, -1)
    for i, m in enumerate(bmat):
        c, info = lapack.dpotrf(m, lower=1, clean=0)
        if info == 0:
            logdet[i] = 2 * np.log(np.diagonal(c)).sum()
            ci, info = lapack.dpotri(c, lower=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"matrix {i} of the batch is not positive definite")
        ci[low[1], low[0]] = ci[low]         # potri fills the lower triangle only
        inv[i] = ci
    return logdet, inv


def spd_solve(bmat: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log|B| and B^-1 u (no inverse: what a likelihood without gradient needs)."""
    chol = np.linalg.cholesky(bmat)
    logdet = 2 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    return logdet, np.linalg.solve(bmat, u[:, :, None])[:, :, 0]


def fisher_information(u: np.ndarray, w2: tuple, w3: tuple, pr,
                       sum_w2: np.ndarray) -> np.ndarray:
    """Fisher information (b, 4, 4) in log(l_phi, l_lam, C, delta).

    For prior parameters, with Omega_i = L^-1 dP_i L^-T and E = L^T Phi^T Sigma^-1 Phi L
    = I - B^-1: F_ij = 1/2 tr(E Omega_i E Omega_j), Omega = I (C), kron(I, diag g) (l_phi),
    drho kron(w, I) (l_lam, w = [[0, 1/s], [1/s, -2 rho/s^2]]). For delta (dSigma = delta I),
    with Y = B^-1 W2 B^-1 = L^T Phi^T Sigma^-2 Phi L: F_d,i = delta/2 tr(Omega_i Y) and
    F_dd = delta^2/2 tr Sigma^-2, tr Sigma^-2 = sum w^2 - 2 tr(B^-1 W3) + tr((B^-1 W2)^2).
    ``w2``, ``w3``: the whitened g and r blocks (C sqrt(a_p a_q) A) of the w^2, w^3 Grams.
    """
    b, n2, _ = u.shape
    m = n2 // 2
    gfull = np.concatenate([pr.gp, pr.gp], axis=1)
    e = -u
    e[:, np.arange(n2), np.arange(n2)] += 1.0
    e2 = e * e
    out = np.empty((b, 4, 4))
    colsum = e2.sum(axis=1)
    out[:, 2, 2] = 0.5 * colsum.sum(1)
    out[:, 0, 2] = 0.5 * (colsum * gfull).sum(1)
    out[:, 0, 0] = 0.5 * np.einsum("bp,bpq,bq->b", gfull, e2, gfull)
    ia, ib = 1 / pr.col("s"), -2 * pr.col("rho") / pr.col("s2")
    xl = np.empty_like(e)      # E Omega_l / drho
    xl[:, :, :m] = ia * e[:, :, m:]
    xl[:, :, m:] = ia * e[:, :, :m] + ib * e[:, :, m:]
    xe = xl * e
    dr = pr.drho
    out[:, 1, 2] = 0.5 * dr * xe.sum(axis=(1, 2))
    out[:, 0, 1] = 0.5 * dr * (xe.sum(axis=2) * gfull).sum(1)
    out[:, 1, 1] = 0.5 * dr ** 2 * np.einsum("bpq,bqp->b", xl, xl)
    # delta: U W2 from the blocks, W2 = [[g2 + rho^2 r2, rho s r2], [rho s r2, s^2 r2]]
    g2, r2 = w2
    vv = pr.col("rho") * u[:, :, :m] + pr.col("s") * u[:, :, m:]
    vr = vv @ r2
    uw2 = np.empty_like(u)
    uw2[:, :, :m] = u[:, :, :m] @ g2 + pr.col("rho") * vr
    uw2[:, :, m:] = pr.col("s") * vr
    dy = np.einsum("bpq,bpq->bp", uw2, u)                       # diag(Y), U symmetric
    tr_gr = np.einsum("bpq,bpq->b", uw2[:, :m, :], u[:, m:, :])  # tr of Y's g-r block
    half_d = 0.5 * pr.delta
    out[:, 0, 3] = half_d * (dy * gfull).sum(1)
    out[:, 1, 3] = half_d * dr * (2 / pr.s * tr_gr - 2 * pr.rho / pr.s ** 2 * dy[:, m:].sum(1))
    out[:, 2, 3] = half_d * dy.sum(1)
    ug, ur = band_blocks(u, pr)
    tr_uw3 = dot(ug, w3[0]) + dot(ur, w3[1])
    tr_s2 = sum_w2 - 2 * tr_uw3 + np.einsum("bpq,bqp->b", uw2, uw2)
    out[:, 3, 3] = half_d * pr.delta * tr_s2
    for i, j in ((0, 2), (1, 2), (0, 1), (0, 3), (1, 3), (2, 3)):
        out[:, j, i] = out[:, i, j]
    return out
