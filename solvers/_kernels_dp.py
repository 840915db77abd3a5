"""Compiled Bellman operator for sparse MDPs (private; the public entry is
``nashlab.solvers.dp.bellman_operator``).

(T v)(s) = max_a r(s, a) + γ·Σ_{s'} P(s'|s, a) v(s') with P in CSR form, rows s·A + a: one
pass over the nonzeros, no temporary (S, A) array (QuantEcon-style private kernel).
"""

import numba
import numpy as np


@numba.njit(cache=True, fastmath=False, parallel=True)
def csr_bellman_max(indptr, indices, data, r_flat, gamma, v, n_actions):
    n_states = v.shape[0]
    out = np.empty(n_states)
    for s in numba.prange(n_states):
        best = -np.inf
        for a in range(n_actions):
            row = s * n_actions + a
            acc = 0.0
            for k in range(indptr[row], indptr[row + 1]):
                acc += data[k] * v[indices[k]]
            q = r_flat[row] + gamma * acc
            if q > best:
                best = q
        out[s] = best
    return out
