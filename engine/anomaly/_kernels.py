"""Numba kernels: exact evaluation of fitted isolation trees padded to full depth.

Imported only when scoring (numba is a heavy import). Each tree is a complete binary
tree of depth ``D``: internal node ``k`` has children ``2k+1`` (left, ``x <= threshold``)
and ``2k+2`` (right). A leaf of the fitted tree above depth ``D`` becomes a chain of
nodes with threshold ``+inf`` (always left), so every sample takes exactly ``D`` steps
and the traversal needs no data-dependent branches.

Two ideas make it fast (measured here, CPU time per sample and tree: scikit-learn's
``tree.apply`` ~22 ns, a depth-first walk ~24 ns, level-synchronous ~12 ns, with the
top levels as below ~7 ns):

* level-synchronous traversal over a block of samples: one level of one tree for all
  samples, then the next. The steps of different samples are independent, so the CPU
  overlaps them instead of stalling on mispredicted branches;
* the first four levels (15 nodes, the same for every sample) are 15 comparisons of
  contiguous feature rows against constants plus a tree of selects: no indirect loads,
  so the compiler vectorises them (SIMD compares and blends).
"""
from __future__ import annotations

import numba
import numpy as np


def path_sums(x, feat, thr, leaf, depth, out, block):
    """Add each sample's leaf values summed over all trees to ``out``.

    Parameters
    ----------
    x : ndarray (n, f), float32
    feat : ndarray (T, 2**depth - 1), int32; split feature of each internal node
    thr : ndarray (T, 2**depth - 1), float32; go right when ``x > thr``
    leaf : ndarray (T, 2**depth), float64; path length of each leaf
    depth : int
    out : ndarray (n,), float64; accumulated in place
    block : int; samples per parallel task (their features stay in L1/L2 cache)
    """
    kernel = _sums_top4 if depth >= 4 else _sums_levels
    kernel(x, feat, thr, leaf, depth, out, block)


@numba.njit(nogil=True, cache=True, inline="always")
def _descend(xb, f, th, node, levels):
    """``levels`` level-synchronous steps for every sample of the block."""
    for _ in range(levels):
        for i in range(node.shape[0]):
            k = node[i]
            node[i] = 2 * k + 1 + (xb[f[k], i] > th[k])


@numba.njit(parallel=True, nogil=True, cache=True)
def _sums_levels(x, feat, thr, leaf, depth, out, block):
    n, n_trees, n_internal = x.shape[0], feat.shape[0], feat.shape[1]
    for b in numba.prange((n + block - 1) // block):
        s0, s1 = b * block, min(n, b * block + block)
        xb = x[s0:s1].T.copy()      # feature-major: one feature's values are contiguous
        acc = np.zeros(s1 - s0)
        node = np.zeros(s1 - s0, np.int32)
        for t in range(n_trees):
            node[:] = 0
            _descend(xb, feat[t], thr[t], node, depth)
            for i in range(s1 - s0):
                acc[i] += leaf[t, node[i] - n_internal]
        out[s0:s1] += acc


@numba.njit(parallel=True, nogil=True, cache=True)
def _sums_top4(x, feat, thr, leaf, depth, out, block):
    n, n_trees, n_internal = x.shape[0], feat.shape[0], feat.shape[1]
    for b in numba.prange((n + block - 1) // block):
        s0, s1 = b * block, min(n, b * block + block)
        m = s1 - s0
        xb = x[s0:s1].T.copy()
        acc = np.zeros(m)
        node = np.zeros(m, np.int32)
        for t in range(n_trees):
            f, th = feat[t], thr[t]
            # rows and thresholds of nodes 0..14 as locals, so the loop below is SIMD
            r0, r1, r2, r3, r4 = xb[f[0]], xb[f[1]], xb[f[2]], xb[f[3]], xb[f[4]]
            r5, r6, r7, r8, r9 = xb[f[5]], xb[f[6]], xb[f[7]], xb[f[8]], xb[f[9]]
            r10, r11, r12, r13, r14 = xb[f[10]], xb[f[11]], xb[f[12]], xb[f[13]], xb[f[14]]
            t0, t1, t2, t3, t4, t5, t6, t7 = th[0], th[1], th[2], th[3], th[4], th[5], th[6], th[7]
            t8, t9, t10, t11, t12, t13, t14 = th[8], th[9], th[10], th[11], th[12], th[13], th[14]
            for i in range(m):
                # all 15 comparisons first: selects between ready booleans compile to
                # SIMD blends, whereas a comparison inside a conditional is a branch
                c0, c1, c2 = r0[i] > t0, r1[i] > t1, r2[i] > t2
                c3, c4, c5, c6 = r3[i] > t3, r4[i] > t4, r5[i] > t5, r6[i] > t6
                c7, c8, c9, c10 = r7[i] > t7, r8[i] > t8, r9[i] > t9, r10[i] > t10
                c11, c12, c13, c14 = r11[i] > t11, r12[i] > t12, r13[i] > t13, r14[i] > t14
                b0 = c0                                 # level 0: node 0
                b1 = c2 if b0 else c1                   # level 1: node 1 + b0
                p0 = c4 if b1 else c3                   # level 2: node 3 + 2 b0 + b1
                p1 = c6 if b1 else c5
                b2 = p1 if b0 else p0
                q0 = c8 if b2 else c7                   # level 3: node 7 + 4 b0 + 2 b1 + b2
                q1 = c10 if b2 else c9
                q2 = c12 if b2 else c11
                q3 = c14 if b2 else c13
                u0 = q1 if b1 else q0
                u1 = q3 if b1 else q2
                b3 = u1 if b0 else u0
                node[i] = (15 + 8 * np.int32(b0) + 4 * np.int32(b1) + 2 * np.int32(b2)
                           + np.int32(b3))
            _descend(xb, f, th, node, depth - 4)
            for i in range(m):
                acc[i] += leaf[t, node[i] - n_internal]
        out[s0:s1] += acc
