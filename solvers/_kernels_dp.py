"""Compiled Bellman operators for sparse MDPs (private; the public entry is
``nashlab.solvers.bellman.bellman_operator``).

q(s, a) = r(s, a) + γ·Σ_{s'} P(s'|s, a) v(s') with P in CSR form, rows s·A + a, and

    (T v)(s) = max_a q(s, a)                                   (τ = 0, unregularized)
    (T v)(s) = τ·log Σ_a μ(a|s)·e^{q(s, a)/τ}                  (τ > 0, Ω = τ·KL(·‖μ);
                                                                 log μ = 0: Ω = τ·Σ π log π)

(Geist et al., A Theory of Regularized MDPs, arXiv 1901.11275, §2: T_{*,Ω} v = Ω*(q_v)), in one
pass over the nonzeros with no temporary (S, A) array (QuantEcon-style private kernel). The
log-sum-exp is taken as m + τ·log Σ μ e^{(q − m)/τ} with m = max_a (q + τ log μ), as
``nashlab.games.regularizers`` does: q/τ itself would overflow for a tiny τ (1e-300).
Infeasible pairs have an empty row and r(s, a) = −inf, so that q(s, a) = −inf: never the max,
e^{−inf} = 0. ``csr_gauss_seidel`` is the same backup applied in place, state by state
(Gauss–Seidel VI, Puterman 1994 §6.3.3).
"""

import math

import numba
import numpy as np

from nashlab.solvers import threads

threads.configure()  # numba's threading layer, before its first parallel region


@numba.njit(cache=True, fastmath=False, inline="always")
def _state_backup(s, indptr, indices, data, r_flat, gamma, v, n_actions, tau, log_reference,
                  z, out):
    """out[s] = (T v)(s); z: (n_actions,) scratch."""
    best = -np.inf
    for a in range(n_actions):
        row = s * n_actions + a
        acc = 0.0
        for k in range(indptr[row], indptr[row + 1]):
            acc += data[k] * v[indices[k]]
        q = r_flat[row] + gamma * acc
        if tau > 0.0:
            q = q + tau * log_reference[s, a]
        z[a] = q
        if q > best:
            best = q
    if tau == 0.0:
        out[s] = best
    else:
        total = 0.0
        for a in range(n_actions):
            total += math.exp((z[a] - best) / tau)  # ≤ 0 before the division: no overflow
        out[s] = best + tau * math.log(total)


@numba.njit(cache=True, fastmath=False, parallel=True)
def csr_bellman(indptr, indices, data, r_flat, gamma, v, n_actions, tau, log_reference):
    """T v for the CSR model; tau = 0: max; tau > 0: τ·logsumexp(log μ + q/τ) per state.

    log_reference : (S, A) float64 log μ(a|s) (zeros for the entropy regularizer; unused at
    tau = 0). Index arrays may be unsigned (no negative-index wraparound branch). States in
    parallel; ``csr_bellman_serial`` is the same map state by state (bitwise equal).
    """
    out = np.empty(v.shape[0])
    for s in numba.prange(v.shape[0]):
        z = np.empty(n_actions)
        _state_backup(s, indptr, indices, data, r_flat, gamma, v, n_actions, tau,
                      log_reference, z, out)
    return out


@numba.njit(cache=True, fastmath=False)
def csr_bellman_serial(indptr, indices, data, r_flat, gamma, v, n_actions, tau, log_reference):
    """``csr_bellman`` on one thread (``nashlab.solvers.threads``: below the work threshold)."""
    out = np.empty(v.shape[0])
    z = np.empty(n_actions)  # one scratch row for all states
    for s in range(v.shape[0]):
        _state_backup(s, indptr, indices, data, r_flat, gamma, v, n_actions, tau,
                      log_reference, z, out)
    return out


@numba.njit(cache=True, fastmath=False)
def csr_gauss_seidel(indptr, indices, data, r_flat, gamma, v, n_actions, tau, log_reference):
    """One Gauss–Seidel sweep, in place on ``v`` (returned): v[s] ← (T v)(s) for s = 0, 1, ...,
    each backup reading the values already updated (``_state_backup`` reads the row before
    it writes out[s], so out = v is safe)."""
    z = np.empty(n_actions)
    for s in range(v.shape[0]):
        _state_backup(s, indptr, indices, data, r_flat, gamma, v, n_actions, tau,
                      log_reference, z, v)
    return v
