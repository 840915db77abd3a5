"""Exact inner problems of robust MDPs: σ_U(z) = min_{p ∈ U} p·z (theory notes dp_robust.md §3).

Every (s,a)-rectangular oracle works on the rows of a CSR kernel (support = nominal support)
with one value vector z shared by all rows, so sorting z is done once per Bellman update.
Each returns the value and, on request, the worst-case distribution p* (a dense row):

* L1 ball over Δ_S, ‖p − p̄‖₁ ≤ ξ: move ε = min(ξ/2, 1 − p̄_{i₀}) to i₀ = argmin z, taken
  from the largest z first (Iyengar 2005; Petrik & Subramanian 2014; Ho, Petrik, Wiesemann
  arXiv 2006.09484), O(S log S) once plus O(support) per row.
* KL ball (support of p̄): σ = max_{λ≥0} −λ log E_p̄ e^{−z/λ} − λρ (Nilim & El Ghaoui 2005).
  The optimal λ solves KL(q_λ‖p̄) = ρ with q_λ ∝ p̄ e^{−z/λ}; safeguarded Newton in log λ
  (d KL/d log λ = −Var_{q_λ}(z)/λ²). If p̄(argmin) ≥ e^{−ρ}, σ = min_supp z.
* χ² ball Σ(p − p̄)²/p̄ ≤ ρ: σ = max_η η − √((1+ρ) E_p̄ (η − z)₊²) (Duchi–Namkoong dual);
  exact by scanning the sorted support, η* = μ_k + √(S2_k/(P_k((1+ρ)P_k − 1))) on the
  segment where the derivative changes sign; p* = p̄ (η* − z)₊ / E_p̄(η* − z)₊.
* Wasserstein, cost d: σ = max_{λ≥0} −λε + Σ_i p̄_i min_j (z_j + λ d_ij) (Gao & Kleywegt
  2016); bisection on λ for the sign change of the supergradient, then the primal plan as
  the mix of the two bracketing argmin plans that spends the budget exactly.
* Penalties (RRMDP, §3.4), min_{p ∈ Δ} p·z + λD(p‖p̄): KL: −λ log E_p̄ e^{−z/λ};
  TV (½‖·‖₁): E_p̄ min(z, min_S z + λ); χ²: p = p̄ (1 + (η − z)/(2λ))₊ with Σp = 1.

L_p sets of Kumar et al. (arXiv 2301.13642) are closed forms in the span seminorm
κ_q(z) = min_ω ‖z − ω1‖_q (``kappa``), and the s-rectangular L_p Bellman update is the
water-filling ``lp_water_filling``. The s-rectangular L1 update (``s_rectangular_l1``)
solves min_{ξ ≥ 0, Σξ_a ≤ κ} max_a q_a(ξ_a) exactly on the piecewise-linear q_a (Ho, Petrik,
Wiesemann 2006.09484) and returns the optimal randomized policy from the KKT conditions.
"""

import math

import numpy as np
import scipy.sparse as sp
from numba import njit

from nashlab.games._validation import as_float_array, check_distribution, check_scalar


# -- (s,a)-rectangular row kernels ---------------------------------------------------------
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
def _l1_rows(indptr, indices, data, z, radii, want_p, P_out):
    n = indptr.size - 1
    order_desc = np.argsort(-z)
    i0 = order_desc[-1]
    buf = np.zeros(z.size)
    out = np.empty(n)
    for row in range(n):
        lo, hi = indptr[row], indptr[row + 1]
        out[row] = _l1_row(z, order_desc, i0, indices[lo:hi], data[lo:hi], radii[row], buf,
                           P_out[row] if want_p else buf, want_p)
    return out


@njit(cache=True)
def _tilted(zs, w, lam):
    """q_λ ∝ w e^{−zs/λ} (min zs = 0): returns log Z, E_q zs, Var_q zs, KL(q_λ‖w)."""
    Z = 0.0
    m1 = 0.0
    m2 = 0.0
    for t in range(zs.size):
        e = w[t] * math.exp(-zs[t] / lam)
        Z += e
        m1 += e * zs[t]
        m2 += e * zs[t] * zs[t]
    mean = m1 / Z
    var = max(m2 / Z - mean * mean, 0.0)
    log_z = math.log(Z)
    return log_z, mean, var, -mean / lam - log_z


@njit(cache=True)
def _kl_row(z, idx, w, rho, p_out, want_p):
    k = idx.size
    zv = z[idx]
    zmin = zv.min()
    zs = zv - zmin
    base = 0.0
    p_min = 0.0
    for t in range(k):
        base += w[t] * zv[t]
        if zs[t] <= 0.0:
            p_min += w[t]
    if rho <= 0.0 or p_min >= 1.0:
        if want_p:
            for t in range(k):
                p_out[idx[t]] = w[t]
        return base
    if -math.log(p_min) <= rho:  # all mass on the minimisers is feasible
        if want_p:
            for t in range(k):
                p_out[idx[t]] = w[t] / p_min if zs[t] <= 0.0 else 0.0
        return zmin
    span = zs.max()
    lo = span
    hi = span
    while _tilted(zs, w, hi)[3] > rho:
        hi *= 2.0
    while _tilted(zs, w, lo)[3] < rho:
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
            p_out[idx[t]] = w[t] * math.exp(-zs[t] / lam - log_z)
    return zmin - lam * log_z - lam * rho


@njit(cache=True)
def _kl_rows(indptr, indices, data, z, radii, want_p, P_out):
    n = indptr.size - 1
    out = np.empty(n)
    dummy = np.empty(0)
    for row in range(n):
        lo, hi = indptr[row], indptr[row + 1]
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
    for t in range(k):
        j = order[t]
        P_new = P + w[j]
        delta = zv[j] - mu
        mu = mu + (w[j] / P_new) * delta if P_new > 0.0 else mu
        S2 += w[j] * delta * (zv[j] - mu)
        P = P_new
        end = zv[order[t + 1]] if t + 1 < k else math.inf
        if end < math.inf:
            m1 = P * (end - mu)
            m2 = P * (end - mu) ** 2 + S2
            ratio = math.sqrt(P) if m2 <= 0.0 else m1 / math.sqrt(m2)
            if 1.0 - c * ratio > 0.0:
                continue
        if c2 * P - 1.0 <= 0.0:
            eta = end
            m2 = P * (eta - mu) ** 2 + S2
            value = eta - c * math.sqrt(m2)
        else:
            d = math.sqrt(max(S2, 0.0) / (P * (c2 * P - 1.0)))
            eta = min(max(mu + d, zv[j]), end)
            value = mu - d * (c2 * P - 1.0) if mu + d == eta else eta - c * math.sqrt(
                P * (eta - mu) ** 2 + S2)
        break
    if want_p:
        m1 = 0.0
        for t in range(k):
            m1 += w[t] * max(eta - zv[t], 0.0)
        if m1 > 0.0:
            for t in range(k):
                p_out[idx[t]] = w[t] * max(eta - zv[t], 0.0) / m1
        else:  # η* at the minimum: all mass on the minimisers
            pm = 0.0
            for t in range(k):
                pm += w[t] if zv[t] <= eta else 0.0
            for t in range(k):
                p_out[idx[t]] = w[t] / pm if zv[t] <= eta else 0.0
    return value


@njit(cache=True)
def _chi2_rows(indptr, indices, data, z, radii, want_p, P_out):
    n = indptr.size - 1
    out = np.empty(n)
    dummy = np.empty(0)
    for row in range(n):
        lo, hi = indptr[row], indptr[row + 1]
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
        c_hi, o_hi = _transport_plan(z, idx, w, cost, hi, dest_hi)
        c_lo, o_lo = _transport_plan(z, idx, w, cost, lo, dest_lo)
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
def _wasserstein_rows(indptr, indices, data, z, radii, cost, d_pos, want_p, P_out):
    n = indptr.size - 1
    out = np.empty(n)
    dummy = np.empty(0)
    for row in range(n):
        lo, hi = indptr[row], indptr[row + 1]
        out[row] = _wasserstein_row(z, indices[lo:hi], data[lo:hi], radii[row], cost, d_pos,
                                    P_out[row] if want_p else dummy, want_p)
    return out


@njit(cache=True)
def _kl_penalty_rows(indptr, indices, data, z, strengths, want_p, P_out):
    n = indptr.size - 1
    out = np.empty(n)
    for row in range(n):
        lo, hi = indptr[row], indptr[row + 1]
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
def _tv_penalty_rows(indptr, indices, data, z, strengths, want_p, P_out):
    n = indptr.size - 1
    out = np.empty(n)
    i0 = np.argmin(z)
    for row in range(n):
        lo, hi = indptr[row], indptr[row + 1]
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
def _chi2_penalty_rows(indptr, indices, data, z, strengths, want_p, P_out):
    n = indptr.size - 1
    out = np.empty(n)
    for row in range(n):
        lo, hi = indptr[row], indptr[row + 1]
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


def _as_csr(P_flat):
    """CSR of the nominal kernel with explicit zeros removed (the support)."""
    csr = sp.csr_matrix(P_flat, dtype=np.float64, copy=True)
    csr.eliminate_zeros()
    csr.sort_indices()
    return csr


def batch_worst_case(kind, P, z, radii, *, cost=None, want_kernel=False):
    """σ for every row of the nominal kernel ``P`` ((N, S) dense or CSR) at the shared ``z``.

    kind: "l1", "kl", "chi2", "wasserstein", "kl-penalty", "tv-penalty", "chi2-penalty";
    radii: (N,) radii (strengths λ for penalties); cost: (S, S) for "wasserstein".
    Returns (values (N,), worst kernel (N, S) dense or None).
    """
    csr = P if sp.isspmatrix_csr(P) and P.has_sorted_indices else _as_csr(P)
    z = np.ascontiguousarray(z, dtype=np.float64)
    radii = np.ascontiguousarray(np.broadcast_to(radii, (csr.shape[0],)), dtype=np.float64)
    kernel = np.zeros(csr.shape if want_kernel else (1, 1))
    args = (csr.indptr.astype(np.int64), csr.indices.astype(np.int64), csr.data, z, radii)
    if kind == "wasserstein":
        d = np.ascontiguousarray(cost, dtype=np.float64)
        positive = d[d > 0]
        d_pos = float(positive.min()) if positive.size else 1.0
        values = _wasserstein_rows(*args, d, d_pos, want_kernel, kernel)
    else:
        values = _ROW_KERNELS[kind](*args, want_kernel, kernel)
    return values, (kernel if want_kernel else None)


_ROW_KERNELS = {
    "l1": _l1_rows,
    "kl": _kl_rows,
    "chi2": _chi2_rows,
    "kl-penalty": _kl_penalty_rows,
    "tv-penalty": _tv_penalty_rows,
    "chi2-penalty": _chi2_penalty_rows,
}


# -- validated single-row oracles -------------------------------------------------------------
def _row_inputs(p_bar, z, radius, radius_name="radius", positive=False):
    p_bar = check_distribution(p_bar, "p_bar")
    if p_bar.ndim != 1:
        raise ValueError(f"p_bar must be a vector, got shape {p_bar.shape}")
    z = as_float_array(z, "z", ndim=1)
    if z.shape != p_bar.shape:
        raise ValueError(f"z must have the shape of p_bar {p_bar.shape}, got {z.shape}")
    radius = check_scalar(radius, radius_name, low=0.0, low_open=positive)
    return p_bar, z, radius


def _single(kind, p_bar, z, radius, **kw):
    values, kernel = batch_worst_case(kind, p_bar[None, :], z, np.array([radius]),
                                      want_kernel=True, **kw)
    return float(values[0]), kernel[0]


def l1_worst_case(p_bar, z, radius):
    """(min_{p ∈ Δ, ‖p − p̄‖₁ ≤ ξ} p·z, p*) by sorting (Iyengar 2005; Ho+ 2006.09484)."""
    p_bar, z, radius = _row_inputs(p_bar, z, radius)
    return _single("l1", p_bar, z, radius)


def kl_worst_case(p_bar, z, radius):
    """(min_{KL(p‖p̄) ≤ ρ} p·z, p*) by the 1-D dual (Nilim & El Ghaoui 2005)."""
    p_bar, z, radius = _row_inputs(p_bar, z, radius)
    return _single("kl", p_bar, z, radius)


def chi2_worst_case(p_bar, z, radius):
    """(min_{Σ(p − p̄)²/p̄ ≤ ρ} p·z, p*) by the exact sorted scan of the χ² dual."""
    p_bar, z, radius = _row_inputs(p_bar, z, radius)
    return _single("chi2", p_bar, z, radius)


def wasserstein_worst_case(p_bar, z, radius, cost):
    """(min_{W_d(p, p̄) ≤ ε} p·z, p*) by the 1-D dual and the bracketing primal plans."""
    p_bar, z, radius = _row_inputs(p_bar, z, radius)
    cost = as_float_array(cost, "cost", ndim=2)
    if cost.shape != (z.size, z.size) or cost.min() < 0 or np.any(np.diag(cost) != 0):
        raise ValueError(f"cost must be ({z.size}, {z.size}), non-negative, zero diagonal")
    return _single("wasserstein", p_bar, z, radius, cost=cost)


def kl_penalty_worst_case(p_bar, z, strength):
    """(min_{p ∈ Δ} p·z + λ KL(p‖p̄), p*) = (−λ log E_p̄ e^{−z/λ}, p̄ e^{−z/λ}/Z)."""
    p_bar, z, strength = _row_inputs(p_bar, z, strength, "strength", positive=True)
    return _single("kl-penalty", p_bar, z, strength)


def tv_penalty_worst_case(p_bar, z, strength):
    """(min_{p ∈ Δ} p·z + (λ/2)‖p − p̄‖₁, p*) = E_p̄ min(z, min z + λ)."""
    p_bar, z, strength = _row_inputs(p_bar, z, strength, "strength", positive=True)
    return _single("tv-penalty", p_bar, z, strength)


def chi2_penalty_worst_case(p_bar, z, strength):
    """(min_{p ∈ Δ} p·z + λ Σ(p − p̄)²/p̄, p*), p* = p̄ (1 + (η − z)/(2λ))₊."""
    p_bar, z, strength = _row_inputs(p_bar, z, strength, "strength", positive=True)
    return _single("chi2-penalty", p_bar, z, strength)


# -- L_p sets of Kumar, Derman, Geist, Mannor (arXiv 2301.13642) -------------------------------
def kappa(z, q):
    """(κ_q(z), g): κ_q(z) = min_ω ‖z − ω1‖_q, and g with Σg = 0, ‖g‖_p ≤ 1, g·z = κ_q(z).

    q = ∞: span/2; q = 2: ‖z − mean z‖₂; q = 1: Σ|z − median z|; other q by bisection on
    Σ sign(z − ω)|z − ω|^{q−1} = 0."""
    z = np.asarray(z, dtype=np.float64)
    n = z.size
    g = np.zeros(n)
    if math.isinf(q):
        hi, lo = int(np.argmax(z)), int(np.argmin(z))
        g[hi] += 0.5
        g[lo] -= 0.5
        return 0.5 * float(z[hi] - z[lo]), g
    if q == 1.0:
        order = np.argsort(z)
        g[order[: n // 2]] = -1.0
        g[order[n - n // 2:]] = 1.0
        return float(g @ z), g
    if q == 2.0:
        dev = z - z.mean()
        norm = float(np.linalg.norm(dev))
        return norm, (dev / norm if norm > 0 else g)
    lo, hi = float(z.min()), float(z.max())
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi:
            break
        d = z - mid
        if np.sum(np.sign(d) * np.abs(d) ** (q - 1)) > 0:
            lo = mid
        else:
            hi = mid
    d = z - 0.5 * (lo + hi)
    norm = float(np.sum(np.abs(d) ** q) ** (1 / q))
    if norm == 0:
        return 0.0, g
    g = np.sign(d) * (np.abs(d) / norm) ** (q - 1)
    g -= g.mean()  # Σg = 0 up to the bisection error
    return norm, g


def lp_worst_case(p_bar, z, radius, p):
    """(σ, p̄ + u*, exact) for the set {p̄ + u : Σu = 0, ‖u‖_p ≤ β} (no u ≥ −p̄).

    σ = p̄·z − β κ_q(z), u* = −β g. ``exact`` is p̄ + u* ≥ 0: only then is σ also the robust
    value of the probability-constrained ball; otherwise σ is a lower bound of it."""
    p_bar, z, radius = _row_inputs(p_bar, z, radius)
    p = math.inf if p == math.inf else check_scalar(p, "p", low=1.0)
    q = math.inf if p == 1.0 else (1.0 if math.isinf(p) else p / (p - 1.0))
    k, g = kappa(z, q)
    worst = p_bar - radius * g
    return float(p_bar @ z - radius * k), worst, bool(worst.min() >= -1e-15)


def lp_water_filling(q, sigma, p):
    """max_{π ∈ Δ_A} π·q − σ‖π‖_{p*} (1/p + 1/p* = 1), per row of ``q`` (..., A).

    The value is the x* with ‖(q − x*)₊‖_p = σ and π ∝ (q − x*)₊^{p−1} (Kumar et al.,
    arXiv 2301.13642; derived in dp_robust.md §3.2). p = ∞: max q − σ, greedy; p = 1:
    uniform over the top-k; otherwise bisection on x to machine precision."""
    q = np.asarray(q, dtype=np.float64)
    sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), q.shape[:-1])
    top = q.max(axis=-1)
    if math.isinf(p):
        policy = np.zeros_like(q)
        np.put_along_axis(policy, np.argmax(q, axis=-1)[..., None], 1.0, axis=-1)
        return top - sigma, policy
    if p == 1.0:
        qs = -np.sort(-q, axis=-1)
        k = np.arange(1, q.shape[-1] + 1)
        x = (np.cumsum(qs, axis=-1) - sigma[..., None]) / k
        # x_k = (top-k sum − σ)/k is the value of the uniform policy on the top k; take the best
        x_star = x.max(axis=-1)
        active = q > x_star[..., None]
        active |= ~active.any(axis=-1, keepdims=True) & (q == top[..., None])
        return x_star, active / active.sum(axis=-1, keepdims=True)
    lo, hi = top - sigma, top.copy()
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        above = np.sum(np.maximum(q - mid[..., None], 0.0) ** p, axis=-1) > sigma ** p
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    x_star = 0.5 * (lo + hi)
    weights = np.maximum(q - x_star[..., None], 0.0) ** (p - 1)
    zero = weights.sum(axis=-1, keepdims=True) <= 0
    weights = np.where(zero, (q == top[..., None]).astype(float), weights)
    return x_star, weights / weights.sum(axis=-1, keepdims=True)


# -- s-rectangular L1 (Ho, Petrik, Wiesemann, arXiv 2006.09484) -------------------------------
@njit(cache=True)
def _l1_knots(z, i0, idx, w, r, gamma, xi_out, q_out):
    """Knots of q(ξ) = r + γ min_{‖p − p̄‖₁ ≤ ξ} p·z: convex, piecewise linear, decreasing
    down to r + γ min z. Returns the index of the last knot."""
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
        m += 1
        xi_out[m] = 2.0 * eps
        q_out[m] = r + gamma * sigma
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
                evaluate):
    """One state: optimal (value, π, ξ) if not ``evaluate``, else (T^π value, π, ξ)."""
    kmax = 1
    for a in range(A):
        kmax = max(kmax, indptr[first_row + a + 1] - indptr[first_row + a] + 1)
    xi = np.zeros((A, kmax + 1))
    qk = np.zeros((A, kmax + 1))
    m = np.zeros(A, dtype=np.int64)
    for a in range(A):
        lo, hi = indptr[first_row + a], indptr[first_row + a + 1]
        m[a] = _l1_knots(z, i0, indices[lo:hi], data[lo:hi], r[a], gamma, xi[a], qk[a])
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
    policy /= policy.sum()
    return u, policy, alloc


@njit(cache=True)
def _s_l1_states(indptr, indices, data, z, r, gamma, kappas, policy_in, evaluate):
    S, A = r.shape
    i0 = np.argmin(z)
    values = np.empty(S)
    policy = np.empty((S, A))
    alloc = np.empty((S, A))
    for s in range(S):
        values[s], policy[s], alloc[s] = _s_l1_state(z, i0, indptr, indices, data, s * A, A,
                                                     r[s], gamma, kappas[s], policy_in[s],
                                                     evaluate)
    return values, policy, alloc


def s_rectangular_l1_backup(P, z, r, gamma, kappas, policy=None):
    """s-rectangular L1 Bellman update at all states (Ho, Petrik, Wiesemann 2006.09484):

    T v(s) = max_{π ∈ Δ_A} min_{Σ_a‖p_a − p̄_a‖₁ ≤ κ_s} Σ_a π_a (r_a + γ p_a·z)
           = min_{ξ ≥ 0, Σξ_a ≤ κ_s} max_a q_a(ξ_a).

    P: nominal (S·A, S) (dense or CSR), z: (S,), r: (S, A). With ``policy`` (S, A), returns
    T^π v instead. Returns (values (S,), policy (S, A), budgets ξ (S, A)); the worst kernel
    is the L1 worst case of each (s, a) at its budget ξ_{s,a}."""
    csr = P if sp.isspmatrix_csr(P) and P.has_sorted_indices else _as_csr(P)
    r = np.ascontiguousarray(r, dtype=np.float64)
    evaluate = policy is not None
    pol = np.ascontiguousarray(policy if evaluate else np.zeros_like(r), dtype=np.float64)
    return _s_l1_states(csr.indptr.astype(np.int64), csr.indices.astype(np.int64), csr.data,
                        np.ascontiguousarray(z, dtype=np.float64), r, float(gamma),
                        np.ascontiguousarray(kappas, dtype=np.float64), pol, evaluate)


def s_rectangular_l1(p_bar, z, r, gamma, kappa_s):
    """One state: (T v(s), optimal randomized π_s, budgets ξ_a); p_bar (A, S), r (A,)."""
    p_bar = check_distribution(p_bar, "p_bar")
    if p_bar.ndim != 2:
        raise ValueError(f"p_bar must have shape (A, S), got {p_bar.shape}")
    z = as_float_array(z, "z", ndim=1)
    r = as_float_array(r, "r", ndim=1)
    if z.size != p_bar.shape[1] or r.size != p_bar.shape[0]:
        raise ValueError("z must have length S and r length A for p_bar of shape (A, S)")
    gamma = check_scalar(gamma, "gamma", low=0.0, high=1.0)
    kappa_s = check_scalar(kappa_s, "kappa", low=0.0)
    values, policy, alloc = s_rectangular_l1_backup(p_bar, z, r[None], gamma, [kappa_s])
    return float(values[0]), policy[0], alloc[0]
