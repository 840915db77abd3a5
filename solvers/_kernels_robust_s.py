"""Compiled s-rectangular L1 Bellman update (private; the public entry is
``nashlab.solvers.robust_oracles.s_rectangular_l1_backup``, which imports this module on
first use).

Ho, Petrik, Wiesemann (arXiv 2006.09484): at each state,
T v(s) = min_{ξ ≥ 0, Σξ_a ≤ κ_s} max_a q_a(ξ_a) with q_a(ξ) = r_a + γ min_{‖p − p̄_a‖₁ ≤ ξ} p·v
convex, piecewise linear and decreasing; solved exactly on the knots of the q_a, with the
optimal randomized policy from the KKT conditions. With ``evaluate`` the kernel computes
T^π v for the given policy instead (nature's budget allocation by weighted slopes). With
``nominal`` every q_a is that of the support-restricted L1 set (mass moves to the argmin of
v over supp p̄_a only: craam2's ``robust_s_l1u``), with the same knot structure.
"""

import math

import numpy as np
from numba import njit


@njit(cache=True)
def _l1_knots(z, i0, idx, w, r, gamma, xi_out, q_out):
    """Knots of q(ξ) = r + γ min_{‖p − p̄‖₁ ≤ ξ} p·z: convex, piecewise linear, decreasing
    down to r + γ min z. Returns the index of the last knot.

    Knots are strictly increasing in ξ and strictly decreasing in q: a mass w so small
    against the budget moved so far that ξ or q does not change in floating point (p̄ with
    entries ~1e-18 next to entries ~1) adds no knot — it is merged into the next one (the
    chord differs from the exact q by that rounding only), the last such mass lowering the
    last knot to the exact floor — so that no segment has a zero width or height (the
    slopes and KKT weights divide by them)."""
    base = 0.0
    for t in range(idx.size):
        base += w[t] * z[idx[t]]
    xi_out[0] = 0.0
    q_out[0] = r + gamma * base
    order = np.argsort(-z[idx])
    m = 0
    eps = 0.0
    sigma = base
    for t in order:
        j = idx[t]
        if z[j] <= z[i0] or w[t] <= 0.0:
            continue
        eps += w[t]
        sigma += w[t] * (z[i0] - z[j])
        x_new = 2.0 * eps
        q_new = r + gamma * sigma
        if x_new > xi_out[m] and q_new < q_out[m]:
            m += 1
            xi_out[m] = x_new
            q_out[m] = q_new
        elif m > 0 and q_new < q_out[m]:  # same ξ (rounding): the lower q of the two
            q_out[m] = q_new
    return m


@njit(cache=True)
def _xi_of_u(xi, q, m, u):
    """Least budget ξ with q(ξ) ≤ u (∞ below the floor)."""
    if u >= q[0]:
        return 0.0
    if u < q[m]:
        return math.inf
    for k in range(m):
        if q[k + 1] <= u:
            return xi[k] + (q[k] - u) * (xi[k + 1] - xi[k]) / (q[k] - q[k + 1])
    return xi[m]


@njit(cache=True)
def _s_l1_state(z, i0, indptr, indices, data, first_row, A, r, gamma, kappa_s, policy_in,
                evaluate, nominal):
    """One state: optimal (value, π, ξ) if not ``evaluate``, else (T^π value, π, ξ).

    ``nominal``: each action's mass goes to the argmin of z over its own support (the
    support-restricted set) instead of i₀ = argmin_S z. An action with an empty row (an
    infeasible pair) is absent: q_a ≡ −∞, π_a = 0, ξ_a = 0."""
    kmax = 1
    for a in range(A):
        kmax = max(kmax, indptr[first_row + a + 1] - indptr[first_row + a] + 1)
    xi = np.zeros((A, kmax + 1))
    qk = np.zeros((A, kmax + 1))
    m = np.zeros(A, dtype=np.int64)
    for a in range(A):
        lo, hi = indptr[first_row + a], indptr[first_row + a + 1]
        if hi == lo:
            qk[a, 0] = -math.inf
            continue
        idx = indices[lo:hi]
        i_row = idx[np.argmin(z[idx])] if nominal else i0
        m[a] = _l1_knots(z, i_row, idx, data[lo:hi], r[a], gamma, xi[a], qk[a])
    alloc = np.zeros(A)
    if evaluate:  # min_{Σξ ≤ κ} Σ π_a q_a(ξ_a): greedy over segments by weighted slope
        n_seg = 0
        for a in range(A):
            n_seg += m[a]
        slopes = np.empty(n_seg)
        seg_a = np.empty(n_seg, dtype=np.int64)
        seg_k = np.empty(n_seg, dtype=np.int64)
        s = 0
        value = 0.0
        for a in range(A):
            if policy_in[a] != 0.0:
                value += policy_in[a] * qk[a, 0]
            for k in range(m[a]):
                slopes[s] = policy_in[a] * (qk[a, k + 1] - qk[a, k]) / (xi[a, k + 1] - xi[a, k])
                seg_a[s] = a
                seg_k[s] = k
                s += 1
        budget = kappa_s
        for s in np.argsort(slopes, kind="mergesort"):
            if budget <= 0.0 or slopes[s] >= 0.0:
                break
            a, k = seg_a[s], seg_k[s]
            take = min(xi[a, k + 1] - xi[a, k], budget)
            value += slopes[s] * take
            alloc[a] += take
            budget -= take
        return value, policy_in.copy(), alloc
    policy = np.zeros(A)
    u_hi = -math.inf
    u_lo = -math.inf
    a_hi = 0
    a_lo = 0
    for a in range(A):
        if qk[a, 0] > u_hi:
            u_hi, a_hi = qk[a, 0], a
        if qk[a, m[a]] > u_lo:
            u_lo, a_lo = qk[a, m[a]], a
    if kappa_s <= 0.0 or u_hi <= u_lo:
        policy[a_hi] = 1.0
        return u_hi, policy, alloc
    h_lo = 0.0
    for a in range(A):
        h_lo += _xi_of_u(xi[a], qk[a], m[a], u_lo)
    if h_lo <= kappa_s:  # every action can be pushed to its floor: deterministic argmax floor
        policy[a_lo] = 1.0
        alloc[a_lo] = _xi_of_u(xi[a_lo], qk[a_lo], m[a_lo], u_lo)
        return u_lo, policy, alloc
    cand = np.empty(1 + A * (kmax + 1))
    cand[0] = u_hi
    n_cand = 1
    for a in range(A):
        for k in range(m[a] + 1):
            if u_lo < qk[a, k] < u_hi:
                cand[n_cand] = qk[a, k]
                n_cand += 1
    b = np.sort(cand[:n_cand])
    left, right = 0, b.size - 1  # smallest index with h(b) ≤ κ (h(u_hi) = 0)
    while left < right:
        mid = (left + right) // 2
        h = 0.0
        for a in range(A):
            h += _xi_of_u(xi[a], qk[a], m[a], b[mid])
        if h <= kappa_s:
            right = mid
        else:
            left = mid + 1
    u1 = b[left]
    u0 = b[left - 1] if left > 0 else u_lo
    h0 = 0.0
    h1 = 0.0
    for a in range(A):
        h0 += _xi_of_u(xi[a], qk[a], m[a], u0)
        h1 += _xi_of_u(xi[a], qk[a], m[a], u1)
    u = u0 + (h0 - kappa_s) * (u1 - u0) / (h0 - h1) if h0 > h1 else u1
    u = min(max(u, u0), u1)  # rounding must not leave the bracket (u1 ≤ u_hi = max_a q_a(0))
    # KKT: π_a ∈ λ·[1/|q_a'(ξ*_a−)|, 1/|q_a'(ξ*_a+)|] where ξ*_a > 0, π_a ∈ λ·[0, 1/|q_a'(0+)|]
    # where q_a(0) = u*, π_a = 0 where q_a(0) < u*; any point of the box works: take the
    # slope of the segment with q_a(ξ_k+1) ≤ u* < q_a(ξ_k) (the first one when q_a(0) = u*).
    for a in range(A):
        alloc[a] = _xi_of_u(xi[a], qk[a], m[a], u)
        if qk[a, 0] < u:
            continue
        for k in range(m[a]):
            if qk[a, k + 1] <= u:
                policy[a] = (xi[a, k + 1] - xi[a, k]) / (qk[a, k] - qk[a, k + 1])
                break
    total = policy.sum()
    if not total > 0.0:  # every KKT weight underflowed: the action whose q(0) is highest
        policy[:] = 0.0
        policy[a_hi] = 1.0
        return u, policy, alloc
    policy /= total
    return u, policy, alloc


@njit(cache=True)
def s_l1_states(indptr, indices, data, z, r, gamma, kappas, policy_in, evaluate, nominal):
    S, A = r.shape
    i0 = np.argmin(z)
    values = np.empty(S)
    policy = np.empty((S, A))
    alloc = np.empty((S, A))
    for s in range(S):
        values[s], policy[s], alloc[s] = _s_l1_state(z, i0, indptr, indices, data, s * A, A,
                                                     r[s], gamma, kappas[s], policy_in[s],
                                                     evaluate, nominal)
    return values, policy, alloc
