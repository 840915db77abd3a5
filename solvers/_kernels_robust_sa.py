"""Compiled worst-case oracles of (s,a)-rectangular uncertainty sets (private; the public
entry is ``nashlab.solvers.robust_oracles.batch_worst_case``, which imports this module on
first use).

Each ``*_rows`` kernel computes σ(row) = min_{p ∈ U_row} p·z for every row of a CSR nominal
kernel (support = nominal support) at one shared value vector z, and, with ``want_p``, writes
the worst-case distribution p* of each row into ``P_out`` (dense (N, S)). An empty row (an
infeasible state-action pair, ``MDP.feasible``) has σ = 0 and a zero kernel row. The mathematics of
each set (L1 sorting, KL and χ² duals, Wasserstein transport, RRMDP penalties) is described
in ``nashlab.solvers.robust_oracles``.
"""

import math

import numpy as np
from numba import njit


@njit(cache=True)
def _l1_row(z, order_desc, i0, idx, w, xi, buf, p_out, want_p):
    """min_{‖p − p̄‖₁ ≤ ξ, p ∈ Δ} p·z for one row (support idx, masses w)."""
    k = idx.size
    base = 0.0
    w_i0 = 0.0
    for t in range(k):
        base += w[t] * z[idx[t]]
        if idx[t] == i0:
            w_i0 = w[t]
        if want_p:
            p_out[idx[t]] += w[t]
    eps = min(0.5 * xi, 1.0 - w_i0)
    if eps <= 0.0:
        return base
    value = base + eps * z[i0]
    if want_p:
        p_out[i0] += eps
    remaining = eps
    S = z.size
    if 4 * k * (1 + math.log2(k + 1)) < S:  # short row: sort its support
        order = np.argsort(-z[idx])
        for t in order:
            j = idx[t]
            if j == i0:
                continue
            take = min(w[t], remaining)
            value -= take * z[j]
            if want_p:
                p_out[j] -= take
            remaining -= take
            if remaining <= 0.0:
                break
    else:  # dense row: walk the global order until ε is removed
        for t in range(k):
            buf[idx[t]] = w[t]
        for j in order_desc:
            if remaining <= 0.0:
                break
            if j == i0 or buf[j] == 0.0:
                continue
            take = min(buf[j], remaining)
            value -= take * z[j]
            if want_p:
                p_out[j] -= take
            remaining -= take
        for t in range(k):
            buf[idx[t]] = 0.0
    return value


@njit(cache=True)
def _l1_rows(indptr, indices, data, z, radii, want_p, P_out, nominal):
    """The L1 rows; the receiving state i₀ is argmin_S z, or argmin over the row's support
    (``nominal``: the support-restricted set of craam2, where p stays on supp p̄). An
    empty row (an infeasible pair) has value 0 and no kernel."""
    n = indptr.size - 1
    order_desc = np.argsort(-z)
    i0 = order_desc[-1]
    buf = np.zeros(z.size)
    out = np.empty(n)
    for row in range(n):
        lo, hi = indptr[row], indptr[row + 1]
        if hi == lo:
            out[row] = 0.0
            continue
        idx = indices[lo:hi]
        i_row = idx[np.argmin(z[idx])] if nominal else i0
        out[row] = _l1_row(z, order_desc, i_row, idx, data[lo:hi], radii[row], buf,
                           P_out[row] if want_p else buf, want_p)
    return out


@njit(cache=True)
def l1_rows(indptr, indices, data, z, radii, want_p, P_out):
    return _l1_rows(indptr, indices, data, z, radii, want_p, P_out, False)


@njit(cache=True)
def l1_nominal_rows(indptr, indices, data, z, radii, want_p, P_out):
    return _l1_rows(indptr, indices, data, z, radii, want_p, P_out, True)


@njit(cache=True)
def _tilted(zs, w, lam):
    """q_λ ∝ w e^{−zs/λ} (min zs = 0): returns log Z, E_q zs, Var_q zs, KL(q_λ‖w̄) with
    w̄ = w/Σw and Z = E_w̄ e^{−zs/λ}.

    log Z is log1p(E_w̄ expm1(−zs/λ)) where Z ≥ 1/2 (log Z/Σw below): log of a sum near 1 has an absolute error ε, which
    for a small radius ρ (λ large, KL ~ ρ) is all of KL = −E_q zs/λ − log Z (the worst case
    was then off by ~ε·σ/√ρ, 1e-8 at ρ = 1e-16); computed from expm1 both terms keep their
    relative precision and the difference is exact to ~ε·E_q zs."""
    total = 0.0
    zm1 = 0.0
    Z = 0.0
    m1 = 0.0
    m2 = 0.0
    for t in range(zs.size):
        x = -zs[t] / lam
        e = w[t] * math.exp(x)
        total += w[t]
        zm1 += w[t] * math.expm1(x)
        Z += e
        m1 += e * zs[t]
        m2 += e * zs[t] * zs[t]
    mean = m1 / Z
    var = max(m2 / Z - mean * mean, 0.0)
    x = zm1 / total  # Z/Σw − 1: log1p where Z ≈ Σw, log where Z ≪ Σw (x → −1 cancels)
    log_z = math.log1p(x) if x > -0.5 else math.log(Z / total)
    return log_z, mean, var, -mean / lam - log_z


@njit(cache=True)
def _kl_row(z, idx, w, rho, p_out, want_p):
    k = idx.size
    zv = z[idx]
    zmin = zv.min()
    zs = zv - zmin
    base = 0.0
    p_min = 0.0
    total = 0.0
    for t in range(k):
        base += w[t] * zv[t]
        total += w[t]
        if zs[t] <= 0.0:
            p_min += w[t]
    p_min /= total
    if rho <= 0.0 or p_min >= 1.0:
        if want_p:
            for t in range(k):
                p_out[idx[t]] = w[t]
        return base
    if -math.log(p_min) <= rho:  # all mass on the minimisers is feasible
        if want_p:
            for t in range(k):
                p_out[idx[t]] = w[t] / (p_min * total) if zs[t] <= 0.0 else 0.0
        return zmin
    span = zs.max()
    lo = span
    hi = span
    for _ in range(2100):  # KL(q_λ‖w̄) ↓ 0 as λ → ∞ and ↑ −log p_min > ρ as λ → 0
        if _tilted(zs, w, hi)[3] <= rho or hi > 1e300:
            break
        hi *= 2.0
    for _ in range(2100):
        if _tilted(zs, w, lo)[3] >= rho or lo < 1e-300:
            break
        lo *= 0.5
    lam = math.sqrt(lo * hi)
    for _ in range(200):
        log_z, mean, var, kl = _tilted(zs, w, lam)
        f = kl - rho
        if f > 0.0:
            lo = lam
        else:
            hi = lam
        if f == 0.0 or hi <= lo * (1.0 + 4e-16):
            break
        t = math.log(lam)
        t_new = t + f * lam * lam / var if var > 0.0 else math.inf
        if not (math.log(lo) < t_new < math.log(hi)):
            t_new = 0.5 * (math.log(lo) + math.log(hi))
        elif abs(t_new - t) <= 1e-13:  # Newton converged; σ's error is O(Δt²)
            lam = math.exp(t_new)
            break
        lam = math.exp(t_new)
    log_z, mean, var, kl = _tilted(zs, w, lam)
    if want_p:
        for t in range(k):
            p_out[idx[t]] = w[t] / total * math.exp(-zs[t] / lam - log_z)
    return zmin - lam * log_z - lam * rho


@njit(cache=True)
def kl_rows(indptr, indices, data, z, radii, want_p, P_out):
    n = indptr.size - 1
    out = np.empty(n)
    dummy = np.empty(0)
    for row in range(n):
        lo, hi = indptr[row], indptr[row + 1]
        if hi == lo:
            out[row] = 0.0
            continue
        out[row] = _kl_row(z, indices[lo:hi], data[lo:hi], radii[row],
                           P_out[row] if want_p else dummy, want_p)
    return out


@njit(cache=True)
def _chi2_row(z, idx, w, rho, p_out, want_p):
    k = idx.size
    zv = z[idx]
    order = np.argsort(zv)
    c2 = 1.0 + rho
    c = math.sqrt(c2)
    P = 0.0
    mu = 0.0
    S2 = 0.0
    eta = zv[order[0]]
    value = eta
    centre = eta  # η* = centre + offset: η* − z is taken as (centre − z) + offset, so that
    offset = 0.0  # the small d = η* − μ (mass ~1e-18 below μ) keeps its digits in p*
    for t in range(k):
        j = order[t]
        P_new = P + w[j]
        delta = zv[j] - mu
        mu = mu + (w[j] / P_new) * delta if P_new > 0.0 else mu
        # S2 = Σ p̄ (z − μ)² by S2 += (P·w/P_new)·δ², not Welford's w·δ·(z − μ_new): where
        # w ≫ P (a mass 1e-18 before a mass ~1) μ_new rounds to z and w·δ·(z − μ_new) to 0,
        # losing S2 and with it η* (the worst case then put all mass on the tiny entry)
        S2 += (P * w[j] / P_new) * delta * delta if P_new > 0.0 else 0.0
        P = P_new
        end = zv[order[t + 1]] if t + 1 < k else math.inf
        if end < math.inf:
            m1 = P * (end - mu)
            m2 = P * (end - mu) ** 2 + S2
            ratio = math.sqrt(P) if m2 <= 0.0 else m1 / math.sqrt(m2)
            if 1.0 - c * ratio > 0.0:
                continue
        if c2 * P - 1.0 <= 0.0:
            if end == math.inf:  # (1 + ρ)·1 − 1 = ρ lost to rounding (ρ = 0 or tiny): nominal
                if want_p:
                    for t in range(k):
                        p_out[idx[t]] = w[t] / P
                return mu
            eta = end
            m2 = P * (eta - mu) ** 2 + S2
            value = eta - c * math.sqrt(m2)
        else:
            d = math.sqrt(max(S2, 0.0) / (P * (c2 * P - 1.0)))
            eta = min(max(mu + d, zv[j]), end)
            if mu + d == eta:
                value = mu - d * (c2 * P - 1.0)
                centre, offset = mu, d
            else:
                value = eta - c * math.sqrt(P * (eta - mu) ** 2 + S2)
        break
    if offset == 0.0:
        centre = eta
    if want_p:
        m1 = 0.0
        for t in range(k):
            m1 += w[t] * max((centre - zv[t]) + offset, 0.0)
        if m1 > 0.0:
            for t in range(k):
                p_out[idx[t]] = w[t] * max((centre - zv[t]) + offset, 0.0) / m1
        else:  # η* at the minimum: all mass on the minimisers
            pm = 0.0
            for t in range(k):
                pm += w[t] if zv[t] <= eta else 0.0
            for t in range(k):
                p_out[idx[t]] = w[t] / pm if zv[t] <= eta else 0.0
    return value


@njit(cache=True)
def chi2_rows(indptr, indices, data, z, radii, want_p, P_out):
    n = indptr.size - 1
    out = np.empty(n)
    dummy = np.empty(0)
    for row in range(n):
        lo, hi = indptr[row], indptr[row + 1]
        if hi == lo:
            out[row] = 0.0
            continue
        out[row] = _chi2_row(z, indices[lo:hi], data[lo:hi], radii[row],
                             P_out[row] if want_p else dummy, want_p)
    return out


@njit(cache=True)
def _transport_plan(z, idx, w, cost, lam, dest):
    """argmin_j z_j + λ d_ij per source (ties: cheaper move); returns (cost, objective)."""
    total_cost = 0.0
    objective = 0.0
    for t in range(idx.size):
        i = idx[t]
        best = 0
        best_val = math.inf
        best_d = math.inf
        for j in range(z.size):
            val = z[j] + lam * cost[i, j]
            if val < best_val or (val == best_val and cost[i, j] < best_d):
                best, best_val, best_d = j, val, cost[i, j]
        dest[t] = best
        total_cost += w[t] * cost[i, best]
        objective += w[t] * z[best]
    return total_cost, objective


@njit(cache=True)
def _wasserstein_row(z, idx, w, eps, cost, d_pos, p_out, want_p):
    k = idx.size
    dest_hi = np.empty(k, dtype=np.int64)
    dest_lo = np.empty(k, dtype=np.int64)
    c_hi, o_hi = _transport_plan(z, idx, w, cost, 0.0, dest_hi)
    theta = 0.0  # weight of the lo plan
    o_lo = o_hi
    if c_hi > eps:
        lo = 0.0
        hi = (z.max() - z.min()) / d_pos + 1.0
        for _ in range(2000):
            mid = 0.5 * (lo + hi)
            if not (lo < mid < hi):
                break
            c_mid, o_mid = _transport_plan(z, idx, w, cost, mid, dest_lo)
            if c_mid > eps:
                lo = mid
            else:
                hi = mid
        c_lo, o_lo = _transport_plan(z, idx, w, cost, lo, dest_lo)
        c_hi, o_hi = _transport_plan(z, idx, w, cost, hi, dest_hi)
        theta = (eps - c_hi) / (c_lo - c_hi) if c_lo > c_hi else 0.0
    if want_p:
        for t in range(k):
            p_out[dest_hi[t]] += (1.0 - theta) * w[t]
            if theta > 0.0:
                p_out[dest_lo[t]] += theta * w[t]
    return theta * o_lo + (1.0 - theta) * o_hi


@njit(cache=True)
def wasserstein_rows(indptr, indices, data, z, radii, cost, d_pos, want_p, P_out):
    n = indptr.size - 1
    out = np.empty(n)
    dummy = np.empty(0)
    for row in range(n):
        lo, hi = indptr[row], indptr[row + 1]
        if hi == lo:
            out[row] = 0.0
            continue
        out[row] = _wasserstein_row(z, indices[lo:hi], data[lo:hi], radii[row], cost, d_pos,
                                    P_out[row] if want_p else dummy, want_p)
    return out


@njit(cache=True)
def kl_penalty_rows(indptr, indices, data, z, strengths, want_p, P_out):
    n = indptr.size - 1
    out = np.empty(n)
    for row in range(n):
        lo, hi = indptr[row], indptr[row + 1]
        if hi == lo:
            out[row] = 0.0
            continue
        idx, w, lam = indices[lo:hi], data[lo:hi], strengths[row]
        zv = z[idx]
        zmin = zv.min()
        log_z = _tilted(zv - zmin, w, lam)[0]
        out[row] = zmin - lam * log_z
        if want_p:
            for t in range(idx.size):
                P_out[row, idx[t]] = w[t] * math.exp(-(zv[t] - zmin) / lam - log_z)
    return out


@njit(cache=True)
def tv_penalty_rows(indptr, indices, data, z, strengths, want_p, P_out):
    n = indptr.size - 1
    out = np.empty(n)
    i0 = np.argmin(z)
    for row in range(n):
        lo, hi = indptr[row], indptr[row + 1]
        if hi == lo:
            out[row] = 0.0
            continue
        cap = z[i0] + strengths[row]
        value = 0.0
        for t in range(lo, hi):
            j = indices[t]
            moved = z[j] > cap
            value += data[t] * (cap if moved else z[j])
            if want_p:
                P_out[row, i0 if moved else j] += data[t]
        out[row] = value
    return out


@njit(cache=True)
def chi2_penalty_rows(indptr, indices, data, z, strengths, want_p, P_out):
    n = indptr.size - 1
    out = np.empty(n)
    for row in range(n):
        lo, hi = indptr[row], indptr[row + 1]
        if hi == lo:
            out[row] = 0.0
            continue
        idx, w, lam = indices[lo:hi], data[lo:hi], strengths[row]
        zv = z[idx] - z[idx].min()
        order = np.argsort(zv)
        P = 0.0
        Mu = 0.0
        eta = 0.0
        for t in range(idx.size):
            j = order[t]
            P += w[j]
            Mu += w[j] * (zv[j] - 2.0 * lam)
            eta = (2.0 * lam + Mu) / P
            if t + 1 == idx.size or eta <= zv[order[t + 1]] - 2.0 * lam:
                break
        value = 0.0
        for t in range(idx.size):
            p = w[t] * max(eta - zv[t] + 2.0 * lam, 0.0) / (2.0 * lam)
            value += p * zv[t] + lam * (p - w[t]) ** 2 / w[t]
            if want_p:
                P_out[row, idx[t]] = p
        out[row] = value + z[idx].min()
    return out


#: kind -> row kernel with the signature (indptr, indices, data, z, radii, want_p, P_out)
#: (the Wasserstein kernel also takes the cost matrix and its least positive entry).
ROW_KERNELS = {
    "l1": l1_rows,
    "l1-nominal": l1_nominal_rows,
    "kl": kl_rows,
    "chi2": chi2_rows,
    "kl-penalty": kl_penalty_rows,
    "tv-penalty": tv_penalty_rows,
    "chi2-penalty": chi2_penalty_rows,
}
